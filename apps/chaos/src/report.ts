/**
 * The run's report, printed last as `chaos: {json}`, and the verdict on it: nothing lost,
 * duplicated or reordered (outside the resets clients were told of), no request run twice,
 * every request accounted for. Each client process checks its own clients (`tallyClients`);
 * the run adds the parts up (`buildReport`).
 */
import type { FaultProxyStats } from '@herald/testing/node';
import type { ChaosConfig } from './config.ts';
import type { ObservedClient } from './observed-client.ts';
import type { RequestFigures, RequestOutcomes } from './request-tally.ts';
import type { StreamTally } from './stream-log.ts';

/** A stream check's counts of what went wrong, and of what a reset explains. */
export type StreamCounts = Pick<StreamTally, 'lost' | 'duplicated' | 'reordered' | 'missedAtReset' | 'acrossReset'>;
type Counts = { -readonly [K in keyof StreamCounts]: number };
type Transport = 'webSocket' | 'longPoll';
type Breakdown = Record<Transport, Record<'topic' | 'private', Counts>>;

const COUNTED = ['lost', 'duplicated', 'reordered', 'missedAtReset', 'acrossReset'] as const;
/** A freeze of one of a client's links by the fault proxy (`to` undefined: never thawed during the run). */
export interface FreezeWindow {
  readonly from: number;
  to?: number;
}

/** The recovery target: a client of a killed node receives again within this. */
export const SLOW_RECOVERY_MS = 5000;
const SLOW_RECOVERY_SAMPLES = 20;
const counts = (): Counts => ({ lost: 0, duplicated: 0, reordered: 0, missedAtReset: 0, acrossReset: 0 });
const breakdown = (): Breakdown => ({ webSocket: { topic: counts(), private: counts() }, longPoll: { topic: counts(), private: counts() } });

function add(into: Counts, from: StreamCounts): void {
  for (const field of COUNTED) into[field] += from[field];
}

/** What should have arrived: sent by the run to each client process once the fire is over. */
export interface Expectations {
  readonly rounds: number;
  /** When round n was published (index 0 unused). */
  readonly roundAt: readonly number[];
  /** Per topic, the rounds whose publish succeeded, ascending. */
  readonly topicExpected: readonly (readonly number[])[];
  /** Per client index, the rounds whose `sendToUser` failed (absent: none). */
  readonly privateFailed: Readonly<Record<number, readonly number[]>>;
}

/** The rounds whose private send to client `index` succeeded. */
export function privateExpected(expectations: Expectations, index: number): number[] {
  const failed = new Set(expectations.privateFailed[index] ?? []);
  const rounds: number[] = [];
  for (let n = 1; n <= expectations.rounds; n++) if (!failed.has(n)) rounds.push(n);
  return rounds;
}

/** What one client process found, over its clients. */
export interface ClientsResult {
  readonly clients: number;
  readonly longPoll: number;
  readonly published: number;
  readonly delivered: number;
  readonly counts: StreamCounts;
  readonly breakdown: Breakdown;
  readonly toldRecoveredFalse: number;
  readonly recoveryFailures: number;
  readonly behind: number;
  /** A few of the clients behind, described. */
  readonly behindSamples: readonly string[];
  /** Per kill (in order), the longest wait of a client on the killed node for its next message. */
  /**
   * Per kill, the longest wait for the next message of a client of that node, per transport:
   * of the clients whose links were not frozen by the fault proxy meanwhile, and (`frozen`) of
   * those whose were, which first had to find their link dead by keep-alive.
   */
  readonly recovery: readonly { readonly webSocket: number; readonly longPoll: number; readonly frozen: number }[];
  /** Clients of a killed node whose link was frozen while they recovered, over all kills. */
  readonly frozenAtKill: number;
  readonly unrecovered: number;
  /** A few clients that took longer than `SLOW_RECOVERY_MS` after a kill, with what they went through. */
  readonly slowRecoverySamples: readonly string[];
  readonly latency: readonly [ms: number, count: number][];
  readonly requests: RequestOutcomes;
  readonly clientErrors: number;
  readonly subscribeRetries: number;
}

/** The clients' side of the report; `onKilledNode[k]` are the clients that were on the node of kill k, killed at `killedAt[k]`. */
export function tallyClients(
  clients: readonly ObservedClient[],
  expectations: Expectations,
  killedAt: readonly number[],
  onKilledNode: readonly (readonly ObservedClient[])[],
  frozen: Readonly<Record<string, readonly FreezeWindow[]>> = {},
): Omit<ClientsResult, 'latency' | 'requests' | 'clientErrors' | 'behindSamples' | 'behind'> {
  const streams = counts();
  const byTransport = breakdown();
  let published = 0;
  let delivered = 0;
  const publishedAt = (n: number): number => expectations.roundAt[n] ?? 0;
  for (const client of clients) {
    const transport = byTransport[client.longPoll ? 'longPoll' : 'webSocket'];
    for (const [stream, expected, into] of [
      [client.topic, expectations.topicExpected[client.topicIndex] ?? [], transport.topic],
      [client.privates, privateExpected(expectations, client.index), transport.private],
    ] as const) {
      const tally = stream.tally(expected, publishedAt);
      published += expected.length;
      delivered += tally.delivered;
      add(streams, tally);
      add(into, tally);
    }
  }
  let unrecovered = 0;
  let frozenAtKill = 0;
  // Clients whose links were not frozen first: they are the ones the target is about.
  const slow: { readonly frozen: string[]; readonly open: string[] } = { frozen: [], open: [] };
  const recovery = killedAt.map((at, kill) => {
    const worst = { webSocket: 0, longPoll: 0, frozen: 0 };
    for (const client of onKilledNode[kill] ?? []) {
      const wait = client.nextMessageAfter(at);
      const until = at + (wait ?? Number.MAX_SAFE_INTEGER);
      const wasFrozen = (frozen[client.userId] ?? []).some((window) => window.from <= until && (window.to ?? Number.MAX_SAFE_INTEGER) >= at);
      if (wasFrozen) frozenAtKill++;
      if (wait === undefined) unrecovered++;
      else if (wasFrozen) worst.frozen = Math.max(worst.frozen, wait);
      else if (client.longPoll) worst.longPoll = Math.max(worst.longPoll, wait);
      else worst.webSocket = Math.max(worst.webSocket, wait);
      const samples = wasFrozen ? slow.frozen : slow.open;
      if ((wait === undefined || wait > SLOW_RECOVERY_MS) && samples.length < SLOW_RECOVERY_SAMPLES) {
        const transport = client.longPoll ? 'long-poll' : 'websocket';
        samples.push(
          `kill ${kill + 1}: ${client.userId} (${transport}${wasFrozen ? ', link frozen' : ''}) next message after ${wait ?? 'never'} ms; ` +
            `since the kill: ${client.timelineBetween(at, until) || 'no state change'}`,
        );
      }
    }
    return worst;
  });
  const slowRecoverySamples = [...slow.open, ...slow.frozen].slice(0, SLOW_RECOVERY_SAMPLES);
  return {
    clients: clients.length,
    longPoll: clients.filter((client) => client.longPoll).length,
    published,
    delivered,
    counts: streams,
    breakdown: byTransport,
    toldRecoveredFalse: clients.filter((client) => client.recoveryFailures > 0).length,
    recoveryFailures: clients.reduce((sum, client) => sum + client.recoveryFailures, 0),
    recovery,
    unrecovered,
    frozenAtKill,
    slowRecoverySamples,
    subscribeRetries: clients.reduce((sum, client) => sum + client.subscribeRetries, 0),
  };
}

export interface ChaosReport extends RequestFigures, StreamCounts {
  readonly clients: number;
  readonly webSocket: number;
  readonly longPoll: number;
  readonly seconds: number;
  readonly pressure: boolean;
  readonly clientProcesses: number;
  readonly rounds: number;
  readonly kills: number;
  readonly redisRestarts: number;
  /** Messages that should have arrived (per client and stream, the rounds whose publish succeeded). */
  readonly published: number;
  /** Publishes and private sends that failed (Redis down): expected by nobody. */
  readonly publishFailed: number;
  readonly delivered: number;
  /** Clients told `recovered: false` / `herald.TopicReset` at least once, and how often in all. */
  readonly toldRecoveredFalse: number;
  readonly recoveryFailures: number;
  /** `lost`, `duplicated`, `reordered`, `missedAtReset` and `acrossReset` per transport and stream. */
  readonly breakdown: Breakdown;
  /** Clients still behind the last round when the drain ended. */
  readonly behind: number;
  readonly p50DeliveryMs: number;
  readonly p99DeliveryMs: number;
  readonly maxDeliveryMs: number;
  /**
   * Over all kills: the longest time from a kill to the next message of a client that was on
   * the killed node, of the clients whose links the fault proxy did not freeze meanwhile.
   */
  readonly maxRecoveryMs: number;
  readonly maxRecoveryMsWebSocket: number;
  readonly maxRecoveryMsLongPoll: number;
  /** The same for clients of a killed node whose link was frozen meanwhile (bounded by keep-alive: they first find the link dead). */
  readonly maxRecoveryMsFrozen: number;
  readonly frozenAtKill: number;
  /** Clients on a killed node that got no message at all afterwards. */
  readonly unrecovered: number;
  readonly clientErrors: number;
  /** Setup subscriptions that timed out and were made again. */
  readonly subscribeRetries: number;
  readonly faults: { readonly linksOpened: number; readonly resets: number; readonly freezes: number; readonly bytesUpstream: number; readonly bytesDownstream: number };
}

/** What the run itself knows. */
export interface RunFigures {
  readonly config: ChaosConfig;
  readonly clientProcesses: number;
  readonly rounds: number;
  readonly publishFailed: number;
  readonly kills: number;
  readonly redisRestarts: number;
  /** The clients' latencies, merged. */
  readonly latency: { percentile(fraction: number): number; readonly max: number };
  readonly faults: FaultProxyStats;
}

export function buildReport(run: RunFigures, parts: readonly ClientsResult[], requests: RequestFigures): ChaosReport {
  const sum = (pick: (part: ClientsResult) => number): number => parts.reduce((total, part) => total + pick(part), 0);
  const streams = counts();
  const byTransport = breakdown();
  for (const part of parts) {
    add(streams, part.counts);
    for (const transport of ['webSocket', 'longPoll'] as const) {
      add(byTransport[transport].topic, part.breakdown[transport].topic);
      add(byTransport[transport].private, part.breakdown[transport].private);
    }
  }
  const worst = (transport: Transport | 'frozen'): number => Math.max(0, ...parts.flatMap((part) => part.recovery.map((kill) => kill[transport])));
  const maxRecoveryMsWebSocket = worst('webSocket');
  const maxRecoveryMsLongPoll = worst('longPoll');
  const clients = sum((part) => part.clients);
  const longPoll = sum((part) => part.longPoll);
  return {
    clients,
    webSocket: clients - longPoll,
    longPoll,
    seconds: run.config.seconds,
    pressure: run.config.pressure,
    clientProcesses: run.clientProcesses,
    rounds: run.rounds,
    kills: run.kills,
    redisRestarts: run.redisRestarts,
    published: sum((part) => part.published),
    publishFailed: run.publishFailed,
    delivered: sum((part) => part.delivered),
    ...streams,
    toldRecoveredFalse: sum((part) => part.toldRecoveredFalse),
    recoveryFailures: sum((part) => part.recoveryFailures),
    breakdown: byTransport,
    behind: sum((part) => part.behind),
    ...requests,
    p50DeliveryMs: run.latency.percentile(0.5),
    p99DeliveryMs: run.latency.percentile(0.99),
    maxDeliveryMs: run.latency.max,
    maxRecoveryMs: Math.max(maxRecoveryMsWebSocket, maxRecoveryMsLongPoll),
    maxRecoveryMsWebSocket,
    maxRecoveryMsLongPoll,
    maxRecoveryMsFrozen: worst('frozen'),
    frozenAtKill: sum((part) => part.frozenAtKill),
    unrecovered: sum((part) => part.unrecovered),
    clientErrors: sum((part) => part.clientErrors),
    subscribeRetries: sum((part) => part.subscribeRetries),
    faults: {
      linksOpened: run.faults.linksOpened,
      resets: run.faults.resets,
      freezes: run.faults.freezes,
      bytesUpstream: run.faults.bytesUpstream,
      bytesDownstream: run.faults.bytesDownstream,
    },
  };
}

/** What makes the run fail (exit code 1); empty when it passed. */
export function failures(report: ChaosReport): string[] {
  const found: string[] = [];
  for (const field of ['lost', 'duplicated', 'reordered', 'ranTwice', 'unaccounted'] as const) {
    if (report[field] > 0) found.push(`${field} ${report[field]}`);
  }
  return found;
}
