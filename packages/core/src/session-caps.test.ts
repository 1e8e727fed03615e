/** `maxSessionsPerPrincipal` and `maxConnectionsPerAddress`, counted over in-memory sockets (the real-socket tests are in @herald/long-poll). */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { Envelope, NotificationMessage, ResponseMessage, ResumedBody, WelcomeBody } from './envelope.ts';
import { createHerald, type Herald, type HeraldOptions } from './server.ts';
import { connectMemory, ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) } },
  notifications: {},
});
type TestContract = typeof contract;

const QUIET = { pingIntervalMs: 3_600_000 };
const REFUSED = 'too many sessions of this user (at most 2)';

/** `anonymous`: without an authenticate hook. */
function server(options: Partial<HeraldOptions<TestContract>> = {}, anonymous = false): { herald: Herald<TestContract>; clock: ManualClock } {
  const clock = new ManualClock();
  const authenticate = (token: string) => (/^[a-z]+$/.test(token) ? { userId: token } : null);
  const herald = createHerald({
    contract,
    clock,
    ...(anonymous ? {} : { authenticate }),
    subscribeToBroadcast: false,
    handlers: { 'test.Echo': ({ text }) => ({ text }) },
    ...options,
    limits: { ...QUIET, maxSessionsPerPrincipal: 2, ...options.limits },
  });
  return { herald, clock };
}

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

const sessionIdOf = (socket: MemorySocket) => ((socket.received[0] as NotificationMessage<string, WelcomeBody>).body as WelcomeBody).sessionId;

async function answer(socket: MemorySocket, frame: Parameters<MemorySocket['deliver']>[0]): Promise<Envelope[]> {
  const before = socket.received.length;
  socket.deliver(frame);
  await flush();
  return socket.received.slice(before);
}

/** A session of `user`, authenticated at the upgrade; `settled` as by a first request (a session of its own). */
async function connect(herald: Herald<TestContract>, user: string, settled = true): Promise<MemorySocket> {
  const socket = await connectMemory(herald, { authorization: `Bearer ${user}` });
  if (settled && socket.closedWith === undefined) await answer(socket, { kind: 'req', id: 'first', type: 'test.Echo', body: { text: 'hi' } });
  await flush();
  return socket;
}

async function resume(socket: MemorySocket, sessionId: string): Promise<ResumedBody> {
  const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId, seq: 0 } });
  const response = frames.find((e): e is ResponseMessage<string, ResumedBody> => e.kind === 'resp' && e.reqId === 'resume');
  if (response === undefined) throw new Error(`no resume response in ${JSON.stringify(frames)}`);
  return response.body as ResumedBody;
}

const goodbye = (code: number, reason: string, retryAfterMs: number) => ({
  kind: 'notification',
  type: 'herald.Goodbye',
  body: { code, reason, retryAfterMs },
});

describe('maxSessionsPerPrincipal', () => {
  it('announces both caps in the Welcome, 32 sessions per user and 256 connections per address by default', async () => {
    const herald = createHerald({ contract, clock: new ManualClock(), handlers: { 'test.Echo': ({ text }) => ({ text }) } });
    const socket = await connectMemory(herald);
    expect((socket.received[0] as NotificationMessage<string, WelcomeBody>).body?.limits).toMatchObject({ maxSessionsPerPrincipal: 32, maxConnectionsPerAddress: 256 });
  });

  it('ends the longest-detached session of the user for a new one past the cap; its resume gets a new session, recovered: false', async () => {
    const { herald, clock } = server();
    const first = await connect(herald, 'alice');
    const second = await connect(herald, 'alice');
    first.drop();
    clock.advance(1000);
    second.drop();
    const third = await connect(herald, 'alice');
    expect(third.closedWith).toBeUndefined();
    // first went (detached longest), second is still resumable: 2 sessions, third and second.
    expect(herald.stats).toMatchObject({ sessions: 2, connections: 1 });
    const back = await connect(herald, 'alice', false);
    expect(await resume(back, sessionIdOf(second))).toEqual({ sessionId: sessionIdOf(second), recovered: true, topics: {} });
    third.drop();
    const late = await connect(herald, 'alice', false);
    const resumed = await resume(late, sessionIdOf(first));
    expect(resumed).toEqual({ sessionId: sessionIdOf(late), recovered: false, reason: 'unknown_session', topics: {} });
    expect(resumed.sessionId).not.toBe(sessionIdOf(first));
  });

  it('lets a client at the cap resume its own detached session: the cap is held when a session settles as one of its own', async () => {
    const { herald } = server();
    const first = await connect(herald, 'alice');
    await connect(herald, 'alice');
    first.drop();
    const again = await connect(herald, 'alice', false);
    expect(again.closedWith).toBeUndefined();
    expect(await resume(again, sessionIdOf(first))).toEqual({ sessionId: sessionIdOf(first), recovered: true, topics: {} });
    expect(herald.stats).toMatchObject({ sessions: 2, connections: 2 });
    // Both live again: the next one is refused.
    expect((await connect(herald, 'alice')).closedWith?.code).toBe(4429);
  });

  it('refuses a session past the cap when every session of the user is live: at the upgrade 429 too_many_sessions', async () => {
    const { herald } = server();
    await connect(herald, 'alice');
    await connect(herald, 'alice');
    const decision = await herald.upgrade(upgradeRequest({ authorization: 'Bearer alice' }));
    expect(decision).toEqual({
      ok: false,
      status: 429,
      body: { error: 'too_many_sessions', message: REFUSED, retryAfterMs: 5000 },
      client: 'native',
      protocol: 'herald.v1',
      headers: { 'retry-after': '5' },
    });
    // Another user is not affected.
    expect((await connect(herald, 'bob')).closedWith).toBeUndefined();
  });

  it('answers a herald.Authenticate past the cap 429 too_many_sessions, then closes with 4429', async () => {
    const { herald } = server();
    await connect(herald, 'alice');
    await connect(herald, 'alice');
    const socket = await connectMemory(herald);
    const frames = await answer(socket, { kind: 'req', id: 'a', type: 'herald.Authenticate', body: { token: 'alice' } });
    expect(frames).toEqual([
      { kind: 'resp', reqId: 'a', type: 'herald.Authenticate', code: 429, body: { error: 'too_many_sessions', message: REFUSED, retryAfterMs: 5000 } },
      goodbye(4429, REFUSED, 5000),
    ]);
    expect(socket.closedWith).toEqual({ code: 4429, reason: REFUSED });
    expect(herald.stats.sessions).toBe(2);
  });

  it('closes a session that settles past the cap once its user has no detached session left to end (4429), and does not keep it', async () => {
    const { herald } = server();
    const first = await connect(herald, 'alice');
    await connect(herald, 'alice');
    first.drop();
    // Admitted while first is detached, then first is resumed elsewhere before this one settles.
    const waiting = await connect(herald, 'alice', false);
    const back = await connect(herald, 'alice', false);
    await resume(back, sessionIdOf(first));
    await answer(waiting, { kind: 'req', id: 'r', type: 'test.Echo', body: { text: 'hi' } });
    expect(waiting.received.at(-1)).toEqual(goodbye(4429, REFUSED, 5000));
    expect(waiting.closedWith?.code).toBe(4429);
    expect(herald.stats).toMatchObject({ sessions: 2, connections: 2 });
  });

  it('does not cap sessions without an authenticate hook, where every session is anonymous', async () => {
    const { herald } = server({}, true);
    const sockets = [];
    for (let i = 0; i < 3; i++) sockets.push(await connectMemory(herald));
    expect(sockets.map((s) => s.closedWith)).toEqual([undefined, undefined, undefined]);
    expect(herald.stats.connections).toBe(3);
  });
});

describe('maxConnectionsPerAddress', () => {
  const from = (address: string) => ({ ...upgradeRequest(), remoteAddress: address });

  async function open(herald: Herald<TestContract>, address: string): Promise<MemorySocket> {
    const socket = new MemorySocket();
    const decision = await herald.upgrade(from(address));
    if (!decision.ok) throw new Error(JSON.stringify(decision.body));
    socket.connection = herald.open(socket, decision);
    return socket;
  }

  it('refuses the upgrade past the cap with 429 too_many_connections and Retry-After, and admits again once one closes', async () => {
    const { herald } = server({ limits: { maxConnectionsPerAddress: 2 } }, true);
    const first = await open(herald, '10.0.0.1');
    await open(herald, '10.0.0.1');
    expect(await herald.upgrade(from('10.0.0.1'))).toMatchObject({
      ok: false,
      status: 429,
      body: { error: 'too_many_connections', message: 'too many connections from this address (at most 2)', retryAfterMs: 5000 },
      headers: { 'retry-after': '5' },
    });
    expect((await herald.upgrade(from('10.0.0.2'))).ok).toBe(true);
    first.drop();
    expect((await herald.upgrade(from('10.0.0.1'))).ok).toBe(true);
  });

  it('frees the place of a connection the server closed (here at the authentication deadline)', async () => {
    const { herald, clock } = server({ limits: { maxConnectionsPerAddress: 2, authDeadlineMs: 1000 } });
    const first = await open(herald, '10.0.0.1');
    await open(herald, '10.0.0.1');
    expect((await herald.upgrade(from('10.0.0.1'))).ok).toBe(false);
    clock.advance(1000);
    expect(first.closedWith?.code).toBe(4401);
    expect((await herald.upgrade(from('10.0.0.1'))).ok).toBe(true);
  });

  it('closes a connection opened past the cap by upgrades decided together with 4429, without a session', async () => {
    const { herald } = server({ limits: { maxConnectionsPerAddress: 1 } }, true);
    const decisions = await Promise.all([herald.upgrade(from('10.0.0.1')), herald.upgrade(from('10.0.0.1'))]);
    const sockets = decisions.map((decision) => {
      const socket = new MemorySocket();
      if (decision.ok) socket.connection = herald.open(socket, decision);
      return socket;
    });
    expect(sockets[0]?.closedWith).toBeUndefined();
    expect(sockets[1]?.received).toEqual([goodbye(4429, 'too many connections from this address (at most 1)', 5000)]);
    expect(sockets[1]?.closedWith?.code).toBe(4429);
    await flush();
    expect(herald.stats).toMatchObject({ sessions: 1, connections: 1 });
  });
});
