/**
 * Fuzzing the WebSocket and long-poll paths of one real uWS server: every malformed input gets
 * the answer PROTOCOL.md documents for it ("Answers to bad input", the error table of
 * "Errors", "Long-poll transport"), and two well-behaved sessions — one per transport — doing
 * requests meanwhile see every answer and not one error.
 *
 * Seeded and bounded by count, not time: `HERALD_FUZZ_RUNS` (default 40 per property, a few
 * seconds) and `HERALD_FUZZ_SEED` to replay the seed fast-check prints on a failure.
 */
import { LongPollWebSocket } from '@herald/client';
import { createHerald, defineContract, type Herald } from '@herald/core';
import { connect, withType, type Tester } from '@herald/testing';
import { attachHerald, attachHttp, loadUws } from '@herald/uws';
import fc from 'fast-check';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLongPollHandler, type LongPollHandler } from '../src/index.ts';

const RUNS = Number(process.env['HERALD_FUZZ_RUNS'] ?? 40);
const SEED = process.env['HERALD_FUZZ_SEED'] === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.env['HERALD_FUZZ_SEED']);
const WAIT_MS = 15_000;

/** Small frames keep oversized inputs cheap; the rate limit and budget are lifted so only the answers under test are in play. */
const MAX_BYTES = 4096;
const MAX_DEPTH = 32;
/** The uWS adapter's hard limit (PROTOCOL.md, "Answers to bad input"): beyond it the connection is dropped. */
const HARD_LIMIT = 2 * MAX_BYTES;
const MAX_BATCH = 64;
const MAX_BODY = 64 * MAX_BYTES;

const ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const TYPE = /^[A-Za-z0-9_.:$/-]{1,128}$/;

const contract = defineContract({
  requests: {
    'test.Echo': { request: z.object({ text: z.string().max(100) }), response: z.object({ text: z.string() }) },
  },
  notifications: {},
});

// ---- the oracle: PROTOCOL.md's answers, written from the document ---------------------------

/** One answer a frame may get: an error (as `resp` when `reqId` is set, else `herald.Error`), a success, or none. */
type Answer =
  | { readonly error: string; readonly code: number; readonly reqId?: string; readonly type?: string }
  | { readonly ok: string; readonly reqId: string }
  | { readonly pong: true }
  | { readonly none: true };

const heraldError = (code: number, error: string): Answer => ({ code, error });
const errorResp = (reqId: string, type: string, code: number, error: string): Answer => ({ reqId, type, code, error });
const NONE: Answer = { none: true };
const PONG: Answer = { pong: true };

/** Nesting depth as PROTOCOL.md counts it (the envelope is level 1), outside strings. */
function depthOf(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') max = Math.max(max, ++depth);
    else if (c === '}' || c === ']') depth--;
  }
  return max;
}

const utf8Length = (text: string) => new TextEncoder().encode(text).length;
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
/** "An integer ≥ 0": a JSON number the receiver can hold exactly. */
const isCount = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/** The answers a parsed, in-limit frame may get (a list when the document allows several). */
function answersToEnvelope(value: unknown, authenticated: boolean): Answer[] {
  if (!isObject(value)) return [heraldError(400, 'invalid_envelope')];
  const { kind, id, type, seq, body } = value;
  if (kind === 'ping') return [PONG];
  if (kind === 'pong') return [NONE];
  if (kind === 'ack') return isCount(seq) && (!('resp' in value) || isCount(value['resp'])) ? [NONE] : [heraldError(400, 'invalid_envelope')];
  if (kind !== 'req') return [heraldError(400, 'invalid_envelope')];
  if (typeof id !== 'string' || !ID.test(id)) return [heraldError(400, 'invalid_envelope')];
  if (typeof type !== 'string' || !TYPE.test(type)) return [errorResp(id, 'herald.Error', 400, 'invalid_envelope')];
  // A `resp` count that is not an integer ≥ 0 makes the envelope malformed too.
  if ('resp' in value && !isCount(value['resp'])) return [errorResp(id, type, 400, 'invalid_envelope')];
  if (!authenticated) return [errorResp(id, type, 401, 'not_authenticated')];
  if (type !== 'test.Echo') return [errorResp(id, type, 404, 'unknown_type')];
  const valid = isObject(body) && typeof body['text'] === 'string' && body['text'].length <= 100;
  return [valid ? { ok: type, reqId: id } : errorResp(id, type, 400, 'validation_failed')];
}

/** The answers to any text frame (the transport delivered it: valid UTF-8, at most the hard limit). */
function answersToText(text: string, authenticated: boolean): Answer[] {
  if (utf8Length(text) > MAX_BYTES || depthOf(text) > MAX_DEPTH) {
    const [reason, code] = utf8Length(text) > MAX_BYTES ? (['too_large', 413] as const) : (['too_deep', 400] as const);
    const head = text.slice(0, 512);
    const id = /"id"\s*:\s*"([A-Za-z0-9_.:-]{1,64})"/.exec(head)?.[1];
    const alternatives = [heraldError(code, reason)];
    if (id !== undefined && /"kind"\s*:\s*"req"/.test(head)) alternatives.unshift(errorResp(id, 'herald.Error', code, reason));
    // Text that is not JSON at all may be refused for its depth or as invalid JSON.
    if (reason === 'too_deep' && !parses(text)) alternatives.push(heraldError(400, 'invalid_json'));
    return alternatives;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return [heraldError(400, 'invalid_json')];
  }
  return answersToEnvelope(value, authenticated);
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

// ---- generators ------------------------------------------------------------------------------

let serial = 0;
/** Request ids are unique per session (a reused one is a retry, answered from the dedup cache). */
const freshId = (suffix: string) => `f${++serial}${suffix}`.slice(0, 64);

const validIdSuffix = fc.stringMatching(/^[A-Za-z0-9_.:-]{0,20}$/).map((s) => ({ fresh: s }));
const badId = fc.oneof(
  fc.constantFrom('', 'a b', 'x'.repeat(65), 'é', 'id\n', '{}'),
  fc.string({ maxLength: 10 }).filter((s) => !ID.test(s)),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
);
const someType = fc.oneof(
  fc.constant('test.Echo'),
  fc.stringMatching(/^[A-Za-z0-9_.:$/-]{1,30}$/).filter((t) => !t.startsWith('herald.')),
  fc.constantFrom('', 'has space', 't'.repeat(129), 'ü.x'),
  fc.integer(),
  fc.boolean(),
);
const someKind = fc.oneof(fc.constantFrom('req', 'req', 'ack', 'ping', 'pong', 'resp', 'notification', 'REQ', ''), fc.string({ maxLength: 8 }), fc.integer(), fc.constant(null));
const someBody = fc.oneof(fc.record({ text: fc.string({ maxLength: 120 }) }), fc.jsonValue({ maxDepth: 3 }), fc.record({ text: fc.array(fc.integer(), { maxLength: 1500 }) }));
const someSeq = fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double(), fc.string({ maxLength: 4 }), fc.constant(null));

/** An envelope-shaped object with any field wrong, missing or extra; ids marked `fresh` get a unique prefix when sent. */
const envelope = fc
  .record(
    {
      kind: someKind,
      id: fc.oneof(validIdSuffix, validIdSuffix, badId),
      type: someType,
      body: someBody,
      seq: someSeq,
      resp: fc.oneof(fc.nat(), fc.integer({ min: -3, max: -1 }), fc.string({ maxLength: 3 })),
      extra: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['kind'] },
  )
  .map((fields) => () => {
    const { id, ...rest } = fields;
    const out: Record<string, unknown> = { ...rest };
    if (id !== undefined) out['id'] = isObject(id) && 'fresh' in id ? freshId(String(id['fresh'])) : id;
    return JSON.stringify(out);
  });

/** A request with a valid id: its type, body and `resp` count decide the answer. */
const request = fc
  .record(
    { suffix: fc.stringMatching(/^[A-Za-z0-9_.:-]{0,20}$/), type: someType, body: someBody, resp: fc.oneof(fc.nat(), fc.integer({ min: -3, max: -1 }), fc.double(), fc.constant('1')) },
    { requiredKeys: ['suffix', 'type'] },
  )
  .map(({ suffix, ...rest }) => () => JSON.stringify({ kind: 'req', id: freshId(suffix), ...rest }));

const deep = fc.record({ depth: fc.integer({ min: 1, max: 60 }), asRequest: fc.boolean(), open: fc.constantFrom('[', '{"a":') }).map(
  ({ depth, asRequest, open }) =>
    () => {
      const close = open === '[' ? ']' : '}';
      const nested = open.repeat(depth) + '1' + close.repeat(depth);
      return asRequest ? `{"kind":"req","id":"${freshId('')}","type":"test.Echo","body":${nested}}` : `{"kind":"ping","pad":${nested}}`;
    },
);

const oversized = fc.record({ bytes: fc.integer({ min: MAX_BYTES + 1, max: HARD_LIMIT }), asRequest: fc.boolean() }).map(
  ({ bytes, asRequest }) =>
    () => {
      const head = asRequest ? `{"kind":"req","id":"${freshId('')}","type":"test.Echo","body":{"text":"` : '{"kind":"ping","pad":"';
      return head + 'a'.repeat(Math.max(0, bytes - head.length - 3)) + '"}}'.slice(asRequest ? 0 : 1);
    },
);

const truncated = envelope.chain((make) => {
  const text = make();
  return fc.integer({ min: 0, max: text.length - 1 }).map((cut) => () => text.slice(0, cut));
});

const randomText = fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)));

/** Any text frame a transport delivers: each is a thunk so fresh ids are drawn when it is sent. */
const textFrame = fc.oneof(
  { weight: 4, arbitrary: envelope },
  { weight: 4, arbitrary: request },
  { weight: 2, arbitrary: randomText.map((text) => () => text) },
  { weight: 1, arbitrary: truncated },
  { weight: 1, arbitrary: deep },
  { weight: 1, arbitrary: oversized },
);

// ---- the server and the clients ----------------------------------------------------------------

let herald: Herald<typeof contract>;
let longPoll: LongPollHandler;
let stopServer: () => void;
let base: string;
let wsUrl: string;

beforeAll(async () => {
  herald = createHerald({
    contract,
    authenticate: (token) => (/^good-[a-z]+$/.test(token) ? { userId: token.slice(5) } : null),
    handlers: { 'test.Echo': ({ text }) => ({ text }) },
    limits: { maxMessageBytes: MAX_BYTES, maxDepth: MAX_DEPTH, pingIntervalMs: 600_000, authDeadlineMs: 3_600_000, rateLimit: { messagesPerSecond: 1e6, burst: 1e6 } },
    processingBudget: false,
    subscribeToBroadcast: false,
    upgradeRateLimit: false,
    onError: () => {},
  });
  const uws = loadUws();
  const app = uws.App();
  attachHerald(app, herald, { path: '/ws' }, uws);
  longPoll = createLongPollHandler(herald);
  attachHttp(app, '/lp', longPoll.handle);
  attachHttp(app, '/lp/*', longPoll.handle);
  const listen = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', 0, resolve));
  const port = uws.us_socket_local_port(listen as never);
  base = `http://127.0.0.1:${port}`;
  wsUrl = `ws://127.0.0.1:${port}/ws`;
  stopServer = () => uws.us_listen_socket_close(listen as never);
});

afterAll(async () => {
  await herald?.close();
  await longPoll?.close();
  stopServer?.();
});

type Frame = Record<string, unknown> & { kind: string };

/** Whether a frame the server sent is this answer. */
function isAnswer(frame: Frame, answer: Answer): boolean {
  if ('none' in answer) return false;
  if ('pong' in answer) return frame['kind'] === 'pong';
  if ('ok' in answer) return frame['kind'] === 'resp' && frame['reqId'] === answer.reqId && frame['type'] === answer.ok && frame['code'] === 200;
  const body = frame['body'] as Record<string, unknown> | undefined;
  if (answer.reqId === undefined) {
    return frame['kind'] === 'notification' && frame['type'] === 'herald.Error' && body?.['error'] === answer.error && body['code'] === answer.code && typeof body['message'] === 'string';
  }
  return frame['kind'] === 'resp' && frame['reqId'] === answer.reqId && frame['type'] === answer.type && frame['code'] === answer.code && body?.['error'] === answer.error;
}

/**
 * Checks what arrived for a few inputs: each input's answer (one of its alternatives, or none),
 * matched in any order (requests may be answered after later frames), and nothing else.
 */
async function account(inbox: Frame[], more: () => Promise<void>, inputs: Answer[][], label: string): Promise<void> {
  const open = inputs.filter((alternatives) => !alternatives.some((a) => 'none' in a));
  const deadline = Date.now() + WAIT_MS;
  while (open.length > 0) {
    const frame = inbox.shift();
    if (frame === undefined) {
      if (Date.now() > deadline) throw new Error(`${label}: no answer in ${WAIT_MS} ms, still expected ${JSON.stringify(open)}`);
      await more();
      continue;
    }
    const slot = open.findIndex((alternatives) => alternatives.some((a) => isAnswer(frame, a)));
    if (slot === -1) throw new Error(`${label}: got ${JSON.stringify(frame).slice(0, 300)}, expected ${JSON.stringify(open)}`);
    open.splice(slot, 1);
  }
}

/** A raw WebSocket client: frames in, every server frame parsed into an inbox. */
class RawSocket {
  readonly inbox: Frame[] = [];
  closed: { code: number } | undefined;
  private wake: (() => void) | undefined;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data, binary) => {
      if (binary) throw new Error('the server sent a binary frame');
      this.inbox.push(JSON.parse(String(data)) as Frame);
      this.wake?.();
    });
    socket.on('close', (code) => {
      this.closed = { code };
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static async open(token?: string): Promise<RawSocket> {
    const raw = new RawSocket(new WebSocket(wsUrl, 'herald.v1'));
    await new Promise<void>((resolve, reject) => {
      raw.socket.once('open', () => resolve());
      raw.socket.once('error', reject);
    });
    await raw.until(() => raw.inbox.some((f) => f['type'] === 'herald.Welcome'));
    raw.inbox.length = 0;
    if (token !== undefined) {
      raw.socket.send(JSON.stringify({ kind: 'req', id: 'auth', type: 'herald.Authenticate', body: { token } }));
      await raw.until(() => raw.inbox.some((f) => f['reqId'] === 'auth'));
      raw.inbox.length = 0;
    }
    return raw;
  }

  /** Resolves on the next frame or close, or after a while. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 200);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async until(condition: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (!condition()) {
      if (this.closed !== undefined) throw new Error(`closed with ${this.closed.code}`);
      if (Date.now() > deadline) throw new Error('timed out');
      await this.next();
    }
  }

  /** Sends an input and a ping behind it, and checks the answers. */
  async probe(data: string | Uint8Array, alternatives: Answer[], binary = false): Promise<void> {
    this.socket.send(data, { binary });
    this.socket.send('{"kind":"ping"}');
    const label = String(data).slice(0, 200);
    const more = async () => {
      if (this.closed !== undefined) throw new Error(`the session closed (${this.closed.code}) on ${label}`);
      await this.next();
    };
    await account(this.inbox, more, [alternatives, [PONG]], label);
  }
}

/** A long-poll connection driven by hand with fetch. */
class RawLongPoll {
  readonly inbox: Frame[] = [];
  private cursor = 0;

  private constructor(
    readonly sid: string,
    readonly authorization: string,
  ) {}

  static async open(token: string): Promise<RawLongPoll> {
    const authorization = `Bearer ${token}`;
    const response = await fetch(`${base}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', authorization } });
    const opened = (await response.json()) as { sid: string; from: number; messages: Frame[] };
    const lp = new RawLongPoll(opened.sid, authorization);
    lp.cursor = opened.from + opened.messages.length - 1;
    return lp;
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { 'herald-session': this.sid, authorization: this.authorization, ...extra };
  }

  async send(body: string | Uint8Array): Promise<Response> {
    return fetch(`${base}/lp/send`, { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: typeof body === 'string' ? body : new Uint8Array(body) });
  }

  async poll(): Promise<void> {
    const response = await fetch(`${base}/lp/poll?ack=${this.cursor}`, { headers: this.headers() });
    expect(response.status, 'a poll of the fuzzed connection').toBe(200);
    const answer = (await response.json()) as { from: number; messages: Frame[]; closed?: unknown };
    if (answer.closed !== undefined) throw new Error(`the long-poll session closed: ${JSON.stringify(answer.closed)}`);
    for (const [i, message] of answer.messages.entries()) {
      if (answer.from + i > this.cursor) this.inbox.push(message);
    }
    this.cursor = Math.max(this.cursor, answer.from + answer.messages.length - 1);
  }
}

/** A session that only behaves, in a loop, until stopped: every request must be answered 200. */
function wellBehaved(tester: Tester, name: string) {
  let running = true;
  let done = 0;
  const loop = (async () => {
    while (running) {
      const text = `${name}-${done}`;
      const answer = await tester.request('test.Echo', { text }, { timeoutMs: WAIT_MS });
      expect(answer, `${name}: request ${done}`).toMatchObject({ code: 200, body: { text } });
      done++;
    }
  })();
  return {
    async stop(): Promise<number> {
      running = false;
      await loop;
      expect(tester.log.filter((m) => m.kind === 'notification' && m.type === 'herald.Error'), `${name}: errors`).toEqual([]);
      expect(tester.log.filter((m) => m.kind === 'notification' && m.type === 'herald.Goodbye'), `${name}: goodbyes`).toEqual([]);
      return done;
    },
  };
}

const params = (runs = RUNS) => ({ seed: SEED, numRuns: runs, endOnFailure: true });

describe(`fuzz (seed ${SEED}, HERALD_FUZZ_RUNS=${RUNS})`, () => {
  let bystanders: Array<ReturnType<typeof wellBehaved>>;

  beforeAll(async () => {
    const overWebSocket = await connect(wsUrl, { token: 'good-alice', timeoutMs: WAIT_MS });
    const overLongPoll = await connect(`${base}/lp`, { token: 'good-bob', WebSocket: LongPollWebSocket, timeoutMs: WAIT_MS });
    bystanders = [wellBehaved(overWebSocket, 'websocket'), wellBehaved(overLongPoll, 'long-poll')];
  });

  afterAll(async () => {
    const done = await Promise.all(bystanders.map((b) => b.stop()));
    // They ran all along, and saw every answer.
    for (const count of done) expect(count).toBeGreaterThan(0);
  });

  it('answers every malformed WebSocket text frame as documented, authenticated or not', async () => {
    const sockets = { true: await RawSocket.open('good-carol'), false: await RawSocket.open() };
    await fc.assert(
      fc.asyncProperty(textFrame, fc.boolean(), async (make, authenticated) => {
        const text = make();
        await sockets[`${authenticated}`].probe(text, answersToText(text, authenticated));
      }),
      params(),
    );
    for (const raw of Object.values(sockets)) raw.socket.close();
  }, 600_000);

  it('answers every binary frame 400 binary_frame', async () => {
    const raw = await RawSocket.open('good-dave');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: MAX_BYTES }), async (bytes) => raw.probe(bytes, [heraldError(400, 'binary_frame')], true)),
      params(),
    );
    raw.socket.close();
  }, 600_000);

  it('drops the connection (no close frame, 1006) on text that is not UTF-8 and on a frame beyond the hard limit, and serves the next one', async () => {
    const invalidUtf8 = fc
      .tuple(fc.string({ maxLength: 20 }), fc.constantFrom([0xc3, 0x28], [0xff], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf8, 0x88, 0x80, 0x80, 0x80]), fc.string({ maxLength: 20 }))
      .map(([before, bad, after]) => Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]));
    const beyondLimit = fc.integer({ min: HARD_LIMIT + 1, max: 4 * HARD_LIMIT }).map((bytes) => Buffer.from(`{"kind":"ping","pad":"${'a'.repeat(bytes)}"}`));
    await fc.assert(
      fc.asyncProperty(fc.oneof(invalidUtf8, beyondLimit), async (bytes) => {
        const raw = await RawSocket.open('good-erin');
        raw.socket.send(bytes, { binary: false });
        const deadline = Date.now() + WAIT_MS;
        while (raw.closed === undefined && Date.now() < deadline) await raw.next();
        expect(raw.closed, 'closed').toEqual({ code: 1006 });
        expect(raw.inbox, 'nothing answered').toEqual([]);
      }),
      params(Math.max(1, Math.ceil(RUNS / 4))),
    );
    const after = await RawSocket.open('good-erin');
    await after.probe('{"kind":"ping"}', [PONG]);
    after.socket.close();
  }, 600_000);

  it('answers every malformed frame sent over long-poll as over WebSocket, on the poll', async () => {
    const lp = await RawLongPoll.open('good-frank');
    await fc.assert(
      fc.asyncProperty(fc.array(textFrame, { minLength: 1, maxLength: 5 }), async (makers) => {
        const texts = makers.map((make) => make());
        const response = await lp.send(JSON.stringify([...texts, '{"kind":"ping"}']));
        expect(response.status, 'the batch').toBe(204);
        const label = texts.join(' | ').slice(0, 300);
        await account(lp.inbox, () => lp.poll(), [...texts.map((text) => answersToText(text, true)), [PONG]], label);
        expect(lp.inbox, 'nothing else').toEqual([]);
      }),
      params(),
    );
  }, 600_000);

  it('answers every malformed long-poll request with its documented status and error', async () => {
    const lp = await RawLongPoll.open('good-gina');
    const badBatch = fc.oneof(
      fc.string({ maxLength: 100 }).filter((s) => !parses(s)),
      fc.jsonValue({ maxDepth: 3 }).filter((v) => !Array.isArray(v)).map((v) => JSON.stringify(v)),
      fc.constant('[]'),
      fc.integer({ min: MAX_BATCH + 1, max: 3 * MAX_BATCH }).map((n) => JSON.stringify(Array.from({ length: n }, () => '{"kind":"ping"}'))),
      fc.array(fc.jsonValue({ maxDepth: 2 }), { minLength: 1, maxLength: MAX_BATCH }).filter((items) => items.some((i) => typeof i !== 'string')).map((v) => JSON.stringify(v)),
    );
    const badAck = fc.oneof(
      fc.string({ maxLength: 12 }).filter((s) => !/^[0-9]{1,15}$/.test(s)),
      fc.constantFrom('-1', '1.5', '1e3', ' 1', '0x1', '9'.repeat(16)),
    );
    const badPath = fc.oneof(
      fc.tuple(fc.constantFrom('GET', 'PUT', 'PATCH', 'HEAD'), fc.constant('')),
      fc.tuple(fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD'), fc.constant('/send')),
      fc.tuple(fc.constantFrom('POST', 'PUT', 'DELETE', 'PATCH'), fc.constant('/poll')),
      fc.tuple(fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'), fc.stringMatching(/^\/[a-z0-9]{1,12}$/).filter((p) => p !== '/send' && p !== '/poll')),
    );
    const header = fc.stringMatching(/^[\x21-\x7e]{0,40}$/);
    const request = fc.oneof(
      badBatch.map((body) => ({ what: `send ${body.slice(0, 80)}`, go: () => lp.send(body), status: 400, error: 'invalid_batch' })),
      fc.integer({ min: MAX_BODY + 1, max: MAX_BODY + 4096 }).map((n) => ({ what: `send ${n} bytes`, go: () => lp.send(`["${'a'.repeat(n)}"]`), status: 413, error: 'too_large' })),
      badAck.map((ack) => ({
        what: `poll ack=${ack}`,
        go: () => fetch(`${base}/lp/poll?ack=${encodeURIComponent(ack)}`, { headers: lp.headers() }),
        status: 400,
        error: 'invalid_batch',
      })),
      fc.constant({ what: 'poll without ack', go: () => fetch(`${base}/lp/poll`, { headers: lp.headers() }), status: 400, error: 'invalid_batch' }),
      badPath.map(([method, path]) => ({
        what: `${method} /lp${path}`,
        go: () => fetch(`${base}/lp${path}`, { method, headers: lp.headers() }),
        status: 404,
        error: method === 'HEAD' ? '' : 'unknown_type',
      })),
      fc.tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/), fc.constantFrom('POST /send', 'GET /poll?ack=0', 'DELETE ')).map(([sid, route]) => {
        const [method, path] = route.split(' ') as [string, string];
        return { what: `${route} of session ${sid}`, go: () => fetch(`${base}/lp${path}`, { method, headers: { 'herald-session': sid, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) }, ...(method === 'POST' ? { body: '["{\\"kind\\":\\"ping\\"}"]' } : {}) }), status: 404, error: 'unknown_session' };
      }),
      fc.constantFrom('Bearer good-mallory', 'Bearer other').map((authorization) => ({
        what: `send with ${authorization}`,
        go: () => fetch(`${base}/lp/send`, { method: 'POST', headers: { ...lp.headers(), authorization }, body: '["{\\"kind\\":\\"ping\\"}"]' }),
        status: 403,
        error: 'forbidden',
      })),
      header.filter((p) => !p.split(',').some((s) => s.trim() === 'herald.v1')).map((protocol) => ({
        what: `open with Herald-Protocol ${protocol}`,
        go: () => fetch(`${base}/lp`, { method: 'POST', headers: protocol === '' ? {} : { 'herald-protocol': protocol } }),
        status: 406,
        error: 'unsupported_subprotocol',
      })),
      // An empty header is not sent apart from none by uWS, which reads a missing header as ''.
      fc.oneof(header.filter((h) => h !== '' && !/^Bearer +[\x21-\x7e]+ *$/i.test(h)), fc.constant(`Bearer ${'x'.repeat(5000)}`)).map((authorization) => ({
        what: `open with Authorization ${authorization.slice(0, 40)}`,
        go: () => fetch(`${base}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', authorization } }),
        status: 400,
        error: 'validation_failed',
      })),
      fc.stringMatching(/^[\x21-\x7e]{1,40}$/).filter((t) => !/^good-[a-z]+$/.test(t)).map((token) => ({
        what: `open with token ${token}`,
        go: () => fetch(`${base}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', authorization: `Bearer ${token}` } }),
        status: 401,
        error: 'invalid_token',
      })),
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ what, go, status, error }) => {
        const response = await go();
        const text = await response.text();
        expect({ what, status: response.status }).toEqual({ what, status });
        if (error === '') expect(text, `${what}: HEAD has no body`).toBe('');
        else expect(JSON.parse(text), what).toMatchObject({ error, message: expect.any(String) });
        // The fuzzed connection is still there and still answers.
        expect((await lp.send('["{\\"kind\\":\\"ping\\"}"]')).status, `${what}: the connection afterwards`).toBe(204);
        await account(lp.inbox, () => lp.poll(), [[PONG]], `${what}: the connection afterwards`);
        expect(lp.inbox, 'nothing else').toEqual([]);
      }),
      params(),
    );
  }, 600_000);
});
