/** What the server reports through its meter, read back from a meter that records every call. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { WelcomeBody } from './envelope.ts';
import type { Meter, MetricLabels } from './meter.ts';
import { createHerald, type Herald, type HeraldOptions } from './server.ts';
import { connectMemory, ManualClock, type MemorySocket } from './testing/index.ts';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) } },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
  topics: {
    'room/{roomId}': { notifications: ['test.Note'], presence: { state: z.object({ status: z.string() }) } },
    'note/{name}': { notifications: ['test.Note'] },
  },
});

/** Counters and histogram observations by `name{label=value,…}`, gauges by name. */
class RecordingMeter implements Meter {
  readonly counts = new Map<string, number>();
  readonly observed = new Map<string, number[]>();
  readonly gauges = new Map<string, () => number>();
  /** Label sets bound per family: each must be bound once. */
  readonly bound: string[] = [];

  private key(name: string, labels: MetricLabels): string {
    const key = `${name}{${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',')}}`;
    expect(this.bound, `${key} bound twice`).not.toContain(key);
    this.bound.push(key);
    return key;
  }

  counter: Meter['counter'] = (definition) => (labels) => {
    const key = this.key(definition.name, labels);
    this.counts.set(key, 0);
    return { add: (value) => this.counts.set(key, (this.counts.get(key) ?? 0) + value) };
  };

  histogram: Meter['histogram'] = (definition) => (labels) => {
    const key = this.key(definition.name, labels);
    this.observed.set(key, []);
    return { record: (value) => this.observed.get(key)?.push(value) };
  };

  gauge: Meter['gauge'] = (definition, read) => {
    this.gauges.set(definition.name, read);
  };

  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

function server(meter: Meter, options: Partial<HeraldOptions<typeof contract>> = {}): Herald<typeof contract> {
  return createHerald({
    contract,
    meter,
    clock: new ManualClock(),
    authenticate: (token) => ({ userId: token }),
    handlers: { 'test.Echo': ({ text }) => ({ text }) },
    ...options,
  });
}

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

async function connect(herald: Herald<typeof contract>, user: string): Promise<MemorySocket> {
  const socket = await connectMemory(herald, { authorization: `Bearer ${user}` });
  await flush();
  return socket;
}

describe('server metrics', () => {
  it('counts requests by contract type and code, times each once, and counts retries apart', async () => {
    const meter = new RecordingMeter();
    const socket = await connect(server(meter), 'ann');
    socket.deliver({ kind: 'req', id: '1', type: 'test.Echo', body: { text: 'a' } });
    socket.deliver({ kind: 'req', id: '1', type: 'test.Echo', body: { text: 'a' } });
    socket.deliver({ kind: 'req', id: '2', type: 'test.Echo', body: { text: 1 } });
    socket.deliver({ kind: 'req', id: '3', type: 'made.Up' });
    socket.deliver({ kind: 'req', id: '4', type: 'also.MadeUp' });
    await flush();
    expect(meter.count('herald_requests_total{type=test.Echo,code=200}')).toBe(1);
    expect(meter.count('herald_requests_total{type=test.Echo,code=400}')).toBe(1);
    expect(meter.count('herald_requests_total{type=unknown,code=404}')).toBe(2);
    expect(meter.count('herald_retries_answered_total{type=test.Echo}')).toBe(1);
    expect(meter.observed.get('herald_request_duration_seconds{type=test.Echo,code=200}')).toEqual([expect.any(Number)]);
    expect(meter.bound.some((key) => key.includes('made.Up'))).toBe(false);
    expect(meter.count('herald_frames_received_total{transport=websocket}')).toBe(5);
    expect(meter.count('herald_sessions_authenticated_total{}')).toBe(1);
    expect(meter.gauges.get('herald_sessions')?.()).toBe(1);
  });

  it("counts a server's close once, with its code, and the frames refused before it", async () => {
    const meter = new RecordingMeter();
    const socket = await connect(server(meter, { limits: { rateLimit: { messagesPerSecond: 1, burst: 2 } } }), 'ann');
    for (let i = 0; i < 6 && socket.closedWith === undefined; i++) socket.deliver({ kind: 'ping' });
    await flush();
    expect(socket.closedWith?.code).toBe(4429);
    expect(meter.count('herald_rate_limited_frames_total{}')).toBeGreaterThanOrEqual(3);
    expect(meter.count('herald_connections_closed_total{transport=websocket,code=4429}')).toBe(1);
    expect([...meter.counts].filter(([key, n]) => key.startsWith('herald_connections_closed_total') && n > 0)).toHaveLength(1);
    expect(meter.count('herald_connections_opened_total{transport=websocket}')).toBe(1);
  });

  it('counts resumes by recovered and reason, and detached sessions', async () => {
    const meter = new RecordingMeter();
    const herald = server(meter);
    const first = await connect(herald, 'ann');
    const { sessionId } = (first.received[0] as { body: WelcomeBody }).body;
    first.drop();
    expect(meter.count('herald_sessions_detached_total{}')).toBe(1);
    const again = await connect(herald, 'ann');
    again.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId, seq: 0 } });
    const stranger = await connect(herald, 'ann');
    stranger.deliver({ kind: 'req', id: 'r', type: 'herald.Resume', body: { sessionId: 'x'.repeat(22), seq: 0 } });
    await flush();
    expect(meter.count('herald_sessions_resumed_total{recovered=true,reason=none}')).toBe(1);
    expect(meter.count('herald_sessions_resumed_total{recovered=false,reason=unknown_session}')).toBe(1);
  });

  it('counts a send buffer going over the high-water mark once, however long it stays there', async () => {
    const meter = new RecordingMeter();
    const herald = server(meter, { highWaterMark: 100 });
    const socket = await connect(herald, 'ann');
    socket.deliver({ kind: 'req', id: '1', type: 'test.Echo', body: { text: 'settle' } });
    socket.bufferedAmount = 1000;
    for (let n = 1; n <= 3; n++) await herald.sendToUser('ann', 'test.Note', { n });
    await flush();
    expect(meter.count('herald_notifications_sent_total{}')).toBe(3);
    expect(meter.count('herald_send_buffer_high_water_total{}')).toBe(1);
    socket.bufferedAmount = 0;
    socket.connection?.drained();
    expect(meter.count('herald_notifications_replayed_total{}')).toBe(3);
    socket.deliver({ kind: 'ack', seq: 3 });
    expect(meter.count('herald_notifications_acked_total{}')).toBe(3);
  });

  it('counts presence changes by kind, and the memberships of local sessions', async () => {
    const meter = new RecordingMeter();
    const herald = server(meter, { canSubscribe: () => true });
    const memberships = () => meter.gauges.get('herald_presence_memberships')?.();
    const ann = await connect(herald, 'ann');
    const annAgain = await connect(herald, 'ann');
    const bob = await connect(herald, 'bob');
    ann.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/1' } });
    annAgain.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/1' } });
    bob.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/1' } });
    bob.deliver({ kind: 'req', id: 't', type: 'herald.Subscribe', body: { topic: 'note/a' } });
    await flush();
    // ann's second session is the same member: two joins, three memberships.
    expect(meter.count('herald_presence_changes_total{change=joined}')).toBe(2);
    expect(memberships()).toBe(3);
    bob.deliver({ kind: 'req', id: 'p', type: 'herald.SetPresence', body: { topic: 'room/1', state: { status: 'away' } } });
    await flush();
    expect(bob.received).toContainEqual(expect.objectContaining({ reqId: 'p', code: 200 }));
    bob.deliver({ kind: 'req', id: 'u', type: 'herald.Unsubscribe', body: { topic: 'room/1' } });
    await flush();
    expect(meter.count('herald_presence_changes_total{change=updated}')).toBe(1);
    expect(meter.count('herald_presence_changes_total{change=left}')).toBe(1);
    expect(memberships()).toBe(2);
    expect(meter.count('herald_presence_errors_total{}')).toBe(0);
  });
});
