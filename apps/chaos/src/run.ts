/**
 * The chaos run: the cluster, the clients (in client processes of their own) behind the fault
 * proxy, then `seconds` under fire — a publishing round every `tickMs` (a message to every
 * topic, a private notification to every client, a request from every client every few
 * rounds), a node SIGKILLed and restarted every `killEveryMs`, Redis restarted once half-way,
 * links frozen and reset at random — then a drain, and the report.
 */
import { RedisBroker, RedisSessionStore } from '@herald/redis';
import { startFaultProxy, type ChaosOptions, type FaultProxy, type Faults } from '@herald/testing/node';
import { Redis } from 'ioredis';
import { createChaosHerald } from './app.ts';
import { ClientProcesses } from './client-processes.ts';
import { startCluster, type ClusterNode } from './cluster.ts';
import type { ChaosConfig } from './config.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import { clientOfLink, userIdOf } from './observed-client.ts';
import { startPressure } from './pressure.ts';
import type { ProcessGroup } from './process-group.ts';
import { buildReport, type ChaosReport, type FreezeWindow } from './report.ts';
import { requestFigures } from './request-tally.ts';

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
/** After the fire: time for every client to catch up, and for every request to end (by its timeout at the latest). */
const DRAIN_MS = 30_000;
const SETTLE_MS = REQUEST_TIMEOUT_MS + 5000;
const CONNECT_BATCH = 50;
const REDIS_DOWN_MS = 1000;
const PROGRESS_EVERY_MS = 10_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

export async function runChaos(config: ChaosConfig, group: ProcessGroup, log: (line: string) => void): Promise<ChaosReport> {
  if (config.pressure) startPressure(group);
  const cluster = await startCluster(group, NODES);
  log(`cluster: ${NODES} nodes behind haproxy on 127.0.0.1:${cluster.haproxy.port}, Redis on ${cluster.redis.port}, ledger on ${cluster.ledger.port}`);
  const proxy: FaultProxy = await startFaultProxy({ upstream: { port: cluster.haproxy.port }, faults: LINK_FAULTS });
  // ioredis retries on its own; without a listener it prints every failed attempt.
  const ledger = new Redis(cluster.ledger.url).on('error', () => {});
  const publisherStore = new RedisSessionStore({ redis: cluster.redis.url });
  const publisherBroker = new RedisBroker({ redis: cluster.redis.url });
  const publisherLedger = new Redis(cluster.ledger.url).on('error', () => {});
  await publisherStore.ready;
  const publisher = createChaosHerald({ broker: publisherBroker, sessionStore: publisherStore, ledger: publisherLedger, nodeId: 'publisher' });
  let clients: ClientProcesses | undefined;
  try {
    clients = await ClientProcesses.start(
      group,
      { origin: `127.0.0.1:${proxy.port}`, topics: config.topics, requestTimeoutMs: REQUEST_TIMEOUT_MS, batch: CONNECT_BATCH, ledgerUrl: cluster.ledger.url },
      config.clients,
    );
    const workers = clients;
    log(`${config.clients} clients in ${workers.count} processes subscribed through the fault proxy on 127.0.0.1:${proxy.port}; ${config.seconds} s under fire`);

    const startedAt = Date.now();
    const endAt = startedAt + config.seconds * 1000;
    /** Per client, when its links were frozen (`to` undefined: still frozen), to tell recovery from a kill from recovery from a freeze. */
    const frozen: Record<string, FreezeWindow[]> = {};
    const freezing = new Map<number, FreezeWindow>();
    /**
     * A link frozen before its client's first bytes came in has no head yet: a reconnect whose
     * new link froze at once never reaches haproxy. The proxy still reads what the client sends,
     * so the client is known by the thaw, or by the end of the fire for a link still frozen.
     */
    const unattributed = new Map<number, { readonly link: { readonly head: string }; readonly window: FreezeWindow }>();
    const attribute = (link: { readonly head: string }, window: FreezeWindow): boolean => {
      const client = clientOfLink(link.head);
      if (client !== undefined) (frozen[client] ??= []).push(window);
      return client !== undefined;
    };
    const chaos = proxy.chaos({
      ...LINK_CHAOS,
      onFault: ({ kind, link, at }) => {
        if (kind === 'freeze') {
          const window: FreezeWindow = { from: at };
          freezing.set(link.id, window);
          if (!attribute(link, window)) unattributed.set(link.id, { link, window });
        } else if (kind === 'thaw') {
          const window = freezing.get(link.id);
          if (window !== undefined) window.to = at;
          freezing.delete(link.id);
          const pending = unattributed.get(link.id);
          if (pending !== undefined) attribute(pending.link, pending.window);
          unattributed.delete(link.id);
        }
      },
    });
    const killedAt: number[] = [];
    let redisRestarts = 0;
    let rounds = 0;
    let publishFailed = 0;
    /** When each round was published, by its n (index 0 unused). */
    const roundAt: number[] = [0];
    const topicExpected: number[][] = Array.from({ length: config.topics }, () => []);
    const privateFailed: Record<number, number[]> = {};

    /** The first error of a background task (a node that would not start again, a client process gone): it ends the run. */
    let failure: unknown;
    const background = (task: () => Promise<void>): Promise<void> =>
      task().catch((error: unknown) => {
        failure ??= error;
      });
    const killer = background(async () => {
      for (let next = startedAt + config.killEveryMs; killedAt.length < config.kills; next += config.killEveryMs) {
        await sleep(next - Date.now());
        const node = cluster.nodes[killedAt.length % NODES] as ClusterNode;
        const killed = node.id;
        const on = await workers.snapshot(killed);
        const at = Date.now();
        await cluster.kill(node);
        killedAt.push(at);
        await cluster.start(node);
        log(`kill ${killedAt.length}: ${killed} SIGKILLed with ${on} clients on it, back as ${node.id} after ${Date.now() - at} ms`);
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
    const progress = background(async () => {
      for (let next = startedAt + PROGRESS_EVERY_MS; next < endAt; next += PROGRESS_EVERY_MS) {
        await sleep(next - Date.now());
        const parts = await workers.progress();
        const stats = proxy.stats();
        log(
          `t+${Math.round((Date.now() - startedAt) / 1000)} s: round ${rounds}, ${parts.reduce((sum, part) => sum + part.open, 0)}/${config.clients} open, ` +
            `kills ${killedAt.length}, links ${stats.links} (${stats.frozenLinks} frozen, ${stats.resets} reset so far), ` +
            `p99 ${Math.max(...parts.map((part) => part.p99DeliveryMs))} ms, client event loop lag p99 ${Math.max(...parts.map((part) => part.loopLagMs))} ms`,
        );
      }
    });

    try {
      while (Date.now() < endAt || killedAt.length < config.kills) {
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
        for (let index = 0; index < config.clients; index++) {
          sends.push(
            publisher.sendToUser(userIdOf(index), 'chaos.Private', { n, t }).catch(() => {
              publishFailed++;
              (privateFailed[index] ??= []).push(n);
            }),
          );
        }
        if (n % REQUEST_EVERY_ROUNDS === 0) sends.push(workers.request(n));
        await Promise.all(sends);
        await sleep(t + config.tickMs - Date.now());
      }
      await Promise.all([killer, redisRestart, progress]);
      if (failure !== undefined) throw failure;
    } finally {
      chaos.stop();
    }
    for (const { link, window } of unattributed.values()) attribute(link, window);
    log(`fire over after ${Math.round((Date.now() - startedAt) / 1000)} s (${rounds} rounds); draining`);

    const parts = await workers.finish({
      expectations: { rounds, roundAt, topicExpected, privateFailed },
      killedAt,
      frozen,
      drainMs: DRAIN_MS,
      settleMs: SETTLE_MS,
    });
    for (const sample of parts.flatMap((part) => part.behindSamples)) log(`behind: ${sample}`);
    for (const sample of parts.flatMap((part) => part.slowRecoverySamples)) log(`slow recovery: ${sample}`);
    const latency = new LatencyHistogram();
    for (const part of parts) for (const [ms, count] of part.latency) latency.record(ms, count);
    for (const sample of parts.flatMap((part) => part.requests.ranTwiceSamples)) log(`ran twice (fire began @${startedAt}): ${sample}`);
    const requests = await requestFigures(
      ledger,
      parts.map((part) => part.requests),
    );
    return buildReport(
      { config, clientProcesses: workers.count, rounds, publishFailed, kills: killedAt.length, redisRestarts, latency, faults: proxy.stats() },
      parts,
      requests,
    );
  } finally {
    for (const error of (await clients?.close().catch((error: unknown) => [String(error)])) ?? []) log(`close() threw: ${error}`);
    await publisher.close().catch(() => {});
    await Promise.all([publisherStore.close(), publisherBroker.close()]).catch(() => {});
    publisherLedger.disconnect();
    ledger.disconnect();
    await proxy.close();
  }
}
