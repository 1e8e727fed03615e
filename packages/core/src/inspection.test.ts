import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CloseCode } from './constants.ts';
import { defineContract } from './contract.ts';
import type { TappedFrame } from './inspection.ts';
import { createHerald } from './server.ts';
import { connectMemory, ManualClock } from './testing/index.ts';

const contract = defineContract({
  requests: {
    'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
    'test.Crash': { request: z.unknown(), response: z.unknown() },
  },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});

function server() {
  return createHerald({
    contract,
    clock: new ManualClock(),
    authenticate: (token) => (/^[a-z]+$/.test(token) ? { userId: token } : null),
    canSubscribe: () => true,
    onError: () => {},
    handlers: {
      'test.Echo': ({ text }) => ({ text }),
      'test.Crash': () => {
        throw new Error('boom');
      },
    },
  });
}

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

describe('herald.inspection()', () => {
  it('lists sessions with their user, transport and topics, and topics with their subscribers and offsets', async () => {
    const herald = server();
    const inspection = herald.inspection();
    const alice = await connectMemory(herald, { authorization: 'Bearer alice' });
    alice.deliver({ kind: 'req', id: '1', type: 'herald.Subscribe', body: { topic: 'room/1' } });
    await flush();
    await herald.publish('room/1', 'test.Note', { n: 1 });
    await flush();
    const snapshot = inspection.snapshot();
    expect(snapshot.sessions).toHaveLength(1);
    expect(snapshot.sessions[0]).toMatchObject({ userId: 'alice', state: 'open', transport: 'websocket', client: 'native', unacked: 0, bufferedBytes: 0 });
    expect([...(snapshot.sessions[0]?.topics ?? [])].sort()).toEqual(['$all', 'room/1']);
    expect(snapshot.topics.find((t) => t.topic === 'room/1')).toMatchObject({ subscribers: 1, offset: 1, messages: 1 });
  });

  it('lists at most maxSessions sessions, and counts them all', async () => {
    const herald = server();
    const inspection = herald.inspection();
    for (const user of ['ann', 'ben', 'cat']) await connectMemory(herald, { authorization: `Bearer ${user}` });
    const snapshot = inspection.snapshot({ maxSessions: 2 });
    expect(snapshot.sessionCount).toBe(3);
    expect(snapshot.sessions).toHaveLength(2);
  });

  it('counts answers per type and code, and remembers refusals, handler errors and closes', async () => {
    const herald = server();
    const inspection = herald.inspection();
    const bob = await connectMemory(herald, { authorization: 'Bearer bob' });
    bob.deliver({ kind: 'req', id: '1', type: 'test.Echo', body: { text: 'hi' } });
    bob.deliver({ kind: 'req', id: '2', type: 'test.Crash', body: {} });
    await flush();
    await connectMemory(herald, { authorization: 'Bearer NOPE' });
    bob.drop(1006);
    await flush();
    const snapshot = inspection.snapshot();
    expect(snapshot.requests).toEqual({ 'test.Echo': { '200': 1 }, 'test.Crash': { '500': 1 } });
    expect(snapshot.refusals[0]).toMatchObject({ what: 'upgrade', status: 401, reason: 'invalid_token' });
    expect(snapshot.errors[0]).toMatchObject({ event: 'handler_failed', type: 'test.Crash', message: 'boom' });
    expect(snapshot.sessions[0]).toMatchObject({ userId: 'bob', state: 'detached', lastClose: { code: 1006 } });
    expect(snapshot.closes[0]).toMatchObject({ userId: 'bob', code: 1006 });
  });

  it('remembers the subscriptions it refused a session, with the topic and the user', async () => {
    const herald = createHerald({ contract, authenticate: (token) => ({ userId: token }), canSubscribe: () => false, handlers: { 'test.Echo': ({ text }) => ({ text }), 'test.Crash': () => ({}) } });
    const inspection = herald.inspection();
    const frank = await connectMemory(herald, { authorization: 'Bearer frank' });
    frank.deliver({ kind: 'req', id: '1', type: 'herald.Subscribe', body: { topic: 'room/9' } });
    await flush();
    expect(inspection.snapshot().refusals[0]).toMatchObject({ what: 'subscribe room/9', status: 403, reason: 'not allowed to subscribe to room/9', userId: 'frank' });
  });

  it('taps a session\'s frames both ways until untapped, and the session stops paying for it', async () => {
    const herald = server();
    const inspection = herald.inspection();
    const carol = await connectMemory(herald, { authorization: 'Bearer carol' });
    await flush();
    const sessionId = inspection.snapshot().sessions[0]?.id as string;
    const frames: TappedFrame[] = [];
    const untap = inspection.tap(sessionId, (frame) => frames.push(frame));
    carol.deliver({ kind: 'req', id: '1', type: 'test.Echo', body: { text: 'tapped' } });
    await flush();
    expect(frames.map((f) => f.direction)).toEqual(['in', 'out']);
    expect(frames[0]?.frame).toContain('"text":"tapped"');
    untap?.();
    carol.deliver({ kind: 'req', id: '2', type: 'test.Echo', body: { text: 'untapped' } });
    await flush();
    expect(frames).toHaveLength(2);
    expect(inspection.tap('no-such-session', () => {})).toBeUndefined();
  });

  it('disconnects a session with Goodbye and 4410, which ends it, and unsubscribes a session from a topic', async () => {
    const herald = server();
    const inspection = herald.inspection();
    const dave = await connectMemory(herald, { authorization: 'Bearer dave' });
    const erin = await connectMemory(herald, { authorization: 'Bearer erin' });
    erin.deliver({ kind: 'req', id: '1', type: 'herald.Subscribe', body: { topic: 'room/2' } });
    await flush();
    const ids = Object.fromEntries(inspection.snapshot().sessions.map((s) => [s.userId, s.id]));

    expect(inspection.disconnect(ids['dave'] as string)).toBe(true);
    expect(dave.closedWith).toEqual({ code: CloseCode.Disconnected, reason: 'disconnected by an operator' });
    expect(dave.received.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4410 } });
    await flush();
    expect(inspection.snapshot().sessions.map((s) => s.userId)).toEqual(['erin']);
    expect(inspection.disconnect(ids['dave'] as string)).toBe(false);

    expect(inspection.unsubscribe(ids['erin'] as string, 'room/2')).toBe(true);
    expect(erin.received.at(-1)).toMatchObject({ type: 'herald.Unsubscribed', body: { topic: 'room/2', reason: 'unsubscribed by an operator' } });
    expect(inspection.snapshot().sessions[0]?.topics).toEqual(['$all']);
    expect(inspection.unsubscribe(ids['erin'] as string, 'room/2')).toBe(false);
  });
});
