/**
 * A client process of the chaos run: a slice of the clients, driven by the run over IPC
 * (`rpc.ts`), so that a thousand clients do not share one event loop — the run measures the
 * cluster, not its own lag. It checks its own clients at the end and sends back the counts.
 * Exits when the run goes away.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { LatencyHistogram } from './latency-histogram.ts';
import { ObservedClient } from './observed-client.ts';
import { privateExpected, tallyClients, type ClientsResult, type Expectations, type FreezeWindow } from './report.ts';
import { RequestTally } from './request-tally.ts';
import { serveRpc } from './rpc.ts';

/** What the run starts a client process with. */
export interface ClientSlice {
  readonly first: number;
  readonly count: number;
  /** `host:port` of the fault proxy. */
  readonly origin: string;
  readonly topics: number;
  readonly requestTimeoutMs: number;
  /** Clients connected at once. */
  readonly batch: number;
  readonly ledgerUrl: string;
}

/** Progress of one client process. */
export interface ClientsProgress {
  readonly open: number;
  readonly p99DeliveryMs: number;
  /** Its event loop's p99 delay since the last progress call. */
  readonly loopLagMs: number;
}

/** The end of the run, for one client process. */
export interface FinishParams {
  readonly expectations: Expectations;
  /** When each kill happened, in order. */
  readonly killedAt: readonly number[];
  /** Per user id, when the fault proxy froze the client's links. */
  readonly frozen: Readonly<Record<string, readonly FreezeWindow[]>>;
  readonly drainMs: number;
  readonly settleMs: number;
}

const BEHIND_SAMPLES = 3;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const clients: ObservedClient[] = [];
const latency = new LatencyHistogram();
const requests = new RequestTally();
/** Per kill, the clients that were on the killed node. */
const onKilledNode: ObservedClient[][] = [];
const loopDelay = monitorEventLoopDelay();
loopDelay.enable();
let clientErrors = 0;
let ledgerUrl = '';

serveRpc({
  async start(slice: ClientSlice) {
    ledgerUrl = slice.ledgerUrl;
    for (let index = slice.first; index < slice.first + slice.count; index += slice.batch) {
      const batch: ObservedClient[] = [];
      for (let i = index; i < Math.min(slice.first + slice.count, index + slice.batch); i++) {
        batch.push(
          new ObservedClient({
            index: i,
            origin: slice.origin,
            topics: slice.topics,
            requestTimeoutMs: slice.requestTimeoutMs,
            latency,
            requests,
            onError: () => clientErrors++,
          }),
        );
      }
      clients.push(...batch);
      await Promise.all(batch.map((client) => client.subscribe()));
    }
  },

  request({ n }: { n: number }) {
    for (const client of clients) client.request(`${client.userId}-${n}`);
  },

  /** A node is about to be killed: which of these clients is on it. */
  snapshot({ node }: { node: string }) {
    const on = clients.filter((client) => client.node === node);
    onKilledNode.push(on);
    return on.length;
  },

  progress(): ClientsProgress {
    const loopLagMs = Math.round(loopDelay.percentile(99) / 1e6);
    loopDelay.reset();
    return { open: clients.filter((client) => client.client.state === 'open').length, p99DeliveryMs: latency.percentile(0.99), loopLagMs };
  },

  async finish({ expectations, killedAt, frozen, drainMs, settleMs }: FinishParams): Promise<ClientsResult> {
    const last = (rounds: readonly number[]): number => rounds[rounds.length - 1] ?? 0;
    const lastPrivate = new Map(clients.map((client) => [client, last(privateExpected(expectations, client.index))]));
    const caughtUp = (client: ObservedClient): boolean =>
      client.topic.highest >= last(expectations.topicExpected[client.topicIndex] ?? []) && client.privates.highest >= (lastPrivate.get(client) ?? 0);
    const drainUntil = Date.now() + drainMs;
    await Promise.all([
      (async () => {
        while (Date.now() < drainUntil && !clients.every(caughtUp)) await sleep(200);
      })(),
      requests.settle(settleMs),
    ]);
    const behind = clients.filter((client) => !caughtUp(client));
    const ledger = new Redis(ledgerUrl).on('error', () => {});
    try {
      return {
        ...tallyClients(clients, expectations, killedAt, onKilledNode, frozen),
        behind: behind.length,
        behindSamples: behind.slice(0, BEHIND_SAMPLES).map(
          (client) =>
            `${client.userId} (${client.longPoll ? 'long-poll' : 'websocket'}) ${client.client.state}, ` +
            `topic at ${client.topic.highest}/${last(expectations.topicExpected[client.topicIndex] ?? [])}, ` +
            `private at ${client.privates.highest}/${lastPrivate.get(client) ?? 0}, last close ${JSON.stringify(client.client.lastClose)}`,
        ),
        latency: latency.entries(),
        requests: await requests.outcomes(ledger),
        clientErrors,
      };
    } finally {
      ledger.disconnect();
    }
  },

  /** Closes every client; returns the errors `close()` threw. */
  close(): string[] {
    const errors: string[] = [];
    for (const client of clients) {
      try {
        client.close();
      } catch (error) {
        errors.push(`${client.userId}: ${String(error)}`);
      }
    }
    return errors;
  },
});
