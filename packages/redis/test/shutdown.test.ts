/**
 * Graceful shutdown of a real process (`test/shutdown-node.ts`) serving long-poll, with its
 * connections in memory and in Redis: SIGTERM answers a held poll with the session's Goodbye
 * and `closed` 4503, the node answers opens and upgrades with 503 while it drains, and it exits
 * 0. With Redis, a poll it holds for a connection another node holds is answered, not cut.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLongPollHandler, type LongPollHandler } from '@herald/long-poll';
import { createConformanceHerald } from '@herald/testing/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RedisBroker } from '../src/broker.ts';
import { RedisLongPollStore } from '../src/long-poll-store.ts';
import { RedisSessionStore } from '../src/session-store.ts';
import { startRedis, type RedisServer } from '../src/testing/index.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
/**
 * The node's longest drain, which a send whose body never completes keeps it at: long enough
 * that an open sent after the held poll's answer lands in it, on a loaded machine too.
 */
const DRAIN_MS = 3000;
/** The node's poll hold: a poll answered well before it was answered by the shutdown. */
const HOLD_MS = 20_000;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

async function startNode(store: 'memory' | 'redis', prefix: string): Promise<{ child: ChildProcess; origin: string }> {
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'test/shutdown-node.ts'], {
    cwd: packageDir,
    env: { ...process.env, STORE: store, REDIS_URL: redis.url, PREFIX: prefix, DRAIN_MS: String(DRAIN_MS) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const port = /^listening (\d+)$/.exec(line)?.[1];
    if (port !== undefined) return { child, origin: `http://127.0.0.1:${port}` };
  }
  throw new Error(`the node exited (${child.exitCode}) before it listened`);
}

const PROTOCOL = { 'herald-protocol': 'herald.v1' };
const AUTH = { authorization: 'Bearer user:ann' };

interface PollBody {
  readonly from: number;
  readonly messages: Array<{ type?: string; body?: { code?: number; topic?: string } }>;
  readonly closed?: { code: number; reason: string };
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

const poll = (fetcher: Fetch, origin: string, sid: string, cursor: number): Promise<Response> =>
  fetcher(`${origin}/lp/poll?ack=${cursor}`, { headers: { 'herald-session': sid, ...AUTH } });

/** Opens an authenticated connection and reads until its `$all` subscription has arrived: the next poll is held. */
async function openSettled(fetcher: Fetch, origin: string): Promise<{ sid: string; cursor: number }> {
  const response = await fetcher(`${origin}/lp`, { method: 'POST', headers: { ...PROTOCOL, ...AUTH } });
  expect(response.status).toBe(200);
  const opened = (await response.json()) as PollBody & { sid: string };
  const sid = opened.sid;
  let body: PollBody = opened;
  for (;;) {
    const cursor = body.from + body.messages.length - 1;
    if (body.messages.some((message) => message.type === 'herald.Subscribed')) return { sid, cursor };
    body = (await (await poll(fetcher, origin, sid, cursor)).json()) as PollBody;
  }
}

/** Whether `answer` is still pending after a moment: the poll is held. */
async function held(answer: Promise<Response>): Promise<boolean> {
  return (await Promise.race([answer.then(() => false), new Promise((resolve) => setTimeout(resolve, 300, true))])) === true;
}

/**
 * A send that announces a body and never sends all of it: a request in flight until the node
 * stops. Resolves once its head is written: the node reads it before any request sent after.
 */
async function slowSend(origin: string, sid: string): Promise<Socket> {
  const url = new URL(origin);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const head =
    `POST /lp/send HTTP/1.1\r\nhost: ${url.host}\r\nherald-session: ${sid}\r\nauthorization: ${AUTH.authorization}\r\n` +
    'content-type: application/json\r\ncontent-length: 100\r\n\r\n["';
  await new Promise((resolve) => socket.write(head, resolve));
  return socket;
}

/** Another node on the same Redis, in this process, serving long-poll through `fetch`. */
async function peerNode(prefix: string): Promise<{ fetch: Fetch; close: () => Promise<void> }> {
  const sessionStore = new RedisSessionStore({ redis: redis.url, prefix });
  const store = new RedisLongPollStore({ redis: redis.url, sessionStore });
  const broker = new RedisBroker({ redis: redis.url, prefix });
  await Promise.all([sessionStore.ready, store.ready]);
  const herald = createConformanceHerald({ pingIntervalMs: 600_000 }, { broker, sessionStore });
  const handler: LongPollHandler = createLongPollHandler(herald, { store, pollTimeoutMs: 500 });
  return {
    fetch: (input, init) => handler.fetch(new Request(input, init)),
    close: async () => {
      await herald.close();
      await handler.close();
      await Promise.all([store.disconnect(), sessionStore.close(), broker.close()]);
    },
  };
}

/** The status a native WebSocket upgrade is answered with. */
function upgradeStatus(origin: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${origin.replace('http', 'ws')}/ws`, 'herald.v1', { headers: AUTH });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => {
      resolve(101);
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

let nodes = 0;

describe.each(['memory', 'redis'] as const)('SIGTERM of a uWS node with long-poll connections in %s', (store) => {
  it('answers the held poll with Goodbye and closed 4503, refuses opens and upgrades with 503 while it drains, and exits 0', async () => {
    const prefix = `shutdown-${++nodes}:`;
    const { child, origin } = await startNode(store, prefix);
    const exited = once(child, 'exit');
    const peer = store === 'redis' ? await peerNode(prefix) : undefined;
    const cleanups: Array<() => void> = [];
    try {
      const own = await openSettled(fetch, origin);
      const ownPoll = poll(fetch, origin, own.sid, own.cursor);
      expect(await held(ownPoll)).toBe(true);
      // A connection the peer holds, whose poll is held on the node.
      const other = peer === undefined ? undefined : await openSettled(peer.fetch, origin);
      const otherPoll = other === undefined ? undefined : poll(fetch, origin, other.sid, other.cursor);
      if (otherPoll !== undefined) expect(await held(otherPoll)).toBe(true);
      const slow = await slowSend(origin, own.sid);
      cleanups.push(() => slow.destroy());
      // A round trip after it: the node has the slow send in hand, and upgrades work until the shutdown.
      expect(await upgradeStatus(origin)).toBe(101);

      child.kill('SIGTERM');
      const termAt = Date.now();
      const answer = await ownPoll;
      expect(answer.status).toBe(200);
      const body = (await answer.json()) as PollBody;
      expect(body.messages.at(-1)).toEqual({ kind: 'notification', type: 'herald.Goodbye', body: { code: 4503, reason: 'server shutting down' } });
      expect(body.closed).toEqual({ code: 4503, reason: 'server shutting down' });

      const open = await fetch(`${origin}/lp`, { method: 'POST', headers: { ...PROTOCOL, ...AUTH } });
      expect(open.status).toBe(503);
      expect(await open.json()).toMatchObject({ error: 'shutting_down' });
      expect(await upgradeStatus(origin)).toBe(503);

      if (otherPoll !== undefined && other !== undefined && peer !== undefined) {
        // Answered with what there is, at the end of the drain rather than of the hold; the connection goes on on its holder.
        const answered = await otherPoll;
        expect(Date.now() - termAt).toBeLessThan(HOLD_MS - 5000);
        expect(answered.status).toBe(200);
        expect(await answered.json()).toEqual({ from: other.cursor + 1, messages: [] });
        const next = await poll(peer.fetch, origin, other.sid, other.cursor);
        expect(next.status).toBe(200);
        expect(((await next.json()) as PollBody).closed).toBeUndefined();
      }

      const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      console.log(`${store}: SIGTERM to exit ${Date.now() - termAt} ms (drain ${DRAIN_MS} ms)`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const cleanup of cleanups) cleanup();
      await peer?.close();
    }
  }, 60_000);
});
