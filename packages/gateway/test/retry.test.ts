/**
 * Requests in flight when a backend dies: two backends on one Redis behind the gateway, and the
 * backend holding the clients' sessions killed (SIGKILL) while requests are on their way or
 * running there. The gateway resumes each session on the other backend and sends the unanswered
 * requests again with their ids: each is answered exactly once, with its answer, or `409`
 * `outcome_unknown` when it was running on the node that died; no client loses its socket.
 */
import { startRedis, type RedisServer } from '@herald/redis/testing';
import { connect, eventually, type Tester } from '@herald/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { serveGateway, type Gateway } from '../src/index.ts';
import { startBackend, START_BOUND_MS, type BackendProcess } from './processes.ts';

const CLIENTS = Number(process.env['HERALD_GATEWAY_CLIENTS'] ?? 20);
/** Requests each client keeps outstanding during the load test. */
const WINDOW = 4;
/** Only bounds a hung test: a relink waits for the dead node's records to expire in Redis (1.5 s). */
const ANSWER_BOUND_MS = 60_000;
const quiet = { debug() {}, info: (fields: object, message: string) => process.env['DEBUG_GW'] && console.log(message, fields), warn: (fields: object, message: string) => console.log(message, fields), error: (fields: object, message: string) => console.log(message, fields) };

let redis: RedisServer;
const backends: BackendProcess[] = [];
const ports: number[] = [];
let gateway: Gateway;

async function start(i: number): Promise<void> {
  const backend = await startBackend({ REDIS_URL: redis.url, NODE: `node-${i}` }, ports[i]);
  backends[i] = backend;
  ports[i] = backend.port;
}

/** The backend a client's session is on now. */
async function nodeOf(tester: Tester): Promise<number> {
  const where = await tester.request('test.Where', {}, { timeoutMs: ANSWER_BOUND_MS });
  return Number(String((where.body as { node: string }).node).slice('node-'.length));
}

function answers(tester: Tester, id: string) {
  return tester.log.filter((message) => message.kind === 'resp' && message.reqId === id) as { code: number; body?: { error?: string; text?: string } }[];
}

beforeAll(async () => {
  redis = await startRedis();
  await Promise.all([start(0), start(1)]);
  gateway = await serveGateway({
    backends: ports.map((port) => `ws://127.0.0.1:${port}/ws`),
    port: 0,
    host: '127.0.0.1',
    healthIntervalMs: 200,
    relinkTimeoutMs: 30_000,
    logger: quiet,
  });
}, 2 * START_BOUND_MS);

afterAll(async () => {
  await gateway?.close();
  await Promise.all(backends.map((backend) => backend.kill()));
  await redis?.stop();
});

it('a request running on a killed node is answered 409 outcome_unknown once, one it never read is run on the next node', async () => {
  const tester = await connect(`ws://127.0.0.1:${gateway.port}/ws`, { headers: { authorization: 'Bearer user:retry-one' }, timeoutMs: ANSWER_BOUND_MS });
  const victim = await nodeOf(tester);
  const killed = backends[victim]!;
  // Running on the victim: its answer to the echo sent after it means the node has begun it in Redis.
  tester.send({ kind: 'req', id: 'slow', type: 'test.Slow', body: { ms: 600_000 } });
  await tester.request('test.Echo', { text: 'after slow' }, { id: 'echo-0' });
  // Frozen, the victim reads nothing more: this one stays in its socket buffer, never begun.
  killed.process.kill('SIGSTOP');
  const relayed = gateway.stats.framesToBackend;
  tester.send({ kind: 'req', id: 'unread', type: 'test.Echo', body: { text: 'sent to a frozen node' } });
  await eventually(() => expect(gateway.stats.framesToBackend).toBe(relayed + 1), ANSWER_BOUND_MS);
  const exited = new Promise((resolve) => killed.process.once('exit', resolve));
  killed.process.kill('SIGKILL');
  await exited;

  await eventually(() => {
    expect(answers(tester, 'slow')).toHaveLength(1);
    expect(answers(tester, 'unread')).toHaveLength(1);
  }, ANSWER_BOUND_MS, 20);
  expect(answers(tester, 'slow')[0]).toMatchObject({ code: 409, body: { error: 'outcome_unknown' } });
  expect(answers(tester, 'unread')[0]).toMatchObject({ code: 200, body: { text: 'sent to a frozen node' } });
  expect(gateway.stats.requestsRetried).toBeGreaterThanOrEqual(2);
  // The same socket, now on the other node; no second answer to either request comes after.
  expect(await nodeOf(tester)).toBe(1 - victim);
  await tester.expectNothing(500, (message) => message.kind === 'resp' && (message.reqId === 'slow' || message.reqId === 'unread'));
  expect(answers(tester, 'slow')).toHaveLength(1);
  expect(answers(tester, 'unread')).toHaveLength(1);
  expect(tester.closeInfo).toBeUndefined();
  await tester.close();
  await start(victim);
  await eventually(() => expect(gateway.backends.every((backend) => backend.healthy)).toBe(true), ANSWER_BOUND_MS, 50);
}, 3 * ANSWER_BOUND_MS);

/** A client on a raw socket keeping WINDOW echo requests outstanding, counting the answers to each id. */
interface Sender {
  readonly socket: WebSocket;
  /** Answers per request number, and the first answer of each. */
  readonly answers: Map<number, { count: number; code: number; error?: string; text?: string }>;
  sent: number;
  closed: boolean;
  /** How the socket ended, and any error `ws` saw (a frame it refused closes it with 1006 on its side). */
  end?: string;
}

function sender(userId: string, running: () => boolean): Promise<Sender> {
  const socket = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws`, 'herald.v1', { headers: { authorization: `Bearer user:${userId}` } });
  const state: Sender = { socket, answers: new Map(), sent: 0, closed: false };
  const send = (): void => {
    const n = ++state.sent;
    socket.send(JSON.stringify({ kind: 'req', id: `r${n}`, type: 'test.Echo', body: { text: `r${n}` } }));
  };
  const opened = Date.now();
  return new Promise((resolve, reject) => {
    socket.on('error', (error) => {
      state.end = `${state.end ?? ''} error "${error.message}" at ${Date.now() - opened} ms`;
      reject(error);
    });
    socket.on('close', (code, reason) => {
      state.closed = true;
      state.end = `${state.end ?? ''} closed ${code} "${String(reason)}" at ${Date.now() - opened} ms, after ${state.answers.size} answers`;
    });
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { kind: string; type?: string; reqId?: string; code?: number; body?: { error?: string; text?: string } };
      if (message.type === 'herald.Welcome') {
        resolve(state);
        for (let i = 0; i < WINDOW; i++) send();
      } else if (message.kind === 'resp' && message.reqId?.startsWith('r') === true) {
        const n = Number(message.reqId.slice(1));
        const seen = state.answers.get(n);
        if (seen !== undefined) seen.count++;
        else state.answers.set(n, { count: 1, code: message.code ?? 0, ...(message.body?.error === undefined ? {} : { error: message.body.error }), ...(message.body?.text === undefined ? {} : { text: message.body.text }) });
        // Each answer lets the next request go: WINDOW outstanding at any time.
        if (running()) send();
      }
    });
  });
}

it(`${CLIENTS} clients sending requests without pause lose none and get none twice when a node is killed`, async () => {
  let sending = true;
  const senders = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => sender(`load-${i}`, () => sending)));
  // Which node each session is on: the gateway spreads them round-robin over the two.
  const victim = 0;
  const moved = gateway.backends.find((backend) => backend.url.includes(`:${ports[victim]}/`))?.links ?? 0;
  expect(moved).toBeGreaterThan(0);
  const relinks = gateway.stats.relinks;
  // A sender stalled here has not been touched by a kill yet: say which, and what the gateway counted.
  const stalled = (error: unknown): never => {
    const counts = senders.map((s, i) => `load-${i}: ${s.answers.size}/${s.sent}${s.end ?? ''}`).join(', ');
    throw new Error(`${String(error)}; answers/sent ${counts}; gateway stats ${JSON.stringify(gateway.stats)}`);
  };
  await eventually(() => expect(Math.min(...senders.map((s) => s.answers.size))).toBeGreaterThan(20), ANSWER_BOUND_MS, 20).catch(stalled);
  await backends[victim]!.kill();
  await eventually(() => expect(gateway.stats.relinks).toBe(relinks + moved), ANSWER_BOUND_MS, 50);
  const after = senders.map((s) => s.answers.size);
  await eventually(() => expect(senders.every((s, i) => s.answers.size > after[i]! + 20)).toBe(true), ANSWER_BOUND_MS, 20);
  sending = false;
  await eventually(() => expect(senders.every((s) => s.answers.size === s.sent)).toBe(true), ANSWER_BOUND_MS, 50);
  // A second answer would come from the cache or the store right after the first: give it the time a relink takes.
  await new Promise((resolve) => setTimeout(resolve, 1000));

  const totals = { requests: 0, answered: 0, twice: 0, outcomeUnknown: 0, otherwise: 0, closed: 0 };
  for (const s of senders) {
    for (let n = 1; n <= s.sent; n++) {
      const got = s.answers.get(n);
      totals.requests++;
      if (got === undefined) continue;
      totals.answered++;
      if (got.count > 1) totals.twice++;
      if (got.code === 409 && got.error === 'outcome_unknown') totals.outcomeUnknown++;
      else if (got.code !== 200 || got.text !== `r${n}`) totals.otherwise++;
    }
    if (s.closed) totals.closed++;
  }
  console.log(
    `retry: ${CLIENTS} clients, ${moved} moved off the killed node, ${totals.requests} requests (${WINDOW} outstanding each); ` +
      `retried by the gateway ${gateway.stats.requestsRetried}, answered 409 outcome_unknown ${totals.outcomeUnknown}, twice ${totals.twice}, otherwise ${totals.otherwise}, clients closed ${totals.closed}`,
  );
  expect(totals).toMatchObject({ answered: totals.requests, twice: 0, otherwise: 0, closed: 0 });
  expect(gateway.stats.relinkFailures).toBe(0);
  for (const s of senders) s.socket.close(1000);
}, 4 * ANSWER_BOUND_MS);
