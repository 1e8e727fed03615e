/**
 * `herald.v1.msgpack`: negotiation, the same envelopes in binary frames, the same answers to bad
 * input as `herald.v1`, and topic frames encoded once per encoding in use.
 */
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { createHerald, defineContract, FrameEncoder, type Envelope, type Herald, type NotificationMessage, type ResponseMessage } from './index.ts';
import { msgpack } from './msgpack.ts';
import { ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string(), n: z.number() }) } },
  notifications: { 'test.Said': { body: z.object({ n: z.number() }) } },
});

const codec = msgpack();

function server(): Herald<typeof contract> {
  return createHerald({
    contract,
    handlers: { 'test.Echo': ({ text }) => ({ text, n: text.length }) },
    clock: new ManualClock(),
    codecs: [codec],
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
    subscribeToBroadcast: false,
    limits: { pingIntervalMs: 3_600_000, maxMessageBytes: 1024, maxDepth: 8 },
  });
}

async function connect(herald: Herald<any>, protocols = 'herald.v1.msgpack', user = 'alice'): Promise<MemorySocket> {
  const socket = new MemorySocket(protocols.startsWith('herald.v1.msgpack') ? codec : undefined);
  const decision = await herald.upgrade(upgradeRequest({ authorization: `Bearer ${user}`, 'sec-websocket-protocol': protocols }));
  if (!decision.ok) throw new Error(decision.body.message);
  socket.connection = herald.open(socket, decision);
  return socket;
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
const last = (socket: MemorySocket): Envelope => socket.received[socket.received.length - 1] as Envelope;
const errorOf = (socket: MemorySocket) => (last(socket) as NotificationMessage<string, { code: number; error: string }>).body;

describe('herald.v1.msgpack', () => {
  it('selects the first offered subprotocol the server speaks, and herald.v1 without codecs', async () => {
    const herald = server();
    expect(await herald.upgrade(upgradeRequest({ 'sec-websocket-protocol': 'herald.v1.msgpack, herald.v1' }))).toMatchObject({ ok: true, protocol: 'herald.v1.msgpack' });
    expect(await herald.upgrade(upgradeRequest({ 'sec-websocket-protocol': 'herald.v1, herald.v1.msgpack' }))).toMatchObject({ ok: true, protocol: 'herald.v1' });
    const plain = createHerald({ contract, handlers: { 'test.Echo': ({ text }) => ({ text, n: 0 }) }, clock: new ManualClock() });
    expect(await plain.upgrade(upgradeRequest({ 'sec-websocket-protocol': 'herald.v1.msgpack, herald.v1' }))).toMatchObject({ ok: true, protocol: 'herald.v1' });
    expect(await plain.upgrade(upgradeRequest({ 'sec-websocket-protocol': 'herald.v1.msgpack' }))).toMatchObject({ ok: false, status: 406 });
  });

  it('carries the same envelopes in binary frames: Welcome, request and response', async () => {
    const herald = server();
    const socket = await connect(herald);
    expect(last(socket)).toMatchObject({ kind: 'notification', type: 'herald.Welcome', body: { protocol: 'herald.v1', authenticated: true } });
    socket.deliver({ kind: 'req', id: 'r1', type: 'test.Echo', body: { text: 'héllo' } });
    await settle();
    expect(last(socket)).toEqual({ kind: 'resp', reqId: 'r1', type: 'test.Echo', code: 200, body: { text: 'héllo', n: 5 } });
    expect(new Set(socket.frameTypes)).toEqual(new Set(['binary']));
    socket.deliver({ kind: 'ping' });
    expect(last(socket)).toEqual({ kind: 'pong' });
  });

  it('answers bad binary input as bad JSON is answered, and keeps the session', async () => {
    const herald = server();
    const socket = await connect(herald);
    socket.deliver(new Uint8Array([0xc1]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'invalid_msgpack' });
    socket.deliver(new Uint8Array([0x82, 0xa1]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'invalid_msgpack' });
    // Truncated inside a string: the decoder's out-of-bounds read is a RangeError too, not nesting.
    socket.deliver(new Uint8Array([0x82, 0xa4]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'invalid_msgpack' });
    // Two values in one frame, as two envelopes in one text frame are invalid_json.
    socket.deliver(new Uint8Array([...codec.encode({ kind: 'ping' }), ...codec.encode({ kind: 'ping' })]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'invalid_msgpack' });
    socket.deliver(codec.encode({ kind: 'req', id: 'b1', type: 'test.Echo', body: { text: new Uint8Array([1, 2]) } }));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'invalid_msgpack' });
    socket.deliver(codec.encode([1, 2, 3]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'invalid_envelope' });
    socket.deliver('{"kind":"ping"}');
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'text_frame' });
    socket.deliver(new Uint8Array(2000));
    expect(errorOf(socket)).toMatchObject({ code: 413, error: 'too_large' });
    socket.deliver(new Uint8Array([...new Uint8Array(1000).fill(0x91), 0xc0]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'too_deep' });
    socket.deliver({ kind: 'req', id: 'v1', type: 'test.Echo', body: { text: 7 } });
    await settle();
    expect(last(socket)).toMatchObject({ kind: 'resp', reqId: 'v1', code: 400, body: { error: 'validation_failed' } });
    socket.deliver({ kind: 'req', id: 'ok', type: 'test.Echo', body: { text: 'still here' } });
    await settle();
    expect(last(socket)).toMatchObject({ kind: 'resp', reqId: 'ok', code: 200 });
    expect(socket.closedWith).toBeUndefined();
  });

  it('answers nesting that exhausts the decoder stack with too_deep, and reads the next frame', async () => {
    const herald = createHerald({ contract, handlers: { 'test.Echo': ({ text }) => ({ text, n: 0 }) }, clock: new ManualClock(), codecs: [codec], limits: { pingIntervalMs: 3_600_000 } });
    const socket = await connect(herald);
    socket.deliver(new Uint8Array([...new Uint8Array(60_000).fill(0x91), 0xc0]));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'too_deep' });
    socket.deliver({ kind: 'ping' });
    expect(last(socket)).toEqual({ kind: 'pong' });
  });

  it('answers a binary frame on a herald.v1 session with binary_frame, as before', async () => {
    const herald = server();
    const socket = await connect(herald, 'herald.v1');
    socket.deliver(codec.encode({ kind: 'ping' }));
    expect(errorOf(socket)).toMatchObject({ code: 400, error: 'binary_frame' });
    expect(socket.frameTypes.every((type) => type === 'text')).toBe(true);
  });

  it('sends a topic publication to JSON and MessagePack subscribers alike, encoded once per encoding', async () => {
    const herald = server();
    const sockets = [await connect(herald, 'herald.v1', 'a'), await connect(herald, 'herald.v1.msgpack', 'b'), await connect(herald, 'herald.v1.msgpack', 'c')];
    for (const socket of sockets) socket.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room' } });
    await settle();
    const encoder = herald.encoders.get('herald.v1.msgpack') as FrameEncoder;
    let encoded = 0;
    const encode = encoder.encode.bind(encoder);
    encoder.encode = (frame) => {
      encoded++;
      return encode(frame);
    };
    await herald.publish('room', 'test.Said', { n: 1 });
    await settle();
    for (const socket of sockets) expect(last(socket)).toMatchObject({ kind: 'notification', type: 'test.Said', topic: 'room', offset: 1, body: { n: 1 } });
    expect(encoded).toBe(1);
  });

  it('answers a resumed session in the encoding of its new connection', async () => {
    const herald = server();
    const first = await connect(herald, 'herald.v1');
    const sessionId = (first.received[0] as NotificationMessage<string, { sessionId: string }>).body?.sessionId as string;
    first.drop();
    await herald.sendToUser('alice', 'test.Said', { n: 9 });
    const second = await connect(herald, 'herald.v1.msgpack');
    second.deliver({ kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId, seq: 0 } });
    await settle();
    const resumed = second.received.find((e): e is ResponseMessage => e.kind === 'resp' && e.reqId === 'resume');
    expect(resumed).toMatchObject({ code: 200, body: { sessionId, recovered: true } });
    expect(second.received).toContainEqual({ kind: 'notification', type: 'test.Said', seq: 1, body: { n: 9 } });
    expect(new Set(second.frameTypes)).toEqual(new Set(['binary']));
  });
});

/** What a handler may return that JSON.stringify drops or converts: a body means what it makes of it, packed or not. */
class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
  get norm(): number {
    return Math.hypot(this.x, this.y);
  }
}
const shapes: Record<string, unknown> = {
  plain: { user: 'u-1', text: 'héllo 👋', n: 1.5, big: 2 ** 53 - 1, neg: -7, list: [true, false, null, 'x', { deep: [1, [2]] }], empty: {} },
  date: { at: new Date(Date.UTC(2026, 11, 3)) },
  'toJSON method': { money: { amount: 150, toJSON: () => '1.50 EUR' } },
  'undefined field': { a: 1, b: undefined },
  'undefined in an array': [1, undefined, 2],
  'array hole': [1, , 3],
  'NaN and infinities': { n: Number.NaN, i: Number.POSITIVE_INFINITY, m: [Number.NEGATIVE_INFINITY] },
  'negative zero': { z: -0 },
  'class instance': { p: new Point(3, 4) },
  'map and set': { m: new Map([['a', 1]]), s: new Set([1]) },
  'function and symbol': { f: () => 1, s: Symbol('s'), ok: true },
  'boxed values': [new String('x'), new Number(2), new Boolean(false)],
  'typed array': { bytes: new Uint8Array([1, 2]) },
  'null prototype': Object.assign(Object.create(null) as object, { a: 1 }),
  'string body': 'just text',
  'null body': null,
  'no body': undefined,
};
const shapeContract = defineContract({
  requests: { 'test.Shape': { request: z.object({ name: z.string() }), response: z.unknown() } },
  notifications: {},
});

function shapeServer(runs: { count: number } = { count: 0 }, onError: () => void = () => {}): Herald<typeof shapeContract> {
  return createHerald({
    contract: shapeContract,
    handlers: {
      'test.Shape': ({ name }) => {
        runs.count++;
        if (name === 'cycle') {
          const cycle: Record<string, unknown> = {};
          cycle['self'] = cycle;
          return cycle;
        }
        return name === 'bigint' ? { n: 1n } : shapes[name];
      },
    },
    clock: new ManualClock(),
    codecs: [codec],
    authenticate: (token) => ({ userId: token }),
    subscribeToBroadcast: false,
    onError,
    limits: { pingIntervalMs: 3_600_000 },
  });
}

describe('bodies in both encodings', () => {
  for (const protocol of ['herald.v1', 'herald.v1.msgpack']) {
    for (const confirming of [false, true]) {
      it(`${protocol}${confirming ? ', confirming (resp)' : ''}: a body means what JSON.stringify makes of it`, async () => {
        const socket = await connect(shapeServer(), protocol);
        let n = 0;
        for (const [name, value] of Object.entries(shapes)) {
          const id = `s${n++}`;
          socket.deliver({ kind: 'req', id, type: 'test.Shape', body: { name }, ...(confirming ? { resp: n - 1 } : {}) });
          await vi.waitFor(() => expect(socket.received.some((e) => e.kind === 'resp' && e.reqId === id)).toBe(true));
          const answer = socket.received.find((e): e is ResponseMessage => e.kind === 'resp' && e.reqId === id) as ResponseMessage;
          const expected = value === undefined ? { kind: 'resp', reqId: id, type: 'test.Shape', code: 200 } : { kind: 'resp', reqId: id, type: 'test.Shape', code: 200, body: JSON.parse(JSON.stringify(value)) };
          expect(answer, name).toStrictEqual(expected);
        }
      });
    }

    it(`${protocol}: a body JSON.stringify refuses (a cycle, a BigInt) is answered 500, the handler's error reported`, async () => {
      const errors: unknown[] = [];
      const socket = await connect(
        shapeServer(undefined, () => errors.push(1)),
        protocol,
      );
      socket.deliver({ kind: 'req', id: 'c', type: 'test.Shape', body: { name: 'cycle' }, resp: 0 });
      socket.deliver({ kind: 'req', id: 'b', type: 'test.Shape', body: { name: 'bigint' }, resp: 1 });
      await vi.waitFor(() => expect(socket.received.filter((e) => e.kind === 'resp')).toHaveLength(2));
      for (const id of ['c', 'b']) expect(socket.received.find((e) => e.kind === 'resp' && e.reqId === id)).toMatchObject({ code: 500, body: { error: 'internal' } });
      expect(errors).toHaveLength(2);
    });
  }

  it('packs a __proto__ key as it is (through JSON text, since a MessagePack reader renames it)', async () => {
    const herald = createHerald({
      contract: shapeContract,
      handlers: { 'test.Shape': () => JSON.parse('{"__proto__":{"a":1},"b":2}') as unknown },
      clock: new ManualClock(),
      codecs: [codec],
      authenticate: (token) => ({ userId: token }),
      subscribeToBroadcast: false,
    });
    const frames: Uint8Array[] = [];
    const socket = await connect(herald);
    const send = socket.send.bind(socket);
    socket.send = (frame) => {
      if (frame instanceof Uint8Array) frames.push(frame);
      send(frame);
    };
    socket.deliver({ kind: 'req', id: 'p', type: 'test.Shape', body: { name: 'x' }, resp: 0 });
    await vi.waitFor(() => expect(frames).toHaveLength(1));
    expect(Buffer.from(frames[0] as Uint8Array).includes('\xa9__proto__', 0, 'latin1')).toBe(true);
  });

  // An answer kept packed in a send log becomes JSON text again when it spills: a retry over the other encoding gets the same answer, not a second run.
  for (const [from, to] of [
    ['herald.v1.msgpack', 'herald.v1'],
    ['herald.v1', 'herald.v1.msgpack'],
  ] as const) {
    it(`answers a retry after resume from ${from} to ${to} from the unconfirmed answer, without running it again`, async () => {
      const runs = { count: 0 };
      const herald = shapeServer(runs);
      const first = await connect(herald, from);
      const sessionId = (first.received[0] as NotificationMessage<string, { sessionId: string }>).body?.sessionId as string;
      first.deliver({ kind: 'req', id: 'a1', type: 'test.Shape', body: { name: 'plain' }, resp: 0 });
      first.deliver({ kind: 'req', id: 'a2', type: 'test.Shape', body: { name: 'date' }, resp: 0 });
      await vi.waitFor(() => expect(first.received.filter((e) => e.kind === 'resp')).toHaveLength(2));
      first.drop();
      const second = await connect(herald, to);
      second.deliver({ kind: 'req', id: 'resume', type: 'herald.Resume', body: { sessionId, seq: 0 } });
      await vi.waitFor(() => expect(second.received.some((e) => e.kind === 'resp' && e.reqId === 'resume')).toBe(true));
      second.deliver({ kind: 'req', id: 'a1', type: 'test.Shape', body: { name: 'plain' }, resp: 0 });
      second.deliver({ kind: 'req', id: 'a2', type: 'test.Shape', body: { name: 'date' }, resp: 0 });
      await vi.waitFor(() => expect(second.received.filter((e) => e.kind === 'resp')).toHaveLength(3));
      const answers = second.received.filter((e): e is ResponseMessage => e.kind === 'resp' && e.reqId !== 'resume');
      expect(answers).toStrictEqual([
        { kind: 'resp', reqId: 'a1', type: 'test.Shape', code: 200, body: JSON.parse(JSON.stringify(shapes['plain'])) },
        { kind: 'resp', reqId: 'a2', type: 'test.Shape', code: 200, body: JSON.parse(JSON.stringify(shapes['date'])) },
      ]);
      expect(runs.count).toBe(2);
    });
  }
});
