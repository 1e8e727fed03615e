/**
 * What an idempotency key costs a publish (bench scenario 11): `herald.publish` with and
 * without `{ idempotencyKey }`, 100 in flight, on `MemoryBroker` (to a topic nobody subscribes
 * to, and to one with 10 subscribed sessions on in-process sockets that count what they are
 * sent) and on `RedisBroker` (a local redis-server), in interleaved rounds so the machine's
 * drifts cancel. Prints one line of JSON: publishes per second per round,
 * `{ memory: { plain, keyed }, memorySubscribed: { plain, keyed }, redis: { plain, keyed } }`.
 *
 *   node --conditions=@herald/source --import tsx src/idempotent.ts [--smoke]
 */
import { createHerald, defineContract, MemoryBroker, type Broker, type Herald, type HeraldSocket } from '@herald/core';
import { z } from 'zod';
import { RedisBroker } from '@herald/redis';
import { startRedis } from '@herald/redis/testing';

const smoke = process.argv.includes('--smoke');
const PER_ROUND = smoke ? 2_000 : 50_000;
const ROUNDS = smoke ? 2 : 6;
const IN_FLIGHT = 100;
const SUBSCRIBERS = 10;

const contract = defineContract({ requests: {}, notifications: { 'bench.Tick': { body: z.object({ n: z.number() }) } } });

/** A socket that only counts the frames it is sent. */
class CountingSocket implements HeraldSocket {
  frames = 0;
  readonly bufferedAmount = 0;
  refused: string | undefined;
  send(frame: string | Uint8Array): void {
    if (this.frames < 3 && typeof frame === 'string' && frame.includes('"herald.Subscribe","code":') && !frame.includes('"code":200')) this.refused = frame;
    this.frames++;
  }
  close(): void {}
}

/** Opens `count` sessions subscribed to `topic` through the server's real upgrade and session code. */
async function subscribe(herald: Herald<typeof contract>, topic: string, count: number): Promise<CountingSocket[]> {
  const sockets: CountingSocket[] = [];
  for (let i = 0; i < count; i++) {
    const decision = await herald.upgrade({ url: 'ws://localhost/ws', headers: new Headers({ host: 'localhost', 'sec-websocket-protocol': 'herald.v1' }) });
    if (!decision.ok) throw new Error(`upgrade refused: ${decision.status}`);
    const socket = new CountingSocket();
    herald.open(socket, decision).receive(JSON.stringify({ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic } }));
    sockets.push(socket);
  }
  // Welcome and the subscription's answer. A new session holds notifications back until it
  // settles (a second, or its Resume): a first publish every subscriber has means it settled.
  await until(() => sockets.every((socket) => socket.frames >= 2), () => 'subscribers were not answered');
  const refused = sockets.find((socket) => socket.refused !== undefined)?.refused;
  if (refused !== undefined) throw new Error(`subscribe refused: ${refused}`);
  await herald.publish(topic, 'bench.Tick', { n: -1 });
  await until(() => sockets.every((socket) => socket.frames >= 3), () => 'subscribers did not settle');
  for (const socket of sockets) socket.frames = 0;
  return sockets;
}

async function until(done: () => boolean, failure: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(failure());
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

let nextKey = 0;
async function round(broker: Broker, keyed: boolean, subscribers: number): Promise<number> {
  const herald = createHerald({ contract, handlers: {}, broker, canSubscribe: () => true });
  const topic = `bench/${keyed ? 'keyed' : 'plain'}/${nextKey}`;
  const sockets = await subscribe(herald, topic, subscribers);
  const start = performance.now();
  for (let i = 0; i < PER_ROUND; i += IN_FLIGHT) {
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, (_, j) =>
        herald.publish(topic, 'bench.Tick', { n: i + j }, keyed ? { idempotencyKey: `order-${nextKey++}` } : undefined),
      ),
    );
  }
  const perSecond = (PER_ROUND * 1000) / (performance.now() - start);
  const delivered = () => sockets.reduce((sum, socket) => sum + socket.frames, 0);
  await until(() => delivered() >= subscribers * PER_ROUND, () => `subscribers got ${delivered()} notifications, not ${subscribers * PER_ROUND}`);
  await herald.close();
  return perSecond;
}

async function measure(broker: Broker, subscribers = 0): Promise<{ plain: number[]; keyed: number[] }> {
  const plain: number[] = [];
  const keyed: number[] = [];
  await round(broker, false, subscribers);
  await round(broker, true, subscribers);
  for (let r = 0; r < ROUNDS; r++) {
    // Alternating which goes first, so neither always runs on a warmer process.
    if (r % 2 === 0) {
      plain.push(await round(broker, false, subscribers));
      keyed.push(await round(broker, true, subscribers));
    } else {
      keyed.push(await round(broker, true, subscribers));
      plain.push(await round(broker, false, subscribers));
    }
  }
  return { plain, keyed };
}

const memory = await measure(new MemoryBroker({ historySize: 100 }));
const memorySubscribed = await measure(new MemoryBroker({ historySize: 100 }), SUBSCRIBERS);
const redis = await startRedis();
const broker = new RedisBroker({ redis: redis.url, historySize: 100 });
const onRedis = await measure(broker);
await broker.close();
await redis.stop();
console.log(JSON.stringify({ memory, memorySubscribed, redis: onRedis }));
