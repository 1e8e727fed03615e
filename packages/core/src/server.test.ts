import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { Envelope, NotificationMessage, ResponseMessage } from './envelope.ts';
import { HeraldError } from './errors.ts';
import { MemoryBroker } from './memory-broker.ts';
import { createHerald, type Herald, type HeraldOptions } from './server.ts';
import { connectMemory, ManualClock, type MemorySocket } from './testing/index.ts';

const contract = defineContract({
  requests: {
    'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
    'test.Other': { request: z.unknown(), response: z.unknown() },
    'test.Fail': { request: z.object({ how: z.enum(['herald', 'crash', 'bigint', 'empty']) }), response: z.unknown() },
  },
  notifications: { 'test.Note': { body: z.object({ n: z.number() }) } },
});
type TestContract = typeof contract;

/** Tokens are user names, optionally `name@expiresAt`; anything else is refused. */
function authenticate(token: string) {
  const [userId = '', expiresAt] = token.split('@');
  if (!/^[a-z]+$/.test(userId)) return null;
  return expiresAt === undefined ? { userId } : { userId, expiresAt: Number(expiresAt) };
}

function server(options: Partial<HeraldOptions<TestContract>> = {}): Herald<TestContract> {
  return createHerald({
    contract,
    clock: new ManualClock(),
    authenticate,
    onError: () => {},
    handlers: {
      'test.Echo': ({ text }) => ({ text }),
      'test.Other': () => ({}),
      'test.Fail': ({ how }) => {
        if (how === 'herald') throw new HeraldError(403, 'not_allowed', 'nope');
        if (how === 'crash') throw new Error('database password is hunter2');
        if (how === 'bigint') return { n: 1n };
        return undefined;
      },
    },
    ...options,
  });
}

/** Lets every pending promise chain run (the in-memory server never waits on real time). */
const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/**
 * Connects as a client that is not resuming: its session is settled at once, as the client's
 * first request would settle it, so private notifications flow without waiting.
 */
async function connect(herald: Herald<TestContract>, user?: string, settled = true): Promise<MemorySocket> {
  const socket = await connectMemory(herald, user === undefined ? {} : { authorization: `Bearer ${user}` });
  if (settled) (socket.connection as unknown as { session: { settle(): void } }).session.settle();
  await flush();
  return socket;
}

/** What the server sends in answer to `deliver`, after things settle. */
async function answer(socket: MemorySocket, frame: Parameters<MemorySocket['deliver']>[0]): Promise<Envelope[]> {
  const before = socket.received.length;
  socket.deliver(frame);
  await flush();
  return socket.received.slice(before);
}

const echo = (id: string, text = 'hi') => ({ kind: 'req', id, type: 'test.Echo', body: { text } }) as const;
const echoed = (id: string, text = 'hi'): ResponseMessage => ({ kind: 'resp', reqId: id, type: 'test.Echo', code: 200, body: { text } });
const heraldError = (code: number, error: string): NotificationMessage => ({
  kind: 'notification',
  type: 'herald.Error',
  body: { code, error, message: expect.any(String) },
});
const errorResponse = (reqId: string, type: string, code: number, error: string, extra: object = {}): ResponseMessage => ({
  kind: 'resp',
  reqId,
  type,
  code,
  body: { error, message: expect.any(String), ...extra },
});

const nested = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as unknown;
const padding = 'x'.repeat(2000);

type BadFrame = Parameters<MemorySocket['deliver']>[0];

const BAD_FRAMES: ReadonlyArray<[string, BadFrame, Envelope]> = [
  ['invalid JSON', '{"kind":"req",', heraldError(400, 'invalid_json')],
  ['a JSON array', '[{"kind":"ping"}]', heraldError(400, 'invalid_envelope')],
  ['a JSON number', '42', heraldError(400, 'invalid_envelope')],
  ['a JSON string', '"ping"', heraldError(400, 'invalid_envelope')],
  ['JSON null', 'null', heraldError(400, 'invalid_envelope')],
  ['an unknown kind', { kind: 'event', type: 'test.Echo' }, heraldError(400, 'invalid_envelope')],
  ['no kind', { id: 'r1', type: 'test.Echo' }, heraldError(400, 'invalid_envelope')],
  ['a req without id', { kind: 'req', type: 'test.Echo', body: { text: 'x' } }, heraldError(400, 'invalid_envelope')],
  ['a req with a 65-character id', echo('a'.repeat(65)), heraldError(400, 'invalid_envelope')],
  ['a req with bad characters in its id', echo('a/b'), heraldError(400, 'invalid_envelope')],
  ['a req without type', { kind: 'req', id: 'r1', body: { text: 'x' } }, errorResponse('r1', 'herald.Error', 400, 'invalid_envelope')],
  ['a req with bad characters in its type', { kind: 'req', id: 'r1', type: 'test Echo' }, errorResponse('r1', 'herald.Error', 400, 'invalid_envelope')],
  ['a resp from the client', { kind: 'resp', reqId: 'r1', type: 'test.Echo', code: 200 }, heraldError(400, 'invalid_envelope')],
  ['a notification from the client', { kind: 'notification', type: 'test.Note', body: { n: 1 } }, heraldError(400, 'invalid_envelope')],
  ['an ack with a negative seq', { kind: 'ack', seq: -1 }, heraldError(400, 'invalid_envelope')],
  ['an ack with a fractional seq', { kind: 'ack', seq: 0.5 }, heraldError(400, 'invalid_envelope')],
  ['an ack without seq', { kind: 'ack' }, heraldError(400, 'invalid_envelope')],
  ['an oversize req with a readable id', echo('big.1', padding), errorResponse('big.1', 'herald.Error', 413, 'too_large')],
  ['an oversize frame without a readable id', { kind: 'ping', padding }, heraldError(413, 'too_large')],
  ['nesting beyond maxDepth', { kind: 'ping', x: nested(40) }, heraldError(400, 'too_deep')],
  ['a req nesting beyond maxDepth', { ...echo('deep.1'), deep: nested(40) }, errorResponse('deep.1', 'herald.Error', 400, 'too_deep')],
  ['a binary frame', new Uint8Array([123, 125]), heraldError(400, 'binary_frame')],
  [
    'a body failing the schema',
    { kind: 'req', id: 'r1', type: 'test.Echo', body: { text: 5 } },
    errorResponse('r1', 'test.Echo', 400, 'validation_failed', { issues: [{ path: ['body', 'text'], message: expect.any(String) }] }),
  ],
  [
    'a missing body',
    { kind: 'req', id: 'r1', type: 'test.Echo' },
    errorResponse('r1', 'test.Echo', 400, 'validation_failed', { issues: [{ path: ['body'], message: expect.any(String) }] }),
  ],
  ['an unknown type', { kind: 'req', id: 'r1', type: 'test.Nope', body: {} }, errorResponse('r1', 'test.Nope', 404, 'unknown_type')],
  ['an unknown herald.* type', { kind: 'req', id: 'r1', type: 'herald.Nope', body: {} }, errorResponse('r1', 'herald.Nope', 404, 'unknown_type')],
  ...(
    [
      ['herald.Authenticate', undefined, ['body']],
      ['herald.Authenticate', {}, ['body', 'token']],
      ['herald.Authenticate', { token: 5 }, ['body', 'token']],
      ['herald.Authenticate', { token: '' }, ['body', 'token']],
      ['herald.Subscribe', { topic: 'bad topic' }, ['body', 'topic']],
      ['herald.Subscribe', {}, ['body', 'topic']],
      ['herald.Subscribe', { topic: 'room/1', since: { epoch: 'e' } }, ['body', 'since', 'offset']],
      ['herald.Subscribe', { topic: 'room/1', since: { epoch: '', offset: 0 } }, ['body', 'since', 'epoch']],
      ['herald.Subscribe', { topic: 'room/1', since: { epoch: 'e', offset: -1 } }, ['body', 'since', 'offset']],
      ['herald.Unsubscribe', { topic: 7 }, ['body', 'topic']],
      ['herald.Resume', {}, ['body', 'sessionId']],
      ['herald.Resume', { sessionId: '', seq: 0 }, ['body', 'sessionId']],
      ['herald.Resume', { sessionId: 'x'.repeat(65), seq: 0 }, ['body', 'sessionId']],
      ['herald.Resume', { sessionId: 's', seq: -1 }, ['body', 'seq']],
      ['herald.Resume', { sessionId: 's', seq: 0, topics: [] }, ['body', 'topics']],
      ['herald.Resume', { sessionId: 's', seq: 0, topics: { 'bad topic': { epoch: 'e', offset: 0 } } }, ['body', 'topics']],
      ['herald.Resume', { sessionId: 's', seq: 0, topics: { 'room/1': { epoch: 'e', offset: 1.5 } } }, ['body', 'topics', 'room/1', 'offset']],
    ] as const
  ).map(([type, body, path]): [string, BadFrame, Envelope] => [
    `${type} with body ${JSON.stringify(body)}`,
    { kind: 'req', id: 'r1', type, body },
    errorResponse('r1', type, 400, 'validation_failed', { issues: [{ path, message: expect.any(String) }] }),
  ]),
];

describe('bad input through a real server', () => {
  it.each(BAD_FRAMES)('answers %s as documented, and every session keeps working', async (_what, frame, expected) => {
    const herald = server({ limits: { maxMessageBytes: 1024 } });
    const alice = await connect(herald, 'alice');
    const bob = await connect(herald, 'bob');
    expect(await answer(alice, frame)).toEqual([expected]);
    expect(alice.closedWith).toBeUndefined();
    expect(await answer(alice, echo('after'))).toEqual([echoed('after')]);
    expect(await answer(bob, echo('other'))).toEqual([echoed('other')]);
  });


  it('keeps a topic name containing dots whole in the issue path', async () => {
    const alice = await connect(server(), 'alice');
    const frame = { kind: 'req', id: 'r1', type: 'herald.Resume', body: { sessionId: 's', seq: 0, topics: { 'chat.room': { epoch: 'e' } } } } as const;
    expect(await answer(alice, frame)).toEqual([
      errorResponse('r1', 'herald.Resume', 400, 'validation_failed', { issues: [{ path: ['body', 'topics', 'chat.room', 'offset'], message: expect.any(String) }] }),
    ]);
  });

  it('ignores unknown envelope fields', async () => {
    const alice = await connect(server(), 'alice');
    expect(await answer(alice, { ...echo('r1'), trace: 'abc', future: { x: 1 } })).toEqual([echoed('r1')]);
    expect(await answer(alice, { kind: 'ping', future: true })).toEqual([{ kind: 'pong' }]);
  });

  it('closes with Goodbye and 4400 after ten protocol errors in a row', async () => {
    const herald = server();
    const alice = await connect(herald, 'alice');
    const bad: BadFrame[] = ['nope', new Uint8Array([1]), '[]', { kind: 'resp' }, '{', '7', { kind: 'ack', seq: -1 }, 'null', '"x"'];
    for (const frame of bad) expect(await answer(alice, frame)).toHaveLength(1);
    expect(alice.closedWith).toBeUndefined();
    expect(await answer(alice, 'nope')).toEqual([
      heraldError(400, 'invalid_json'),
      { kind: 'notification', type: 'herald.Goodbye', body: { code: 4400, reason: 'too many invalid frames' } },
    ]);
    expect(alice.closedWith).toEqual({ code: 4400, reason: 'too many invalid frames' });
    expect(herald.stats.sessions).toBe(0);
  });

  it('starts counting again after a valid frame', async () => {
    const alice = await connect(server(), 'alice');
    for (let i = 0; i < 9; i++) alice.deliver('nope');
    alice.deliver({ kind: 'pong' });
    for (let i = 0; i < 9; i++) alice.deliver('nope');
    await flush();
    expect(alice.closedWith).toBeUndefined();
    alice.deliver('nope');
    expect(alice.closedWith?.code).toBe(4400);
  });

  it('does not count answers that are not protocol errors (404, 400 validation_failed)', async () => {
    const alice = await connect(server(), 'alice');
    for (let i = 0; i < 12; i++) alice.deliver({ kind: 'req', id: `u${i}`, type: 'test.Nope', body: {} });
    for (let i = 0; i < 12; i++) alice.deliver({ kind: 'req', id: `v${i}`, type: 'test.Echo', body: {} });
    await flush();
    expect(alice.closedWith).toBeUndefined();
  });
});

describe('requests', () => {
  it('answers ping with pong', async () => {
    const alice = await connect(server(), 'alice');
    expect(await answer(alice, { kind: 'ping' })).toEqual([{ kind: 'pong' }]);
  });

  it('before authentication: requests get 401 not_authenticated, acks are ignored, ping works', async () => {
    const alice = await connect(server());
    expect(await answer(alice, echo('r1'))).toEqual([errorResponse('r1', 'test.Echo', 401, 'not_authenticated')]);
    expect(await answer(alice, { kind: 'req', id: 'r2', type: 'herald.Subscribe', body: { topic: '$all' } })).toEqual([
      errorResponse('r2', 'herald.Subscribe', 401, 'not_authenticated'),
    ]);
    expect(await answer(alice, { kind: 'req', id: 'r3', type: 'herald.Resume', body: { sessionId: 's', seq: 0 } })).toEqual([
      errorResponse('r3', 'herald.Resume', 401, 'not_authenticated'),
    ]);
    expect(await answer(alice, { kind: 'ack', seq: 0 })).toEqual([]);
    expect(await answer(alice, { kind: 'ping' })).toEqual([{ kind: 'pong' }]);
  });

  it('authenticates in-session: 401 invalid_token for a bad token, then 200 with the user', async () => {
    const alice = await connect(server());
    const auth = (id: string, token: string) => ({ kind: 'req', id, type: 'herald.Authenticate', body: { token } }) as const;
    expect(await answer(alice, auth('a1', 'NOT VALID'))).toEqual([errorResponse('a1', 'herald.Authenticate', 401, 'invalid_token')]);
    const ok = await answer(alice, auth('a2', 'alice@4000000000000'));
    expect(ok[0]).toEqual({ kind: 'resp', reqId: 'a2', type: 'herald.Authenticate', code: 200, body: { userId: 'alice', expiresAt: 4_000_000_000_000 } });
    expect(await answer(alice, echo('r1'))).toEqual([echoed('r1')]);
  });

  it('answers a HeraldError with its status and reason', async () => {
    const alice = await connect(server(), 'alice');
    expect(await answer(alice, { kind: 'req', id: 'f1', type: 'test.Fail', body: { how: 'herald' } })).toEqual([
      { kind: 'resp', reqId: 'f1', type: 'test.Fail', code: 403, body: { error: 'not_allowed', message: 'nope' } },
    ]);
  });

  it('answers any other failure with a generic 500 and reports it to onError only', async () => {
    const onError = vi.fn();
    const alice = await connect(server({ onError }), 'alice');
    const internal = { error: 'internal', message: 'internal server error' };
    expect(await answer(alice, { kind: 'req', id: 'f1', type: 'test.Fail', body: { how: 'crash' } })).toEqual([
      { kind: 'resp', reqId: 'f1', type: 'test.Fail', code: 500, body: internal },
    ]);
    expect(await answer(alice, { kind: 'req', id: 'f2', type: 'test.Fail', body: { how: 'bigint' } })).toEqual([
      { kind: 'resp', reqId: 'f2', type: 'test.Fail', code: 500, body: internal },
    ]);
    expect(onError).toHaveBeenCalledTimes(2);
    expect(onError.mock.calls[0]?.[0]).toEqual(new Error('database password is hunter2'));
    expect(onError.mock.calls[0]?.[1]).toEqual({ type: 'test.Fail', sessionId: expect.any(String) });
  });

  it('leaves the body out of a response when the handler returns nothing', async () => {
    const alice = await connect(server(), 'alice');
    expect(await answer(alice, { kind: 'req', id: 'f1', type: 'test.Fail', body: { how: 'empty' } })).toEqual([
      { kind: 'resp', reqId: 'f1', type: 'test.Fail', code: 200 },
    ]);
  });

  it('refuses an id reused for another type with 409 id_conflict, and still answers the original from the cache', async () => {
    const alice = await connect(server(), 'alice');
    expect(await answer(alice, echo('r1'))).toEqual([echoed('r1')]);
    expect(await answer(alice, { kind: 'req', id: 'r1', type: 'test.Other', body: {} })).toEqual([
      errorResponse('r1', 'test.Other', 409, 'id_conflict'),
    ]);
    expect(await answer(alice, echo('r1', 'different body'))).toEqual([echoed('r1')]);
  });

  it('remembers the last dedupWindow ids and forgets older ones, oldest first', async () => {
    let runs = 0;
    const alice = await connect(
      server({
        limits: { dedupWindow: 2 },
        handlers: { 'test.Echo': ({ text }) => ({ text: `${text}:${++runs}` }), 'test.Other': () => ({}), 'test.Fail': () => ({}) },
      }),
      'alice',
    );
    for (const id of ['a', 'b', 'c', 'd', 'e']) alice.deliver(echo(id));
    expect(await answer(alice, echo('d'))).toEqual([echoed('d', 'hi:4')]);
    expect(await answer(alice, echo('e'))).toEqual([echoed('e', 'hi:5')]);
    expect(await answer(alice, echo('a'))).toEqual([echoed('a', 'hi:6')]);
  });

  it('runs middleware in order around the handler', async () => {
    const calls: string[] = [];
    const alice = await connect(
      server({
        middleware: [
          async (context, _body, next) => {
            calls.push(`outer ${context.type} ${context.id}`);
            const result = await next();
            calls.push('outer done');
            return result;
          },
          async (context, body, next) => {
            calls.push(`inner ${context.userId} ${JSON.stringify(body)}`);
            return { text: `wrapped ${((await next()) as { text: string }).text}` };
          },
        ],
      }),
      'alice',
    );
    expect(await answer(alice, echo('r1'))).toEqual([echoed('r1', 'wrapped hi')]);
    expect(calls).toEqual(['outer test.Echo r1', 'inner alice {"text":"hi"}', 'outer done']);
  });
});

describe('de-duplication of retried requests (property)', () => {
  type Step = { op: 'send'; id: number } | { op: 'finish'; id: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.record({ op: fc.constant('send' as const), id: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ op: fc.constant('finish' as const), id: fc.integer({ min: 0, max: 3 }) }),
  );

  it('runs each handler once per id, answers a copy sent after completion with the identical frame, and nothing for copies in flight', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 40 }), async (steps) => {
        const runs = new Map<string, number>();
        const pending = new Map<string, () => void>();
        const herald = server({
          handlers: {
            'test.Echo': ({ text }) => {
              runs.set(text, (runs.get(text) ?? 0) + 1);
              return new Promise<{ text: string }>((resolve) => pending.set(text, () => resolve({ text: `${text} done` })));
            },
            'test.Other': () => ({}),
            'test.Fail': () => ({}),
          },
        });
        const alice = await connect(herald, 'alice');
        const send = vi.spyOn(alice, 'send');
        const sentAfterFinish = new Map<string, number>();
        const finished = new Set<string>();
        const finish = async (id: string) => {
          pending.get(id)?.();
          pending.delete(id);
          await flush();
          if (runs.has(id)) finished.add(id);
        };
        for (const s of steps) {
          const id = `id${s.id}`;
          if (s.op === 'send') {
            if (finished.has(id)) sentAfterFinish.set(id, (sentAfterFinish.get(id) ?? 0) + 1);
            alice.deliver(echo(id, id));
            await flush();
          } else await finish(id);
        }
        for (const id of [...pending.keys()]) await finish(id);
        const frames = send.mock.calls.map(([frame]) => frame as string);
        for (const [id, count] of runs) {
          expect(count).toBe(1);
          const answers = frames.filter((frame) => (JSON.parse(frame) as { reqId?: string }).reqId === id);
          expect(answers).toHaveLength(1 + (sentAfterFinish.get(id) ?? 0));
          expect(new Set(answers)).toEqual(new Set([JSON.stringify(echoed(id, `${id} done`))]));
        }
        await herald.close();
      }),
      { numRuns: 100 },
    );
  });
});

describe('send to user', () => {
  it('delivers a private notification to every session of the user, each with its own seq, and to nobody else', async () => {
    const herald = server();
    const one = await connect(herald, 'alice');
    const two = await connect(herald, 'alice');
    const bob = await connect(herald, 'bob');
    await herald.sendToUser('alice', 'test.Note', { n: 1 });
    two.deliver({ kind: 'ack', seq: 1 });
    await herald.sendToUser('alice', 'test.Note', { n: 2 });
    const privates = (socket: MemorySocket) => socket.received.filter((e) => e.kind === 'notification' && e.seq !== undefined);
    const note = (seq: number, n: number) => ({ kind: 'notification', type: 'test.Note', seq, body: { n } });
    expect(privates(one)).toEqual([note(1, 1), note(2, 2)]);
    expect(privates(two)).toEqual([note(1, 1), note(2, 2)]);
    expect(privates(bob)).toEqual([]);
  });

  it("numbers a handler's ctx.notify in the same private stream", async () => {
    const herald = server({
      handlers: {
        'test.Echo': ({ text }, ctx) => {
          ctx.notify('test.Note', { n: text.length });
          return { text };
        },
        'test.Other': () => ({}),
        'test.Fail': () => ({}),
      },
    });
    const alice = await connect(herald, 'alice');
    await herald.sendToUser('alice', 'test.Note', { n: 0 });
    expect(await answer(alice, echo('r1', 'abc'))).toEqual([{ kind: 'notification', type: 'test.Note', seq: 2, body: { n: 3 } }, echoed('r1', 'abc')]);
  });

  it('reaches a user whose id contains a space (user ids are any string the authenticate hook returns)', async () => {
    const herald = server({ authenticate: (token) => ({ userId: token.replaceAll('_', ' ') }) });
    const ada = await connect(herald, 'Ada_Lovelace');
    const other = await connect(herald, 'Ada');
    await herald.sendToUser('Ada Lovelace', 'test.Note', { n: 1 });
    const privates = (socket: MemorySocket) => socket.received.filter((e) => e.kind === 'notification' && e.seq !== undefined);
    expect(privates(ada)).toEqual([{ kind: 'notification', type: 'test.Note', seq: 1, body: { n: 1 } }]);
    expect(privates(other)).toEqual([]);
  });

  it('reaches the user on another node sharing the broker, and publishes across nodes', async () => {
    const broker = new MemoryBroker();
    const one = server({ broker, canSubscribe: () => true });
    const two = server({ broker, canSubscribe: () => true });
    const alice = await connect(one, 'alice');
    const bob = await connect(two, 'bob');
    await answer(alice, { kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/1' } });
    await two.sendToUser('alice', 'test.Note', { n: 1 });
    const { epoch } = await two.publish('room/1', 'test.Note', { n: 2 });
    expect(alice.received.slice(-2)).toEqual([
      { kind: 'notification', type: 'test.Note', seq: 1, body: { n: 1 } },
      { kind: 'notification', type: 'test.Note', topic: 'room/1', offset: 1, body: { n: 2 } },
    ]);
    expect(epoch).toBe((await one.publish('room/1', 'test.Note', { n: 3 })).epoch);
    expect(bob.received.filter((e) => e.kind === 'notification' && (e.seq !== undefined || e.topic === 'room/1'))).toEqual([]);
  });

  it('refuses notification types and topics that break the patterns', () => {
    const herald = server();
    expect(() => herald.sendToUser('alice', 'bad type' as 'test.Note', { n: 1 })).toThrow(TypeError);
    expect(() => herald.publish('bad topic', 'test.Note', { n: 1 })).toThrow('topic "bad topic" must match');
  });
});

describe('transport close', () => {
  it('forgets a session closed normally (1000) by the client, but keeps one dropped abnormally for a resume', async () => {
    const herald = server();
    const normal = await connect(herald, 'alice');
    const dropped = await connect(herald, 'bob');
    normal.drop(1000);
    dropped.drop(1006);
    expect(herald.stats).toMatchObject({ sessions: 1, connections: 0 });
  });
});

describe('graceful shutdown', () => {
  it('says Goodbye 4503 to every connected client, closes them, and forgets every session', async () => {
    const herald = server();
    const alice = await connect(herald, 'alice');
    const anonymous = await connect(herald);
    const dropped = await connect(herald, 'bob');
    dropped.drop();
    expect(herald.stats).toMatchObject({ sessions: 3, connections: 2, topics: 1 });
    await herald.close();
    for (const socket of [alice, anonymous]) {
      expect(socket.received.at(-1)).toEqual({ kind: 'notification', type: 'herald.Goodbye', body: { code: 4503, reason: 'server shutting down' } });
      expect(socket.closedWith).toEqual({ code: 4503, reason: 'server shutting down' });
    }
    expect(herald.stats).toMatchObject({ sessions: 0, connections: 0, topics: 0 });
  });
});

describe('resume with several topics', () => {
  it('answers, per topic, the offset its stream reached: live frames sent while a later topic replayed are not undone', async () => {
    const broker = new MemoryBroker();
    const herald = server({ broker, canSubscribe: () => true });
    const first = await connect(herald, 'alice');
    const sessionId = (first.received[0] as Envelope & { body: { sessionId: string } }).body.sessionId;
    for (let n = 1; n <= 3; n++) for (const topic of ['room/a', 'room/b']) await herald.publish(topic, 'test.Note', { n });
    const [a, b] = await Promise.all([broker.position('room/a'), broker.position('room/b')]);
    first.drop();

    // room/b's history is slow: room/a is live meanwhile and gets offsets 4 and 5.
    const history = broker.history.bind(broker);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    broker.history = async (topic, since) => {
      if (topic === 'room/b') await slow;
      return history(topic, since);
    };
    const second = await connect(herald, 'alice', false);
    second.deliver({
      kind: 'req',
      id: 'r',
      type: 'herald.Resume',
      body: { sessionId, seq: 0, topics: { 'room/a': { epoch: a.epoch, offset: 2 }, 'room/b': { epoch: b.epoch, offset: 2 } } },
    });
    await flush();
    await herald.publish('room/a', 'test.Note', { n: 4 });
    await herald.publish('room/a', 'test.Note', { n: 5 });
    release();
    await flush();
    await herald.publish('room/a', 'test.Note', { n: 6 });
    await flush();

    const answerAt = second.received.findIndex((m) => m.kind === 'resp' && m.reqId === 'r');
    const answer = second.received[answerAt] as ResponseMessage;
    expect(answer.body).toMatchObject({ recovered: true, topics: { 'room/a': { offset: 5, recovered: true }, 'room/b': { offset: 3, recovered: true } } });
    const offsets = (from: number, to?: number) =>
      second.received.slice(from, to).filter((m): m is NotificationMessage => m.kind === 'notification' && m.topic === 'room/a').map((m) => m.offset);
    expect(offsets(0, answerAt)).toEqual([3, 4, 5]);
    expect(offsets(answerAt)).toEqual([6]);
  });
});

describe('resume while a history read runs ahead of the live path', () => {
  it('answers the offset this session was sent, not one another session read from history', async () => {
    const broker = new MemoryBroker();
    // Live delivery can be held back, as a pub/sub message in flight is: history already has it.
    let held: Array<() => void> | undefined;
    const subscribe = broker.subscribe.bind(broker);
    broker.subscribe = (topic, listener) =>
      subscribe(topic, (message) => {
        if (held === undefined) listener(message);
        else held.push(() => listener(message));
      });
    const history = broker.history.bind(broker);
    let release!: () => void;
    const slow = new Promise<void>((resolve) => (release = resolve));
    broker.history = async (topic, since) => {
      if (topic === 'room/b') await slow;
      return history(topic, since);
    };
    const herald = server({ broker, canSubscribe: () => true });
    const carl = await connect(herald, 'carl');
    const sessionId = (carl.received[0] as Envelope & { body: { sessionId: string } }).body.sessionId;
    for (const topic of ['room/a', 'room/b']) await herald.publish(topic, 'test.Note', { n: 1 });
    const [a, b] = await Promise.all([broker.position('room/a'), broker.position('room/b')]);
    carl.drop();

    const again = await connect(herald, 'carl', false);
    again.deliver({
      kind: 'req',
      id: 'r',
      type: 'herald.Resume',
      body: { sessionId, seq: 0, topics: { 'room/a': { epoch: a.epoch, offset: 1 }, 'room/b': { epoch: b.epoch, offset: 1 } } },
    });
    await flush();
    // room/a is live for carl; offset 2 reaches history, but not yet this node's live path.
    held = [];
    await herald.publish('room/a', 'test.Note', { n: 2 });
    // Another session reads room/a's history, which has 2.
    const dora = await connect(herald, 'dora');
    dora.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/a', since: { epoch: a.epoch, offset: 1 } } });
    await flush();
    release();
    await flush();
    const pending = held;
    held = undefined;
    for (const deliver of pending) deliver();
    await flush();

    const answerAt = again.received.findIndex((m) => m.kind === 'resp' && m.reqId === 'r');
    const answered = (again.received[answerAt] as ResponseMessage).body as { topics: Record<string, { offset: number }> };
    const after = again.received.slice(answerAt + 1).filter((m): m is NotificationMessage => m.kind === 'notification' && m.topic === 'room/a');
    expect(answered.topics['room/a']?.offset).toBe(1);
    expect(after.map((m) => m.offset)).toEqual([2]);
  });
});
