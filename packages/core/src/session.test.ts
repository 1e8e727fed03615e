import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { Envelope, GoodbyeBody, NotificationMessage, ResponseMessage, ResumedBody, WelcomeBody } from './envelope.ts';
import { DEFAULT_LIMITS, createHerald, type Herald, type HeraldOptions } from './server.ts';
import { Session, type SessionHost } from './session.ts';
import { connectMemory, ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const contract = defineContract({
  requests: {
    'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
    'test.Slow': { request: z.object({}), response: z.object({ done: z.boolean() }) },
    'test.Spin': { request: z.object({ ms: z.number() }), response: z.object({ ms: z.number() }) },
  },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});
type TestContract = typeof contract;

/** The clock every test starts from (ManualClock's default). */
const T = 1_700_000_000_000;
/** Keep-alive out of the way for tests about something else. */
const QUIET = { pingIntervalMs: 3_600_000 };

/** Tokens are user names, optionally `name@expiresAt`; anything else is refused. */
function authenticate(token: string) {
  const [userId = '', expiresAt] = token.split('@');
  if (!/^[a-z]+$/.test(userId)) return null;
  return expiresAt === undefined ? { userId } : { userId, expiresAt: Number(expiresAt) };
}

interface Setup {
  readonly clock: ManualClock;
  readonly herald: Herald<TestContract>;
  /** Resolves the `test.Slow` requests still running. */
  readonly finishSlow: () => void;
  readonly echoes: () => number;
}

function setup(options: Partial<HeraldOptions<TestContract>> = {}): Setup {
  const clock = new ManualClock();
  let echoes = 0;
  const slow: Array<() => void> = [];
  const herald = createHerald({
    contract,
    clock,
    authenticate,
    subscribeToBroadcast: false,
    handlers: {
      'test.Echo': ({ text }) => {
        echoes++;
        return { text };
      },
      'test.Slow': () => new Promise<{ done: boolean }>((resolve) => slow.push(() => resolve({ done: true }))),
      // Blocks the event loop, as an expensive validation or a synchronous handler does.
      'test.Spin': ({ ms }) => {
        const until = performance.now() + ms;
        while (performance.now() < until);
        return { ms };
      },
    },
    ...options,
  });
  return { clock, herald, finishSlow: () => slow.splice(0).forEach((finish) => finish()), echoes: () => echoes };
}

/** Lets every pending promise chain run (the in-memory server never waits on real time). */
const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/**
 * Connects as a client that is not resuming: its session is settled at once, as the client's
 * first request would settle it, so private notifications flow without waiting.
 */
async function connect(herald: Herald<TestContract>, token?: string, settled = true): Promise<MemorySocket> {
  const socket = await connectMemory(herald, token === undefined ? {} : { authorization: `Bearer ${token}` });
  if (settled) (socket.connection as unknown as { session: { settle(): void } }).session.settle();
  await flush();
  return socket;
}

const sessionIdOf = (socket: MemorySocket) => ((socket.received[0] as NotificationMessage<string, WelcomeBody>).body as WelcomeBody).sessionId;
const goodbye = (code: number, reason: string, retryAfterMs?: number): NotificationMessage<string, GoodbyeBody> => ({
  kind: 'notification',
  type: 'herald.Goodbye',
  body: retryAfterMs === undefined ? { code, reason } : { code, reason, retryAfterMs },
});
const pings = (socket: MemorySocket) => socket.received.filter((e) => e.kind === 'ping').length;
const privates = (socket: MemorySocket) => socket.received.filter((e): e is NotificationMessage => e.kind === 'notification' && e.seq !== undefined);
const note = (seq: number, n: number) => ({ kind: 'notification', type: 'test.Note', seq, body: { n } });
const echo = (id: string, text = 'hi') => ({ kind: 'req', id, type: 'test.Echo', body: { text } }) as const;
const echoed = (id: string, text = 'hi'): ResponseMessage => ({ kind: 'resp', reqId: id, type: 'test.Echo', code: 200, body: { text } });
const responseTo = (socket: MemorySocket, id: string) => socket.received.filter((e): e is ResponseMessage => e.kind === 'resp' && e.reqId === id);

async function answer(socket: MemorySocket, frame: Parameters<MemorySocket['deliver']>[0]): Promise<Envelope[]> {
  const before = socket.received.length;
  socket.deliver(frame);
  await flush();
  return socket.received.slice(before);
}

/** Opens a connection for `token` and resumes `sessionId` on it. */
async function resume(herald: Herald<TestContract>, token: string, sessionId: string, seq: number) {
  const socket = await connect(herald, token);
  const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId, seq } });
  const response = frames.find((e): e is ResponseMessage<string, ResumedBody> => e.kind === 'resp' && e.reqId === 'resume');
  if (response === undefined) throw new Error(`no resume response in ${JSON.stringify(frames)}`);
  return { socket, frames, response, newId: sessionIdOf(socket) };
}

describe('authentication deadline', () => {
  it('closes an unauthenticated session with Goodbye and 4401 after authDeadlineMs, and forgets it', async () => {
    const { clock, herald } = setup();
    const socket = await connect(herald);
    clock.advance(9_999);
    expect(socket.closedWith).toBeUndefined();
    clock.advance(1);
    expect(socket.received.at(-1)).toEqual(goodbye(4401, 'authentication deadline passed'));
    expect(socket.closedWith).toEqual({ code: 4401, reason: 'authentication deadline passed' });
    expect(herald.stats.sessions).toBe(0);
  });

  it('keeps a session that sent a wrong token until the deadline', async () => {
    const { clock, herald } = setup({ limits: { authDeadlineMs: 5_000 } });
    const socket = await connect(herald);
    expect(await answer(socket, { kind: 'req', id: 'a', type: 'herald.Authenticate', body: { token: 'WRONG' } })).toEqual([
      { kind: 'resp', reqId: 'a', type: 'herald.Authenticate', code: 401, body: { error: 'invalid_token', message: 'invalid token' } },
    ]);
    clock.advance(4_999);
    expect(socket.closedWith).toBeUndefined();
    clock.advance(1);
    expect(socket.closedWith?.code).toBe(4401);
  });

  it('lifts the deadline once the session authenticates', async () => {
    const { clock, herald } = setup({ limits: QUIET });
    const socket = await connect(herald);
    await answer(socket, { kind: 'req', id: 'a', type: 'herald.Authenticate', body: { token: 'alice' } });
    clock.advance(60_000);
    expect(socket.closedWith).toBeUndefined();
  });
});

describe('keep-alive', () => {
  it('pings after pingIntervalMs of silence and closes with Goodbye and 4408 after pingTimeoutMs more', async () => {
    const { clock, herald } = setup();
    const socket = await connect(herald, 'alice');
    clock.advance(24_999);
    expect(pings(socket)).toBe(0);
    clock.advance(1);
    expect(socket.received.at(-1)).toEqual({ kind: 'ping' });
    clock.advance(9_999);
    expect(pings(socket)).toBe(1);
    expect(socket.closedWith).toBeUndefined();
    clock.advance(1);
    expect(socket.received.at(-1)).toEqual(goodbye(4408, 'keep-alive timeout'));
    expect(socket.closedWith).toEqual({ code: 4408, reason: 'keep-alive timeout' });
    expect(herald.stats).toMatchObject({ sessions: 1, connections: 0 });
  });

  it.each([
    ['a pong', { kind: 'pong' }],
    ['an ack', { kind: 'ack', seq: 0 }],
    ['even an invalid frame', 'not json'],
  ] as const)('counts %s as proof of life', async (_what, frame) => {
    const { clock, herald } = setup();
    const socket = await connect(herald, 'alice');
    clock.advance(30_000);
    socket.deliver(frame);
    clock.advance(10_000);
    expect(socket.closedWith).toBeUndefined();
    expect(pings(socket)).toBe(1);
  });

  it('counts a transport-level pong (connection.alive) as proof of life', async () => {
    const { clock, herald } = setup();
    const socket = await connect(herald, 'alice');
    clock.advance(30_000);
    socket.connection?.alive();
    clock.advance(10_000);
    expect(socket.closedWith).toBeUndefined();
  });

  it('pings again when nothing was sent for pingIntervalMs, even while the client talks', async () => {
    const { clock, herald } = setup();
    const socket = await connect(herald, 'alice');
    for (let t = 0; t < 100_000; t += 5_000) {
      clock.advance(5_000);
      socket.deliver({ kind: 'pong' });
    }
    expect(pings(socket)).toBe(4);
    expect(socket.closedWith).toBeUndefined();
  });

  it('after an answered ping, pings again once a direction has been quiet for pingIntervalMs', async () => {
    const { clock, herald } = setup();
    const socket = await connect(herald, 'alice');
    clock.advance(30_000);
    socket.deliver(echo('r1'));
    clock.advance(24_999);
    expect(pings(socket)).toBe(1);
    clock.advance(1);
    expect(pings(socket)).toBe(2);
  });
});

describe('keep-alive with RFC 6455 pings', () => {
  /** A transport that can send protocol-level pings. */
  class PingingSocket extends MemorySocket {
    rfcPings = 0;
    ping(): void {
      this.rfcPings++;
    }
  }

  async function open(herald: Herald<TestContract>, headers: Record<string, string>): Promise<PingingSocket> {
    const socket = new PingingSocket();
    const decision = await herald.upgrade(upgradeRequest({ authorization: 'Bearer alice', ...headers }));
    if (!decision.ok) throw new Error(decision.body.message);
    socket.connection = herald.open(socket, decision);
    await flush();
    return socket;
  }

  it('sends an idle native client the application-level ping, so it can tell the server lives', async () => {
    const { clock, herald } = setup();
    const socket = await open(herald, {});
    clock.advance(25_000);
    expect([socket.rfcPings, pings(socket)]).toEqual([0, 1]);
  });

  it("probes a native client that is silent while the server sends with the transport's ping, and takes connection.alive() as the answer", async () => {
    const { clock, herald } = setup();
    const socket = await open(herald, {});
    const keepSending = async (ms: number) => {
      for (let t = 0; t < ms; t += 1_000) {
        await herald.sendToUser('alice', 'test.Note', { n: t });
        clock.advance(1_000);
      }
    };
    await keepSending(25_000);
    expect([socket.rfcPings, pings(socket)]).toEqual([1, 0]);
    await keepSending(5_000);
    socket.connection?.alive();
    await keepSending(25_000);
    expect(socket.closedWith).toBeUndefined();
    expect(socket.rfcPings).toBe(2);
    await keepSending(10_000);
    expect(socket.closedWith?.code).toBe(4408);
  });

  it('probes browsers with the application-level ping, which they can see', async () => {
    const { clock, herald } = setup();
    const socket = await open(herald, { origin: 'http://localhost' });
    clock.advance(25_000);
    expect([socket.rfcPings, pings(socket)]).toEqual([0, 1]);
  });
});

describe('token expiry and refresh', () => {
  const options = { limits: QUIET };
  const authenticateWith = (id: string, token: string) => ({ kind: 'req', id, type: 'herald.Authenticate', body: { token } }) as const;

  it('closes with Goodbye and 4401 "token expired" when expiresAt passes, and keeps the session resumable', async () => {
    const { clock, herald } = setup(options);
    const socket = await connect(herald, `alice@${T + 60_000}`);
    clock.advance(59_999);
    expect(socket.closedWith).toBeUndefined();
    clock.advance(1);
    expect(socket.received.at(-1)).toEqual(goodbye(4401, 'token expired'));
    expect(socket.closedWith).toEqual({ code: 4401, reason: 'token expired' });
    const resumed = await resume(herald, `alice@${T + 600_000}`, sessionIdOf(socket), 0);
    expect(resumed.response.body).toEqual({ sessionId: sessionIdOf(socket), recovered: true, topics: {} });
  });

  it('moves the expiry when refreshed with a new token of the same user', async () => {
    const { clock, herald } = setup(options);
    const socket = await connect(herald, `alice@${T + 60_000}`);
    clock.advance(50_000);
    expect(await answer(socket, authenticateWith('r', `alice@${T + 120_000}`))).toEqual([
      { kind: 'resp', reqId: 'r', type: 'herald.Authenticate', code: 200, body: { userId: 'alice', expiresAt: T + 120_000 } },
    ]);
    clock.advance(69_999);
    expect(socket.closedWith).toBeUndefined();
    clock.advance(1);
    expect(socket.closedWith).toEqual({ code: 4401, reason: 'token expired' });
  });

  it("refuses a refresh with another user's token (403 principal_changed) and keeps the old expiry", async () => {
    const { clock, herald } = setup(options);
    const socket = await connect(herald, `alice@${T + 60_000}`);
    expect(await answer(socket, authenticateWith('r', `bob@${T + 120_000}`))).toEqual([
      {
        kind: 'resp',
        reqId: 'r',
        type: 'herald.Authenticate',
        code: 403,
        body: { error: 'principal_changed', message: 'a session cannot change user' },
      },
    ]);
    expect(await answer(socket, authenticateWith('r2', 'NOT VALID'))).toEqual([
      { kind: 'resp', reqId: 'r2', type: 'herald.Authenticate', code: 401, body: { error: 'invalid_token', message: 'invalid token' } },
    ]);
    await herald.sendToUser('bob', 'test.Note', { n: 1 });
    expect(privates(socket)).toEqual([]);
    clock.advance(60_000);
    expect(socket.closedWith).toEqual({ code: 4401, reason: 'token expired' });
  });
});

describe('rate limit', () => {
  const options = { limits: { ...QUIET, rateLimit: { messagesPerSecond: 2, burst: 3 } } };
  const limited = (id: string): ResponseMessage => ({
    kind: 'resp',
    reqId: id,
    type: 'test.Echo',
    code: 429,
    body: { error: 'rate_limited', message: 'rate limit exceeded', retryAfterMs: 500 },
  });

  it('answers requests over the burst with 429 rate_limited without running them, drops other frames, then closes 4429', async () => {
    const { herald, echoes } = setup(options);
    const socket = await connect(herald, 'alice');
    for (const id of ['1', '2', '3']) expect(await answer(socket, echo(id))).toEqual([echoed(id)]);
    expect(await answer(socket, echo('4'))).toEqual([limited('4')]);
    expect(await answer(socket, { kind: 'ping' })).toEqual([]);
    expect(await answer(socket, 'not json')).toEqual([]);
    expect(echoes()).toBe(3);
    expect(socket.closedWith).toBeUndefined();
    expect(await answer(socket, echo('7'))).toEqual([goodbye(4429, 'too many messages', 1500)]);
    expect(socket.closedWith).toEqual({ code: 4429, reason: 'too many messages' });
    expect(herald.stats).toMatchObject({ sessions: 1, connections: 0 });
  });

  it('refills at messagesPerSecond, and a refused request id may be retried', async () => {
    const { clock, herald, echoes } = setup(options);
    const socket = await connect(herald, 'alice');
    for (const id of ['1', '2', '3']) socket.deliver(echo(id));
    expect(await answer(socket, echo('4'))).toEqual([limited('4')]);
    clock.advance(1_000);
    expect(await answer(socket, echo('4'))).toEqual([echoed('4')]);
    expect(await answer(socket, echo('5'))).toEqual([echoed('5')]);
    expect(await answer(socket, echo('6'))).toEqual([limited('6')]);
    expect(echoes()).toBe(5);
  });

  it('forgives the refusals once the bucket is full again', async () => {
    const { clock, herald } = setup(options);
    const socket = await connect(herald, 'alice');
    for (let i = 0; i < 6; i++) socket.deliver({ kind: 'pong' });
    clock.advance(1500);
    for (let i = 0; i < 6; i++) socket.deliver({ kind: 'pong' });
    await flush();
    expect(socket.closedWith).toBeUndefined();
  });

  it('closes a sustained flood that stays below burst refusals between two refills', async () => {
    const { clock, herald } = setup(options);
    const socket = await connect(herald, 'alice');
    for (let i = 0; i < 3; i++) socket.deliver({ kind: 'pong' });
    // Three frames per refilled token: one passes, two are refused, every half second.
    for (let round = 0; round < 4 && socket.closedWith === undefined; round++) {
      clock.advance(500);
      for (let i = 0; i < 3; i++) if (socket.closedWith === undefined) socket.deliver({ kind: 'pong' });
    }
    await flush();
    expect(socket.closedWith).toEqual({ code: 4429, reason: 'too many messages' });
  });
});

describe('processing budget', () => {
  const options = { limits: QUIET, processingBudget: { msPerSecond: 100, burstMs: 300 } };
  const spin = (id: string, ms = 200) => ({ kind: 'req', id, type: 'test.Spin', body: { ms } }) as const;
  const spun = (id: string, ms = 200): ResponseMessage => ({ kind: 'resp', reqId: id, type: 'test.Spin', code: 200, body: { ms } });

  it('throttles a session that overdraws it, closes it 4429 when it overdraws again, and answers other sessions throughout', async () => {
    const { clock, herald } = setup(options);
    const alice = await connect(herald, 'alice');
    const bob = await connect(herald, 'bob');
    expect(await answer(alice, spin('1'))).toEqual([spun('1')]);
    expect(await answer(alice, spin('2'))).toEqual([spun('2')]);
    // 400 ms spent of 300 (spins are timed by the wall clock: a loaded machine adds little to 200 ms): throttled until the debt is paid back at 100 ms/s.
    const [throttled] = await answer(alice, echo('3'));
    expect(throttled).toMatchObject({ reqId: '3', code: 429, body: { error: 'rate_limited' } });
    const { retryAfterMs } = (throttled as ResponseMessage<string, { retryAfterMs: number }>).body as { retryAfterMs: number };
    expect(retryAfterMs).toBeGreaterThanOrEqual(1000);
    expect(await answer(bob, echo('b1'))).toEqual([echoed('b1')]);
    // Once the debt is paid (the wait it was told: a descheduled spin counts longer than 200 ms), and 50 ms more.
    clock.advance(retryAfterMs + 500);
    expect(await answer(alice, spin('4'))).toEqual([spun('4'), goodbye(4429, 'too much processing time', expect.any(Number))]);
    expect(alice.closedWith).toEqual({ code: 4429, reason: 'too much processing time' });
    expect(await answer(bob, echo('b2'))).toEqual([echoed('b2')]);
  });

  it('forgives an overdraft once the budget is full again', async () => {
    const { clock, herald } = setup(options);
    const alice = await connect(herald, 'alice');
    await answer(alice, spin('1'));
    await answer(alice, spin('2'));
    clock.advance(5000);
    expect(await answer(alice, spin('3'))).toEqual([spun('3')]);
    expect(await answer(alice, spin('4'))).toEqual([spun('4')]);
    expect(alice.closedWith).toBeUndefined();
  });

  it('is off with processingBudget: false', async () => {
    const { herald } = setup({ ...options, processingBudget: false });
    const alice = await connect(herald, 'alice');
    for (const id of ['1', '2', '3']) expect(await answer(alice, spin(id))).toEqual([spun(id)]);
    expect(alice.closedWith).toBeUndefined();
  });
});

describe('resume', () => {
  const options = { limits: QUIET };

  it('adopts the old session: replays unacknowledged private notifications in order before the response', async () => {
    const { herald } = setup(options);
    const first = await connect(herald, 'alice');
    const sessionId = sessionIdOf(first);
    for (let n = 1; n <= 3; n++) await herald.sendToUser('alice', 'test.Note', { n });
    first.deliver({ kind: 'ack', seq: 1 });
    first.drop();
    await herald.sendToUser('alice', 'test.Note', { n: 4 });
    const { frames, socket } = await resume(herald, 'alice', sessionId, 2);
    expect(frames).toEqual([
      note(3, 3),
      note(4, 4),
      { kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId, recovered: true, topics: {} } },
    ]);
    await herald.sendToUser('alice', 'test.Note', { n: 5 });
    expect(privates(socket).at(-1)).toEqual(note(5, 5));
    expect(herald.stats).toMatchObject({ sessions: 1, connections: 1 });
  });

  it('carries the de-duplication cache over: a retried request is answered from it, not run again', async () => {
    const { herald, echoes } = setup(options);
    const first = await connect(herald, 'alice');
    await answer(first, echo('r1', 'once'));
    first.drop();
    const { socket } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(await answer(socket, echo('r1', 'once'))).toEqual([echoed('r1', 'once')]);
    expect(echoes()).toBe(1);
  });

  it('sends the answer of a request still running at the drop to the connection the session is on when it finishes', async () => {
    const { herald, finishSlow } = setup(options);
    const first = await connect(herald, 'alice');
    first.deliver({ kind: 'req', id: 'slow', type: 'test.Slow', body: {} });
    first.drop();
    const { socket } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(await answer(socket, { kind: 'req', id: 'slow', type: 'test.Slow', body: {} })).toEqual([]);
    finishSlow();
    await flush();
    expect(responseTo(socket, 'slow')).toEqual([{ kind: 'resp', reqId: 'slow', type: 'test.Slow', code: 200, body: { done: true } }]);
  });

  it('stays possible up to resumeWindowMs after the drop', async () => {
    const { clock, herald } = setup(options);
    const first = await connect(herald, 'alice');
    first.drop();
    clock.advance(119_000);
    const { response } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(response.body).toEqual({ sessionId: sessionIdOf(first), recovered: true, topics: {} });
  });

  it('after resumeWindowMs, answers recovered:false with the new session id', async () => {
    const { clock, herald } = setup(options);
    const first = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    first.drop();
    clock.advance(120_000);
    expect(herald.stats.sessions).toBe(0);
    const { frames, newId } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(frames).toEqual([{ kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId: newId, recovered: false, reason: 'unknown_session', topics: {} } }]);
    expect(newId).not.toBe(sessionIdOf(first));
  });

  it('sends a fresh session its held notifications after the answer that tells the client to count from 0', async () => {
    const { clock, herald } = setup(options);
    const first = await connect(herald, 'alice');
    first.drop();
    clock.advance(120_000);
    const socket = await connect(herald, 'alice', false);
    // Sent to the new session before its client's resume arrives: held, then numbered from 1.
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(first), seq: 7 } });
    expect(frames).toEqual([
      { kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId: sessionIdOf(socket), recovered: false, reason: 'unknown_session', topics: {} } },
      note(1, 1),
    ]);
  });

  it("does not give another user's session away, nor disturb it", async () => {
    const { herald } = setup(options);
    const alice = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    alice.drop();
    const mallory = await resume(herald, 'mallory', sessionIdOf(alice), 0);
    expect(mallory.frames).toEqual([
      { kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId: mallory.newId, recovered: false, reason: 'unknown_session', topics: {} } },
    ]);
    const back = await resume(herald, 'alice', sessionIdOf(alice), 0);
    expect(back.frames).toEqual([
      note(1, 1),
      { kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId: sessionIdOf(alice), recovered: true, topics: {} } },
    ]);
  });

  it('tells onRecoveryFailed why a resume did not recover, and nothing when it did', async () => {
    const failures: unknown[] = [];
    const { herald } = setup({ ...options, onRecoveryFailed: (failure) => failures.push(failure) });
    const socket = await connect(herald, 'alice');
    socket.drop();
    await resume(herald, 'alice', sessionIdOf(socket), 0);
    expect(failures).toEqual([]);
    const { newId } = await resume(herald, 'alice', 'AAAAAAAAAAAAAAAAAAAAAA', 0);
    expect(failures).toEqual([{ sessionId: newId, resumed: 'AAAAAAAAAAAAAAAAAAAAAA', userId: 'alice', reason: 'unknown_session', topics: {} }]);
  });

  it('answers an unknown session id like an expired one', async () => {
    const { herald } = setup(options);
    const { response, newId } = await resume(herald, 'alice', 'AAAAAAAAAAAAAAAAAAAAAA', 0);
    expect(response.body).toEqual({ sessionId: newId, recovered: false, reason: 'unknown_session', topics: {} });
  });

  it('is refused with 409 conflict after an application request on the new connection', async () => {
    const { herald } = setup(options);
    const old = await connect(herald, 'alice');
    old.drop();
    const socket = await connect(herald, 'alice');
    await answer(socket, echo('r1'));
    expect(await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(old), seq: 0 } })).toEqual([
      {
        kind: 'resp',
        reqId: 'resume',
        type: 'herald.Resume',
        code: 409,
        body: { error: 'conflict', message: 'herald.Resume must come before any other request' },
      },
    ]);
  });

  it('is refused with 409 conflict after a Subscribe on the new connection', async () => {
    const { herald } = setup({ ...options, canSubscribe: () => true });
    const old = await connect(herald, 'alice');
    old.drop();
    const socket = await connect(herald, 'alice');
    await answer(socket, { kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/1' } });
    const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(old), seq: 0 } });
    expect(frames).toMatchObject([{ reqId: 'resume', code: 409, body: { error: 'conflict' } }]);
  });

  it('is refused with 409 conflict once a private notification was sent on the new connection', async () => {
    const { herald } = setup(options);
    const old = await connect(herald, 'alice');
    old.drop();
    const socket = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(old), seq: 0 } });
    expect(frames).toMatchObject([{ reqId: 'resume', code: 409, body: { error: 'conflict' } }]);
  });

  it('holds private notifications on a new connection until it settles, so a resume racing them adopts the old session with nothing lost or doubled', async () => {
    const { herald } = setup(options);
    const old = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    old.drop();
    const socket = await connect(herald, 'alice', false);
    await herald.sendToUser('alice', 'test.Note', { n: 2 });
    expect(socket.received.filter((e) => e.kind === 'notification' && e.type === 'test.Note')).toEqual([]);
    const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(old), seq: 1 } });
    expect(frames).toMatchObject([
      { kind: 'notification', type: 'test.Note', seq: 2, body: { n: 2 } },
      { reqId: 'resume', code: 200, body: { sessionId: sessionIdOf(old), recovered: true } },
    ]);
  });

  it('is not refused because onAuthenticated subscribed the new connection server-side (not a client Subscribe)', async () => {
    const { herald } = setup({
      ...options,
      onAuthenticated: async (session) => {
        await herald.subscribe(session, `user/${session.userId}`);
      },
    });
    const old = await connect(herald, 'alice');
    old.drop();
    const socket = await connect(herald, 'alice');
    expect(socket.received.map((e) => e.kind === 'notification' && e.type)).toEqual(['herald.Welcome', 'herald.Subscribed']);
    const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(old), seq: 0 } });
    expect(frames).toMatchObject([{ reqId: 'resume', code: 200, body: { sessionId: sessionIdOf(old), recovered: true } }]);
  });

  it('works after in-session authentication (the only request allowed before it)', async () => {
    const { herald } = setup(options);
    const old = await connect(herald, 'alice');
    old.drop();
    const socket = await connect(herald);
    await answer(socket, { kind: 'req', id: 'a', type: 'herald.Authenticate', body: { token: 'alice' } });
    const frames = await answer(socket, { kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId: sessionIdOf(old), seq: 0 } });
    expect(frames).toMatchObject([{ reqId: 'resume', code: 200, body: { sessionId: sessionIdOf(old), recovered: true } }]);
  });

  it('takes a half-open session over: the old connection gets Goodbye and 4409, the new one carries on', async () => {
    const { herald, echoes } = setup(options);
    const old = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    const { socket, frames } = await resume(herald, 'alice', sessionIdOf(old), 1);
    expect(old.received.at(-1)).toEqual(goodbye(4409, 'session resumed on another connection'));
    expect(old.closedWith).toEqual({ code: 4409, reason: 'session resumed on another connection' });
    expect(frames).toEqual([
      { kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId: sessionIdOf(old), recovered: true, topics: {} } },
    ]);
    await flush();
    await herald.sendToUser('alice', 'test.Note', { n: 2 });
    expect(privates(socket)).toEqual([note(2, 2)]);
    expect(privates(old)).toEqual([note(1, 1)]);
    expect(herald.stats).toMatchObject({ sessions: 1, connections: 1 });
    const before = socket.received.length;
    old.connection?.receive(JSON.stringify(echo('late')));
    old.connection?.receive('{"kind":"ping"}');
    await flush();
    expect(socket.received.length).toBe(before);
    expect(echoes()).toBe(0);
  });
});

describe('private notifications: backpressure and the replay window', () => {
  it('hold private notifications while the send buffer is above the high-water mark, and flush them in order on drained()', async () => {
    const { herald } = setup({ highWaterMark: 1_000, limits: QUIET });
    const socket = await connect(herald, 'alice');
    socket.bufferedAmount = 1_001;
    for (let n = 1; n <= 3; n++) await herald.sendToUser('alice', 'test.Note', { n });
    expect(privates(socket)).toEqual([]);
    socket.bufferedAmount = 0;
    socket.connection?.drained();
    await herald.sendToUser('alice', 'test.Note', { n: 4 });
    expect(privates(socket)).toEqual([note(1, 1), note(2, 2), note(3, 3), note(4, 4)]);
  });

  it('ignore an ack beyond what was sent: unsent notifications are not discarded', async () => {
    const { herald } = setup({ highWaterMark: 1_000, limits: QUIET });
    const socket = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    socket.bufferedAmount = 1_001;
    for (let n = 2; n <= 3; n++) await herald.sendToUser('alice', 'test.Note', { n });
    socket.deliver({ kind: 'ack', seq: 3 });
    expect(herald.stats.replayFrames).toBe(2);
    socket.bufferedAmount = 0;
    socket.connection?.drained();
    expect(privates(socket)).toEqual([note(1, 1), note(2, 2), note(3, 3)]);
    socket.deliver({ kind: 'ack', seq: 3 });
    expect(herald.stats.replayFrames).toBe(0);
  });

  it('close a connected slow consumer with Goodbye and 4507 when unacknowledged notifications would exceed replayWindow; it can resume', async () => {
    const { herald } = setup({ limits: { ...QUIET, replayWindow: 3 } });
    const socket = await connect(herald, 'alice');
    for (let n = 1; n <= 3; n++) await herald.sendToUser('alice', 'test.Note', { n });
    expect(socket.closedWith).toBeUndefined();
    await herald.sendToUser('alice', 'test.Note', { n: 4 });
    expect(socket.received.at(-1)).toEqual(goodbye(4507, 'slow consumer: replay buffer full'));
    expect(socket.closedWith).toEqual({ code: 4507, reason: 'slow consumer: replay buffer full' });
    const { frames } = await resume(herald, 'alice', sessionIdOf(socket), 3);
    expect(frames).toMatchObject([note(4, 4), { reqId: 'resume', body: { recovered: true } }]);
  });

  it('never close a client that acknowledges', async () => {
    const { herald } = setup({ limits: { ...QUIET, replayWindow: 2 } });
    const socket = await connect(herald, 'alice');
    for (let n = 1; n <= 10; n++) {
      await herald.sendToUser('alice', 'test.Note', { n });
      socket.deliver({ kind: 'ack', seq: n });
    }
    expect(socket.closedWith).toBeUndefined();
    expect(privates(socket)).toHaveLength(10);
  });

  it('drop the oldest while detached, so the resume says recovered:false and sends what is left', async () => {
    const { herald } = setup({ limits: { ...QUIET, replayWindow: 3 } });
    const socket = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    socket.deliver({ kind: 'ack', seq: 1 });
    socket.drop();
    for (let n = 2; n <= 6; n++) await herald.sendToUser('alice', 'test.Note', { n });
    const { frames } = await resume(herald, 'alice', sessionIdOf(socket), 1);
    expect(frames).toEqual([
      note(4, 4),
      note(5, 5),
      note(6, 6),
      { kind: 'resp', reqId: 'resume', type: 'herald.Resume', code: 200, body: { sessionId: sessionIdOf(socket), recovered: false, reason: 'too_far_behind', topics: {} } },
    ]);
  });
});

describe('private stream under drops, acks and resumes (property)', () => {
  type Op = { op: 'notify'; count: number } | { op: 'ack'; back: number } | { op: 'drop' } | { op: 'resume' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('notify' as const), count: fc.integer({ min: 1, max: 4 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('ack' as const), back: fc.integer({ min: 0, max: 2 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('drop' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('resume' as const) }) },
  );

  it('delivers 1..N exactly once and in order, says recovered:false exactly when notifications were lost', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.integer({ min: 2, max: 6 }), fc.constant(1_000)), fc.array(op, { maxLength: 40 }), async (replayWindow, ops) => {
        const { herald } = setup({ limits: { ...QUIET, replayWindow } });
        let socket: MemorySocket | null = await connect(herald, 'alice');
        const sessionId = sessionIdOf(socket);
        let read = 0;
        let sent = 0;
        let last = 0;
        const delivered: number[] = [];
        /** The server's replay buffer, as the protocol describes it. */
        let buffer: number[] = [];
        const lost = new Set<number>();

        const receive = (from: MemorySocket) => {
          for (const frame of from.received.slice(read)) {
            if (frame.kind !== 'notification' || frame.seq === undefined) continue;
            expect(frame.seq, 'no duplicate').toBeGreaterThan(last);
            for (let missing = last + 1; missing < frame.seq; missing++) expect(lost.has(missing), `gap at ${missing}`).toBe(true);
            last = frame.seq;
            delivered.push(frame.seq);
          }
          read = from.received.length;
        };

        const reconnect = async () => {
          const held = last;
          const expected = ![...lost].some((seq) => seq > held);
          const resumed = await resume(herald, 'alice', sessionId, held);
          read = 1;
          receive(resumed.socket);
          expect(resumed.response.body).toEqual({ sessionId, recovered: expected, ...(expected ? {} : { reason: 'too_far_behind' }), topics: {} });
          expect(resumed.frames.at(-1)).toBe(resumed.response);
          buffer = buffer.filter((seq) => seq > held);
          socket = resumed.socket;
        };

        for (const step of ops) {
          if (step.op === 'notify') {
            for (let i = 0; i < step.count; i++) {
              sent++;
              const full = buffer.length >= replayWindow;
              if (socket === null && full) {
                const dropped = buffer.shift() as number;
                if (dropped > last) lost.add(dropped);
              }
              buffer.push(sent);
              await herald.sendToUser('alice', 'test.Note', { n: sent });
              if (socket !== null && full) {
                expect(socket.closedWith).toEqual({ code: 4507, reason: 'slow consumer: replay buffer full' });
                receive(socket);
                socket = null;
              }
            }
            if (socket !== null) receive(socket);
          } else if (step.op === 'ack' && socket !== null) {
            const seq = Math.max(0, last - step.back);
            socket.deliver({ kind: 'ack', seq });
            buffer = buffer.filter((s) => s > seq);
          } else if (step.op === 'drop' && socket !== null) {
            socket.drop();
            socket = null;
          } else if (step.op === 'resume' && socket === null) {
            await reconnect();
          }
        }
        if (socket === null) await reconnect();
        const expected = Array.from({ length: sent }, (_, i) => i + 1).filter((seq) => !lost.has(seq));
        expect(delivered).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });
});

describe('answers confirmed by the client (resp)', () => {
  const options = { limits: QUIET };
  const confirming = (id: string, resp: number, text = 'hi') => ({ ...echo(id, text), resp });

  it('lets a confirmed answer go at once; the unconfirmed ones survive a drop and answer the retry after resume', async () => {
    const { herald, echoes } = setup(options);
    const first = await connect(herald, 'alice');
    await answer(first, confirming('r1', 0));
    await answer(first, confirming('r2', 1)); // confirms r1's answer (response 1)
    await answer(first, confirming('r3', 1)); // r2 and r3 unconfirmed
    expect(herald.stats.retryAnswers).toBe(2);
    first.drop();
    expect(herald.stats.retryAnswers).toBe(2);
    const { socket } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(await answer(socket, confirming('r2', 1))).toEqual([echoed('r2')]);
    expect(await answer(socket, confirming('r3', 2))).toEqual([echoed('r3')]);
    expect(echoes()).toBe(3);
  });

  it('keeps nothing once every answer is confirmed, by the next request or by an ack', async () => {
    const { herald } = setup(options);
    const socket = await connect(herald, 'alice');
    for (let i = 0; i < 100; i++) await answer(socket, confirming(`r${i}`, i));
    expect(herald.stats.retryAnswers).toBe(1);
    socket.deliver({ kind: 'ack', seq: 0, resp: 100 });
    expect(herald.stats.retryAnswers).toBe(0);
  });

  it('counts every resp on the connection, errors and system answers included', async () => {
    const { herald, echoes } = setup(options);
    const first = await connect(herald, 'alice');
    await answer(first, confirming('r1', 0)); // response 1
    await answer(first, { kind: 'req', id: 'x', type: 'test.Nope', resp: 1 }); // 404: response 2
    await answer(first, { kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 't' }, resp: 2 }); // response 3
    await answer(first, confirming('r2', 3)); // response 4, unconfirmed
    first.deliver({ kind: 'ack', seq: 0, resp: 3 }); // r2 is response 4: still kept
    first.drop();
    const { socket } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(await answer(socket, confirming('r2', 1))).toEqual([echoed('r2')]);
    expect(echoes()).toBe(2);
  });

  it('treats a count above the responses sent as all of them, and ignores a lower one', async () => {
    const { herald } = setup(options);
    const socket = await connect(herald, 'alice');
    await answer(socket, confirming('r1', 0));
    await answer(socket, confirming('r2', 0));
    socket.deliver({ kind: 'ack', seq: 0, resp: 1 });
    socket.deliver({ kind: 'ack', seq: 0, resp: 0 });
    expect(herald.stats.retryAnswers).toBe(1);
    await answer(socket, confirming('r3', 1_000_000)); // more than sent: r2 (and nothing else) goes
    expect(herald.stats.retryAnswers).toBe(1);
  });

  it('holds a slow request in the cache while it runs, so a retry after resume waits for its one answer', async () => {
    const { herald, finishSlow } = setup(options);
    const first = await connect(herald, 'alice');
    first.deliver({ kind: 'req', id: 'slow', type: 'test.Slow', body: {}, resp: 0 });
    await flush();
    first.drop();
    const { socket } = await resume(herald, 'alice', sessionIdOf(first), 0);
    expect(await answer(socket, { kind: 'req', id: 'slow', type: 'test.Slow', body: {}, resp: 1 })).toEqual([]);
    finishSlow();
    await flush();
    expect(responseTo(socket, 'slow')).toEqual([{ kind: 'resp', reqId: 'slow', type: 'test.Slow', code: 200, body: { done: true } }]);
  });

  it('answers a malformed resp: 400 invalid_envelope on a req (with its id and type), herald.Error on an ack', async () => {
    const { herald } = setup(options);
    const socket = await connect(herald, 'alice');
    expect(await answer(socket, { ...echo('r1'), resp: -1 } as never)).toEqual([
      { kind: 'resp', reqId: 'r1', type: 'test.Echo', code: 400, body: { error: 'invalid_envelope', message: 'req.resp must be an integer >= 0' } },
    ]);
    const [error] = await answer(socket, { kind: 'ack', seq: 0, resp: 'all' } as never);
    expect(error).toMatchObject({ kind: 'notification', type: 'herald.Error', body: { code: 400, error: 'invalid_envelope', message: 'ack.resp must be an integer >= 0' } });
  });
});

describe('session topics', () => {
  const host = { now: T, limits: DEFAULT_LIMITS, processingBudget: undefined } as unknown as SessionHost;

  it('behave as a set of topics from one to many and back', () => {
    const session = new Session(host, 's');
    const state = () => [session.topicCount, session.topics(), session.hasTopic('a'), session.hasTopic('b')];
    expect([...state(), session.removeTopic('a')]).toEqual([0, [], false, false, false]);
    session.addTopic('a');
    session.addTopic('a');
    expect(state()).toEqual([1, ['a'], true, false]);
    expect(session.removeTopic('b')).toBe(false);
    session.addTopic('b');
    session.addTopic('c');
    expect(state()).toEqual([3, ['a', 'b', 'c'], true, true]);
    expect([session.removeTopic('b'), session.removeTopic('b'), session.hasTopic('b')]).toEqual([true, false, false]);
    expect([session.removeTopic('a'), session.removeTopic('c')]).toEqual([true, true]);
    expect(state()).toEqual([0, [], false, false]);
    session.addTopic('d');
    expect([session.topicCount, session.topics(), session.hasTopic('d')]).toEqual([1, ['d'], true]);
  });

  it('can all be removed while iterating over them', () => {
    const session = new Session(host, 's');
    for (const topic of ['x', 'y']) session.addTopic(topic);
    for (const topic of session.topics()) session.removeTopic(topic);
    expect(session.topicCount).toBe(0);
  });
});
