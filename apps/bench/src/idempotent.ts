/**
 * What an idempotency key costs a publish (bench scenario 11): `herald.publish` with and
 * without `{ idempotencyKey }`, 100 in flight, on `MemoryBroker` and on `RedisBroker` (a local
 * redis-server), in interleaved rounds so the machine's drifts cancel. Prints one line of JSON:
 * publishes per second per round, `{ memory: { plain, keyed }, redis: { plain, keyed } }`.
 *
 *   node --conditions=@herald/source --import tsx src/idempotent.ts [--smoke]
 */
import { createHerald, defineContract, MemoryBroker, type Broker } from '@herald/core';
import { z } from 'zod';
import { RedisBroker } from '@herald/redis';
import { startRedis } from '@herald/redis/testing';

const smoke = process.argv.includes('--smoke');
const PER_ROUND = smoke ? 2_000 : 50_000;
const ROUNDS = smoke ? 2 : 6;
const IN_FLIGHT = 100;

const contract = defineContract({ requests: {}, notifications: { 'bench.Tick': { body: z.object({ n: z.number() }) } } });

let nextKey = 0;
async function round(broker: Broker, keyed: boolean): Promise<number> {
  const herald = createHerald({ contract, handlers: {}, broker });
  const topic = `bench/${keyed ? 'keyed' : 'plain'}/${nextKey}`;
  const start = performance.now();
  for (let i = 0; i < PER_ROUND; i += IN_FLIGHT) {
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, (_, j) =>
        herald.publish(topic, 'bench.Tick', { n: i + j }, keyed ? { idempotencyKey: `order-${nextKey++}` } : undefined),
      ),
    );
  }
  const perSecond = (PER_ROUND * 1000) / (performance.now() - start);
  await herald.close();
  return perSecond;
}

async function measure(broker: Broker): Promise<{ plain: number[]; keyed: number[] }> {
  const plain: number[] = [];
  const keyed: number[] = [];
  await round(broker, false);
  await round(broker, true);
  for (let r = 0; r < ROUNDS; r++) {
    // Alternating which goes first, so neither always runs on a warmer process.
    if (r % 2 === 0) {
      plain.push(await round(broker, false));
      keyed.push(await round(broker, true));
    } else {
      keyed.push(await round(broker, true));
      plain.push(await round(broker, false));
    }
  }
  return { plain, keyed };
}

const memory = await measure(new MemoryBroker({ historySize: 100 }));
const redis = await startRedis();
const broker = new RedisBroker({ redis: redis.url, historySize: 100 });
const onRedis = await measure(broker);
await broker.close();
await redis.stop();
console.log(JSON.stringify({ memory, redis: onRedis }));
