/**
 * The chaos run: the cluster, the clients behind the fault proxy, then `seconds` under fire —
 * a publishing round every `tickMs` (a message to every topic, a private notification to every
 * client, a request from every client every few rounds), a node SIGKILLed and restarted every
 * `killEveryMs`, Redis restarted once half-way, links frozen and reset at random — then a
 * drain, and the report.
 */
import { RedisBroker, RedisSessionStore } from '@herald/redis';
import { startFaultProxy, type ChaosOptions, type FaultProxy, type Faults } from '@herald/testing/node';
import { Redis } from 'ioredis';
import { createChaosHerald } from './app.ts';
import { startCluster, type ClusterNode } from './cluster.ts';
import type { ChaosConfig } from './config.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { ObservedClient } from './observed-client.ts';
import { startPressure } from './pressure.ts';
import type { ProcessGroup } from './process-group.ts';
import { buildReport, KillRecord, type ChaosReport } from './report.ts';
import { RequestTally } from './request-tally.ts';

const NODES = 3;
/** Every link, both directions, all the time. */
const LINK_FAULTS: Faults = {
  latencyMs: 20,
  jitterMs: 10,
  bandwidthBytesPerSecond: 256 * 1024,
  slicer: { averageBytes: 512, sizeVariationBytes: 256, delayUs: 50 },
};
/** Per link and second; freezes outlast the keep-alive (8 s) now and then, so both ends must find a half-open link dead. */
const LINK_CHAOS: ChaosOptions = { everyMs: 1000, resetProbability: 0.001, freezeProbability: 0.002, freezeMs: { min: 1000, max: 12_000 } };
const REQUEST_EVERY_ROUNDS = 4;
const REQUEST_TIMEOUT_MS = 30_000;
/** After the fire: time for every client to catch up. */
const DRAIN_MS = 30_000;
const CONNECT_BATCH = 50;
const SETUP_TIMEOUT_MS = 120_000;
const REDIS_DOWN_MS = 1000;
const PROGRESS_EVERY_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runChaos(config: ChaosConfig, group: ProcessGroup, log: (line: string) => void): Promise<ChaosReport> {
  if (config.pressure) startPressure(group);
  const cluster = await startCluster(group, NODES);
  log(`cluster: ${NODES} nodes behind haproxy on 127.0.0.1:${cluster.haproxy.port}, Redis on ${cluster.redis.port}, ledger on ${cluster.ledger.port}`);
  const proxy: FaultProxy = await startFaultProxy({ upstream: { port: cluster.haproxy.port }, faults: LINK_FAULTS });
  const ledger = new Redis(cluster.ledger.url);
  const publisherStore = new RedisSessionStore({ redis: cluster.redis.url });
  const publisherBroker = new RedisBroker({ redis: cluster.redis.url });
  const publisherLedger = new Redis(cluster.ledger.url);
  await publisherStore.ready;
  const publisher = createChaosHerald({ broker: publisherBroker, sessionStore: publisherStore, ledger: publisherLedger, nodeId: 'publisher' });

  const latency = new LatencyHistogram();
  const requests = new RequestTally();
  let clientErrors = 0;
  const clients: ObservedClient[] = [];
  try {
    // In batches, so that a thousand handshakes at once on a busy machine do not time out.
    for (let index = 0; index < config.clients; index += CONNECT_BATCH) {
      const batch: ObservedClient[] = [];
      for (let i = index; i < Math.min(config.clients, index + CONNECT_BATCH); i++) {
        batch.push(
          new ObservedClient({
            index: i,
            origin: `127.0.0.1:${proxy.port}`,
            topics: config.topics,
            requestTimeoutMs: REQUEST_TIMEOUT_MS,
            latency,
            requests,
            onError: () => clientErrors++,
          }),
        );
      }
      clients.push(...batch);
      await withDeadline(Promise.all(batch.map((client) => client.subscribe())), SETUP_TIMEOUT_MS, `the subscriptions of clients ${index}…${index + batch.length - 1}`);
    }
    log(`${config.clients} clients subscribed through the fault proxy on 127.0.0.1:${proxy.port}; ${config.seconds} s under fire`);

    const startedAt = Date.now();
    const endAt = startedAt + config.seconds * 1000;
    const chaos = proxy.chaos(LINK_CHAOS);
    const kills: KillRecord[] = [];
    let redisRestarts = 0;
    let rounds = 0;
    let publishFailed = 0;
    /** When each round was published, by its n (index 0 unused). */
    const roundAt: number[] = [0];
    const topicExpected: number[][] = Array.from({ length: config.topics }, () => []);

    /** The first error of a background task (a node that would not start again, Redis that would not): it ends the run. */
    let failure: unknown;
    const background = (task: () => Promise<void>): Promise<void> =>
      task().catch((error: unknown) => {
        failure ??= error;
      });
    const killer = background(async () => {
      for (let next = startedAt + config.killEveryMs; next < endAt; next += config.killEveryMs) {
        await sleep(next - Date.now());
        if (Date.now() >= endAt) break;
        const node = cluster.nodes[kills.length % NODES] as ClusterNode;
        const on = clients.filter((client) => client.node === node.id);
        const kill = new KillRecord(node.id, Date.now(), on.length);
        await cluster.kill(node);
        kills.push(kill);
        for (const client of on) client.watchRecovery(kill.at, kill);
        await cluster.start(node);
        log(`kill ${kills.length}: ${kill.node} SIGKILLed with ${on.length} clients on it, back as ${node.id} after ${Date.now() - kill.at} ms`);
      }
    });
    const redisRestart = background(async () => {
      await sleep(startedAt + (config.seconds * 1000) / 2 - Date.now());
      await cluster.redis.kill();
      await sleep(REDIS_DOWN_MS);
      await cluster.redis.start();
      redisRestarts++;
      log(`Redis SIGKILLed and started again, empty, after ${REDIS_DOWN_MS} ms`);
    });
    const progress = setInterval(() => {
      const stats = proxy.stats();
      const open = clients.filter((client) => client.client.state === 'open').length;
      log(
        `t+${Math.round((Date.now() - startedAt) / 1000)} s: round ${rounds}, ${open}/${clients.length} open, kills ${kills.length}, ` +
          `links ${stats.links} (${stats.frozenLinks} frozen, ${stats.resets} reset so far), p99 ${latency.percentile(0.99)} ms`,
      );
    }, PROGRESS_EVERY_MS);

    try {
      while (Date.now() < endAt) {
        if (failure !== undefined) throw failure;
        const n = ++rounds;
        const t = Date.now();
        roundAt.push(t);
        const sends: Promise<unknown>[] = [];
        topicExpected.forEach((expected, topic) =>
          sends.push(
            publisher.publish(`room/${topic}`, 'chaos.Tick', { n, t }).then(
              () => expected.push(n),
              () => publishFailed++,
            ),
          ),
        );
        for (const client of clients) {
          sends.push(
            publisher.sendToUser(client.userId, 'chaos.Private', { n, t }).then(
              () => client.privateExpected.push(n),
              () => publishFailed++,
            ),
          );
          if (n % REQUEST_EVERY_ROUNDS === 0) client.request(`${client.userId}-${n}`);
        }
        await Promise.all(sends);
        await sleep(t + config.tickMs - Date.now());
      }
      await Promise.all([killer, redisRestart]);
      if (failure !== undefined) throw failure;
    } finally {
      clearInterval(progress);
      chaos.stop();
    }
    const firedMs = Date.now() - startedAt;
    log(`fire over after ${Math.round(firedMs / 1000)} s (${rounds} rounds); draining`);

    const last = (rounds: readonly number[]): number => rounds[rounds.length - 1] ?? 0;
    const caughtUp = (client: ObservedClient): boolean =>
      client.topic.highest >= last(topicExpected[client.topicIndex] as number[]) && client.privates.highest >= last(client.privateExpected);
    const drainUntil = Date.now() + DRAIN_MS;
    await Promise.all([
      (async () => {
        while (Date.now() < drainUntil && !clients.every(caughtUp)) await sleep(200);
      })(),
      requests.settle(REQUEST_TIMEOUT_MS + 5000),
    ]);
    const behind = clients.filter((client) => !caughtUp(client));
    for (const client of behind.slice(0, 10)) {
      log(
        `behind: ${client.userId} (${client.longPoll ? 'long-poll' : 'websocket'}) ${client.client.state}, ` +
          `topic at ${client.topic.highest}/${last(topicExpected[client.topicIndex] as number[])}, private at ${client.privates.highest}/${last(client.privateExpected)}, ` +
          `last close ${JSON.stringify(client.client.lastClose)}`,
      );
    }

    return buildReport({
      config,
      clients,
      topicExpected,
      publishedAt: (n) => roundAt[n] ?? 0,
      rounds,
      publishFailed,
      kills,
      redisRestarts,
      latency,
      requests: await requests.figures(ledger),
      faults: proxy.stats(),
      clientErrors,
      behind: behind.length,
    });
  } finally {
    for (const client of clients) client.client.close();
    await publisher.close().catch(() => {});
    await Promise.all([publisherStore.close(), publisherBroker.close()]).catch(() => {});
    publisherLedger.disconnect();
    ledger.disconnect();
    await proxy.close();
  }
}
