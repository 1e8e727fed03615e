/** @herald/client on delta topics (`@herald/client/delta`) against the real uWS adapter on loopback. */
import { createHerald, defineContract, type DeltaCodec, type Herald, type HeraldOptions } from '@herald/core';
import { fossilDelta as serverFossil } from '@herald/core/fossil-delta';
import { msgpack as serverMsgpack } from '@herald/core/msgpack';
import { startRelay } from '@herald/testing/node';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { createClient, type HeraldClient, type Transport, type TransportEvents } from '../src/index.ts';
import { fossilDelta } from '../src/delta.ts';
import { msgpack } from '../src/msgpack.ts';

const Doc = z.object({ rev: z.number(), title: z.string(), rows: z.array(z.object({ id: z.number(), text: z.string() })) });
const contract = defineContract({
  requests: {},
  notifications: { 'doc.State': { body: Doc } },
  topics: { 'doc/{id}': { notifications: ['doc.State'], delta: true } },
});
type Contract = typeof contract;
type DocState = z.infer<typeof Doc>;

/** A ~2 KB document of which revision `rev` changes two fields (and a non-ASCII row, so deltas split characters). */
function doc(rev: number): DocState {
  const rows = Array.from({ length: 30 }, (_, id) => ({ id, text: `row ${id}: unchanged text, ünïcödé ✓ 👋` }));
  rows[rev % 30] = { id: rev % 30, text: `edited in revision ${rev} ✎` };
  return { rev, title: `Revision ${rev}`, rows };
}

interface Stage {
  readonly herald: Herald<Contract>;
  readonly url: string;
  /** Drops every connection (a node restart whose sessions survive in memory). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const stages: Stage[] = [];
const clients: HeraldClient<Contract>[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const stage of stages.splice(0)) await stage.stop();
});

async function until(condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function stage(options: Partial<HeraldOptions<Contract>> = {}): Promise<Stage> {
  const herald = createHerald({
    contract,
    handlers: {},
    upgradeRateLimit: false,
    authenticate: (token) => ({ userId: token }),
    topics: { 'doc/{id}': { canSubscribe: () => true } },
    delta: serverFossil(),
    onError: () => {},
    ...options,
  });
  let server: HeraldUwsServer = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  const relay = await startRelay({ backend: () => server.port });
  const started: Stage = {
    herald,
    url: `ws://127.0.0.1:${relay.port}/ws`,
    restart: async () => {
      (server.app as unknown as { close(): void }).close();
      server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
    },
    stop: async () => {
      await server.close();
      await relay.close();
    },
  };
  stages.push(started);
  return started;
}

/** Every frame a client receives, decoded (text or MessagePack). */
function recording(frames: unknown[], binary: boolean) {
  const decode = serverMsgpack().decode;
  return class extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      this.on('message', (data: Buffer, isBinary: boolean) => frames.push(isBinary && binary ? decode(new Uint8Array(data)) : JSON.parse(String(data))));
    }
  };
}

function client(url: string, frames: unknown[], options: { binary?: boolean; delta?: DeltaCodec | false } = {}): HeraldClient<Contract> {
  const binary = options.binary ?? false;
  const delta = options.delta ?? fossilDelta();
  const created = createClient<Contract>({
    url,
    WebSocket: recording(frames, binary) as unknown as typeof WebSocket,
    token: 'ann',
    reconnectDelayMs: 20,
    ...(binary ? { codec: msgpack() } : {}),
    ...(delta === false ? {} : { delta }),
  });
  clients.push(created);
  return created;
}

const topicFrames = (frames: unknown[]) => (frames as Array<{ topic?: string; offset: number; delta?: unknown; body?: unknown }>).filter((f) => f.topic === 'doc/1');

async function publish(herald: Herald<Contract>, from: number, to: number): Promise<void> {
  for (let rev = from; rev <= to; rev++) await herald.publish('doc/1', 'doc.State', doc(rev));
}

describe('delta topics', () => {
  for (const binary of [false, true]) {
    it(`delivers whole bodies, in order, from a full publication and then deltas (${binary ? 'herald.v1.msgpack' : 'herald.v1'})`, async () => {
      const test = await stage(binary ? { codecs: [serverMsgpack()] } : {});
      const frames: unknown[] = [];
      const ann = client(test.url, frames, { binary });
      const got: DocState[] = [];
      const subscribed = await ann.subscribe('doc/1', (body) => got.push(body)).ready;
      expect(subscribed.delta).toBe('fossil');
      await publish(test.herald, 1, 20);
      await until(() => got.length === 20);
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => doc(i + 1)));
      const received = topicFrames(frames);
      expect(received[0]).toHaveProperty('body');
      expect(received.slice(1).every((frame) => frame.delta !== undefined && frame.body === undefined)).toBe(true);
      if (binary) expect(received[1]?.delta).toBeInstanceOf(Uint8Array);
    });
  }

  it('never delivers a delta it cannot apply: it asks for the full publication, and every body delivered is the one published', async () => {
    const test = await stage();
    const real = fossilDelta();
    let corrupt = 3;
    // Applies some deltas to a corrupted base, as if the client held another body than the server's.
    const flaky: DeltaCodec = {
      ...real,
      apply: (base, delta) => {
        if (corrupt-- > 0) {
          const wrong = base.slice();
          for (let i = 0; i < wrong.length; i += 7) wrong[i] = 0x20;
          return real.apply(wrong, delta);
        }
        return real.apply(base, delta);
      },
    };
    const frames: unknown[] = [];
    const gaps: Array<{ last: number; received: number }> = [];
    const ann = createClient<Contract>({ url: test.url, WebSocket: recording(frames, false) as unknown as typeof WebSocket, token: 'ann', delta: flaky, onGap: (gap) => gaps.push(gap) });
    clients.push(ann);
    const got: Array<[number, DocState]> = [];
    await ann.subscribe('doc/1', (body, meta) => got.push([meta.offset as number, body])).ready;
    for (let rev = 1; rev <= 12; rev++) {
      await test.herald.publish('doc/1', 'doc.State', doc(rev));
      await sleep(5);
    }
    await until(() => got.at(-1)?.[0] === 12);
    expect(got.map(([offset]) => offset)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (const [offset, body] of got) expect(body).toEqual(doc(offset));
    expect(gaps.length).toBeGreaterThan(0);
  });

  it('resumes after a drop with full publications first, then deltas again', async () => {
    const test = await stage();
    const frames: unknown[] = [];
    const ann = client(test.url, frames);
    const got: DocState[] = [];
    await ann.subscribe('doc/1', (body) => got.push(body)).ready;
    await publish(test.herald, 1, 3);
    await until(() => got.length === 3);
    await test.restart();
    await publish(test.herald, 4, 6);
    await until(() => ann.state === 'open' && got.length === 6);
    await publish(test.herald, 7, 9);
    await until(() => got.length === 9);
    expect(got).toEqual(Array.from({ length: 9 }, (_, i) => doc(i + 1)));
    const last = topicFrames(frames).slice(-3);
    expect(last.map((frame) => frame.delta !== undefined)).toEqual([false, true, true]);
  });

  it('gets full publications without the delta option', async () => {
    const test = await stage();
    const frames: unknown[] = [];
    const ann = client(test.url, frames, { delta: false });
    const got: DocState[] = [];
    const subscribed = await ann.subscribe('doc/1', (body) => got.push(body)).ready;
    expect(subscribed).not.toHaveProperty('delta');
    await publish(test.herald, 1, 3);
    await until(() => got.length === 3);
    expect(topicFrames(frames).every((frame) => frame.delta === undefined)).toBe(true);
  });
});

describe('delta notifications the client cannot use', () => {
  /** A transport whose server side is the test: a Welcome, then the frames it is given. */
  function scripted(): { transport: Transport; sent: string[]; push: (frame: object) => void } {
    const sent: string[] = [];
    let events: TransportEvents | undefined;
    const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 25_000, pingTimeoutMs: 10_000, authDeadlineMs: 10_000, replayWindow: 100, resumeWindowMs: 120_000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
    const transport: Transport = (handlers) => {
      events = handlers;
      queueMicrotask(() => {
        handlers.onOpen();
        handlers.onMessage(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId: 'S'.repeat(22), protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
      });
      return { send: (text) => sent.push(text), close: () => {} };
    };
    return { transport, sent, push: (frame) => events?.onMessage(JSON.stringify(frame)) };
  }

  it('delivers none: not one of a topic it does not follow (to `on` handlers), nor one that does not apply, which it asks for again in full', async () => {
    const { transport, sent, push } = scripted();
    const gaps: unknown[] = [];
    const ann = createClient<Contract>({ transport, delta: fossilDelta(), onGap: (gap) => gaps.push(gap) });
    clients.push(ann);
    const seen: unknown[] = [];
    ann.on('doc.State', (body) => seen.push(body));
    await until(() => ann.state === 'open');
    push({ kind: 'notification', type: 'doc.State', topic: 'doc/9', offset: 2, delta: 'NVYKVEAwLDE6NE5A' });
    const got: unknown[] = [];
    const subscription = ann.subscribe('doc/1', (body) => got.push(body));
    await until(() => sent.some((frame) => frame.includes('"herald.Subscribe"')));
    const request = JSON.parse(sent.find((frame) => frame.includes('"herald.Subscribe"')) as string) as { id: string; body: object };
    expect(request.body).toEqual({ topic: 'doc/1', delta: 'fossil' });
    push({ kind: 'resp', reqId: request.id, type: 'herald.Subscribe', code: 200, body: { topic: 'doc/1', epoch: 'e1', offset: 0, delta: 'fossil' } });
    await subscription.ready;
    push({ kind: 'notification', type: 'doc.State', topic: 'doc/1', offset: 1, body: doc(1) });
    // A delta made against another body than the one held: the checksum fails.
    const utf8 = new TextEncoder();
    const wrong = fossilDelta().create(utf8.encode(JSON.stringify(doc(7))), utf8.encode(JSON.stringify(doc(8))));
    push({ kind: 'notification', type: 'doc.State', topic: 'doc/1', offset: 2, delta: Buffer.from(wrong).toString('base64') });
    await until(() => sent.filter((frame) => frame.includes('"herald.Subscribe"')).length === 2);
    expect(JSON.parse(sent.filter((frame) => frame.includes('"herald.Subscribe"'))[1] as string).body).toEqual({ topic: 'doc/1', since: { epoch: 'e1', offset: 1 }, delta: 'fossil' });
    expect(got).toEqual([doc(1)]);
    expect(seen).toEqual([doc(1)]);
    expect(gaps).toEqual([{ topic: 'doc/1', last: 1, received: 2 }]);
  });
});
