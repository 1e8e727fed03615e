/**
 * Presence across nodes when a node dies: a child process holds the sessions of five users on a
 * room and is SIGKILLed (no goodbye, no leave). The watching node, on the same Redis, gets a
 * leave for each within the bounded time (node timeout plus a heartbeat), and the member list
 * then holds no stale member.
 */
import type { NotificationMessage, PresenceDiffBody, ResponseMessage } from '@herald/core';
import { connectMemory } from '@herald/core/testing';
import { eventually } from '@herald/testing';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../src/testing/redis-server.ts';
import { NODE_TIMEOUT_MS, presenceNode } from './presence-app.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = 'pkill:';
const USERS = ['u1', 'u2', 'u3', 'u4', 'u5'];

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

it("removes a killed node's members within its heartbeat timeout, with a leave for each", async () => {
  const watcher = await presenceNode(redis.url, PREFIX);
  let child: ChildProcess | undefined;
  try {
    const socket = await connectMemory(watcher.herald, { authorization: 'Bearer watcher' });
    socket.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/kill' } });
    const diffs = () =>
      socket.received
        .filter((e): e is NotificationMessage => e.kind === 'notification' && e.type === 'herald.PresenceDiff')
        .map((e) => e.body as PresenceDiffBody);
    child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'test/presence-node.ts'], {
      cwd: packageDir,
      env: { ...process.env, REDIS_URL: redis.url, PREFIX, USERS: USERS.join(',') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
    for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) if (line === 'joined') break;
    await eventually(() => expect(diffs().flatMap((d) => d.joins.map((m) => m.userId)).sort()).toEqual(['watcher', ...USERS].sort()), 30_000);

    child.kill('SIGKILL');
    await exited;
    const killedAt = Date.now();
    await eventually(() => expect(diffs().flatMap((d) => d.leaves).sort()).toEqual(USERS), 60_000, 20);
    const tookMs = Date.now() - killedAt;
    console.log(`${USERS.length} members of a SIGKILLed node left in ${tookMs} ms (node timeout ${NODE_TIMEOUT_MS} ms)`);

    socket.deliver({ kind: 'req', id: 'who', type: 'herald.Presence', body: { topic: 'room/kill' } });
    await eventually(() => expect(socket.received.find((e): e is ResponseMessage => e.kind === 'resp' && e.reqId === 'who')?.body).toMatchObject({ count: 1, members: [{ userId: 'watcher' }] }), 20_000);
  } finally {
    child?.kill('SIGKILL');
    await watcher.close();
  }
});
