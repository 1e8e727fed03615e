/**
 * Keep-alive against throttled timers, with fake timers and a scripted transport (no server:
 * the point is what the client does when its own timers fire late, as in a background tab).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createClient, type Transport, type TransportEvents } from '../src/index.ts';

const limits = {
  maxMessageBytes: 65536,
  maxDepth: 32,
  pingIntervalMs: 25_000,
  pingTimeoutMs: 10_000,
  authDeadlineMs: 10_000,
  replayWindow: 100,
  resumeWindowMs: 120_000,
  dedupWindow: 10,
  maxSubscriptions: 10,
  rateLimit: { messagesPerSecond: 100, burst: 100 },
};

/** A transport whose server side is this test: it records what the client sends. */
function scripted(): { transport: Transport; sent: string[]; server: () => TransportEvents; closes: number[] } {
  const sent: string[] = [];
  const closes: number[] = [];
  let events: TransportEvents | undefined;
  const transport: Transport = (handlers) => {
    events = handlers;
    queueMicrotask(() => {
      handlers.onOpen();
      handlers.onMessage(
        JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId: 'S'.repeat(22), protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }),
      );
    });
    return {
      send: (text) => sent.push(text),
      close: (code, reason) => {
        closes.push(code ?? 1000);
        handlers.onClose(code ?? 1000, reason ?? '');
      },
    };
  };
  return { transport, sent, closes, server: () => events as TransportEvents };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('keep-alive with throttled timers', () => {
  it('declares a silent server dead after interval + timeout when its timers run on time', async () => {
    const { transport, closes } = scripted();
    const client = createClient({ transport, reconnectDelayMs: 60_000 });
    await vi.advanceTimersByTimeAsync(10);
    expect(client.state).toBe('open');
    await vi.advanceTimersByTimeAsync(limits.pingIntervalMs + limits.pingTimeoutMs + 1_000);
    expect(closes).toEqual([4408]);
    expect(client.lastClose).toEqual({ code: 4408, reason: 'server silent' });
    client.close();
  });

  it('probes instead of judging when a tick comes late (a throttled tab), and stays when the server answers', async () => {
    const { transport, sent, closes, server } = scripted();
    const client = createClient({ transport });
    await vi.advanceTimersByTimeAsync(10);
    // The tab sleeps: the clock moves a minute while no timer runs; then one late tick fires.
    vi.setSystemTime(Date.now() + 60_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(closes).toEqual([]);
    expect(sent.at(-1)).toBe('{"kind":"ping"}');
    server().onMessage('{"kind":"pong"}');
    await vi.advanceTimersByTimeAsync(limits.pingTimeoutMs + 1_000);
    expect(closes).toEqual([]);
    expect(client.state).toBe('open');
    client.close();
  });

  it('after a late tick, declares the server dead if the probe gets no answer within pingTimeoutMs', async () => {
    const { transport, closes } = scripted();
    const client = createClient({ transport, reconnectDelayMs: 60_000 });
    await vi.advanceTimersByTimeAsync(10);
    vi.setSystemTime(Date.now() + 60_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(closes).toEqual([]);
    await vi.advanceTimersByTimeAsync(limits.pingTimeoutMs + 1_000);
    expect(closes).toEqual([4408]);
    client.close();
  });

  it('answers the server ping at once, in the message handler', async () => {
    const { transport, sent, server } = scripted();
    const client = createClient({ transport });
    await vi.advanceTimersByTimeAsync(10);
    server().onMessage('{"kind":"ping"}');
    expect(sent.at(-1)).toBe('{"kind":"pong"}');
    client.close();
  });
});
