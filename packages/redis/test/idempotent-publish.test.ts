/**
 * Idempotent publishing across a producer's death: a producer process publishes to a topic and
 * sends to a user, each message with an idempotency key, is SIGKILLed mid-way (wherever it is:
 * before, inside or after a publish), and starts again from the first message, as an
 * at-least-once producer does. The subscriber, on another node, gets every message once, in
 * order, on both streams.
 */
import type { Envelope, NotificationMessage, ResponseMessage } from '@herald/core';
import { connectMemory } from '@herald/core/testing';
import { eventually } from '@herald/testing';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startRedis, type RedisServer } from '../src/testing/redis-server.ts';
import { ORDERS_TOPIC, producerNode } from './producer-app.ts';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const PREFIX = 'idem:';
const COUNT = 60;

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis.stop();
});

/** Runs the producer for n = from..to; `until` says, per `sent <n>` line, whether to SIGKILL it there. */
async function produce(from: number, to: number, until: (n: number) => boolean = () => false): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'test/producer.ts'], {
    cwd: packageDir,
    env: { ...process.env, REDIS_URL: redis.url, PREFIX, FROM: String(from), TO: String(to) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let last = 0;
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const n = Number(/^sent (\d+)$/.exec(line)?.[1]);
    if (Number.isNaN(n)) continue;
    last = n;
    if (until(n)) {
      child.kill('SIGKILL');
      break;
    }
  }
  await exited;
  return last;
}

it('publishes and sends to a user once per idempotency key, although the producer is killed mid-way and starts again from the first message', async () => {
  const receiver = await producerNode(redis.url, PREFIX);
  try {
    const socket = await connectMemory(receiver.herald, { authorization: 'Bearer ann' });
    socket.deliver({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: ORDERS_TOPIC } });
    const answered = (id: string) => socket.received.find((m): m is ResponseMessage => m.kind === 'resp' && m.reqId === id);
    await eventually(() => expect(answered('s')?.code).toBe(200), 20_000);
    // Send-to-user reaches the sessions Redis knows of: wait until this one is recorded there.
    const check = new Redis(redis.url);
    const sessionId = (socket.received[0] as Envelope & { body: { sessionId: string } }).body.sessionId;
    await eventually(async () => expect(await check.sismember(`${PREFIX}u:ann`, sessionId)).toBe(1), 20_000);
    check.disconnect();

    // Killed somewhere after the 20th message: the kill lands while it publishes the next ones.
    const reached = await produce(1, COUNT, (n) => n >= 20);
    expect(reached).toBeGreaterThanOrEqual(20);
    expect(reached).toBeLessThan(COUNT);
    // Its restart redelivers everything from the first message.
    expect(await produce(1, COUNT)).toBe(COUNT);

    const notes = () => socket.received.filter((m): m is NotificationMessage => m.kind === 'notification' && m.type === 'order.Placed');
    const topic = () => notes().filter((m) => m.topic === ORDERS_TOPIC).map((m) => (m.body as { n: number }).n);
    const privates = () => notes().filter((m) => m.topic === undefined).map((m) => (m.body as { n: number }).n);
    const all = Array.from({ length: COUNT }, (_, i) => i + 1);
    await eventually(() => expect([topic().length, privates().length]).toEqual([COUNT, COUNT]), 20_000);
    expect(topic()).toEqual(all);
    expect(privates()).toEqual(all);
    expect(notes().filter((m) => m.topic === ORDERS_TOPIC).map((m) => m.offset)).toEqual(all);
  } finally {
    await receiver.close();
  }
}, 120_000);
