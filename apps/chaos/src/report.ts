/**
 * The run's report, printed last as `chaos: {json}`, and the verdict on it: nothing lost,
 * duplicated or reordered (outside the resets clients were told of), no request run twice,
 * every request accounted for.
 */
import type { FaultProxyStats } from '@herald/testing/node';
import type { ChaosConfig } from './config.ts';
import type { LatencyHistogram } from './latency-histogram.ts';
import type { ObservedClient, RecoveryWatch } from './observed-client.ts';
import type { RequestFigures } from './request-tally.ts';
import type { StreamTally } from './stream-log.ts';

/** A stream check's counts of what went wrong, and of what a reset explains. */
export type StreamCounts = Pick<StreamTally, 'lost' | 'duplicated' | 'reordered' | 'missedAtReset' | 'acrossReset'>;

/** One node kill, and how long the clients that were on that node waited for their next message. */
export class KillRecord implements RecoveryWatch {
  maxRecoveryMsWebSocket = 0;
  maxRecoveryMsLongPoll = 0;

  constructor(
    readonly node: string,
    readonly at: number,
    /** Clients whose last answer came from this node. */
    readonly clientsOn: number,
  ) {}

  recovered(client: ObservedClient, ms: number): void {
    if (client.longPoll) this.maxRecoveryMsLongPoll = Math.max(this.maxRecoveryMsLongPoll, ms);
    else this.maxRecoveryMsWebSocket = Math.max(this.maxRecoveryMsWebSocket, ms);
  }
}

export interface ChaosReport extends RequestFigures {
  readonly clients: number;
  readonly webSocket: number;
  readonly longPoll: number;
  readonly seconds: number;
  readonly pressure: boolean;
  readonly rounds: number;
  readonly kills: number;
  readonly redisRestarts: number;
  /** Messages that should have arrived (per client and stream, the rounds whose publish succeeded). */
  readonly published: number;
  /** Publishes and private sends that failed (Redis down): expected by nobody. */
  readonly publishFailed: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly reordered: number;
  /** Messages missed at a reset the client was told of, and received again or out of order across one (neither a failure). */
  readonly missedAtReset: number;
  readonly acrossReset: number;
  /** The same five counts per transport and stream, to see where a failure is. */
  readonly breakdown: Readonly<Record<'webSocket' | 'longPoll', Readonly<Record<'topic' | 'private', StreamCounts>>>>;
  /** Clients told `recovered: false` / `herald.TopicReset` at least once, and how often in all. */
  readonly toldRecoveredFalse: number;
  readonly recoveryFailures: number;
  /** Clients still behind the last round when the drain ended. */
  readonly behind: number;
  readonly p50DeliveryMs: number;
  readonly p99DeliveryMs: number;
  readonly maxDeliveryMs: number;
  /** Over all kills: the longest time from a kill to the next message of a client that was on the killed node. */
  readonly maxRecoveryMs: number;
  readonly maxRecoveryMsWebSocket: number;
  readonly maxRecoveryMsLongPoll: number;
  /** Clients on a killed node that got no message at all afterwards. */
  readonly unrecovered: number;
  readonly clientErrors: number;
  /** Setup subscriptions that timed out and were made again. */
  readonly subscribeRetries: number;
  readonly faults: { readonly linksOpened: number; readonly resets: number; readonly freezes: number; readonly bytesUpstream: number; readonly bytesDownstream: number };
}

export interface ReportInput {
  readonly config: ChaosConfig;
  readonly clients: readonly ObservedClient[];
  /** Per topic, the rounds whose publish succeeded. */
  readonly topicExpected: readonly (readonly number[])[];
  /** When round n was published. */
  readonly publishedAt: (n: number) => number;
  readonly rounds: number;
  readonly publishFailed: number;
  readonly kills: readonly KillRecord[];
  readonly redisRestarts: number;
  readonly latency: LatencyHistogram;
  readonly requests: RequestFigures;
  readonly faults: FaultProxyStats;
  readonly clientErrors: number;
  readonly behind: number;
}

const COUNTED = ['lost', 'duplicated', 'reordered', 'missedAtReset', 'acrossReset'] as const;
type Counts = { -readonly [K in keyof StreamCounts]: number };

const counts = (): Counts => ({ lost: 0, duplicated: 0, reordered: 0, missedAtReset: 0, acrossReset: 0 });

function add(into: Counts, tally: StreamTally): void {
  for (const field of COUNTED) into[field] += tally[field];
}

export function buildReport(input: ReportInput): ChaosReport {
  const streams = { published: 0, delivered: 0, ...counts() };
  const breakdown = { webSocket: { topic: counts(), private: counts() }, longPoll: { topic: counts(), private: counts() } };
  for (const client of input.clients) {
    const transport = client.longPoll ? breakdown.longPoll : breakdown.webSocket;
    for (const [stream, expected, into] of [
      [client.topic, input.topicExpected[client.topicIndex] ?? [], transport.topic],
      [client.privates, client.privateExpected, transport.private],
    ] as const) {
      const tally = stream.tally(expected, input.publishedAt);
      streams.published += expected.length;
      streams.delivered += tally.delivered;
      add(streams, tally);
      add(into, tally);
    }
  }
  const maxOf = (pick: (kill: KillRecord) => number): number => input.kills.reduce((max, kill) => Math.max(max, pick(kill)), 0);
  const maxRecoveryMsWebSocket = maxOf((kill) => kill.maxRecoveryMsWebSocket);
  const maxRecoveryMsLongPoll = maxOf((kill) => kill.maxRecoveryMsLongPoll);
  const longPoll = input.clients.filter((client) => client.longPoll).length;
  return {
    clients: input.clients.length,
    webSocket: input.clients.length - longPoll,
    longPoll,
    seconds: input.config.seconds,
    pressure: input.config.pressure,
    rounds: input.rounds,
    kills: input.kills.length,
    redisRestarts: input.redisRestarts,
    ...streams,
    breakdown,
    publishFailed: input.publishFailed,
    toldRecoveredFalse: input.clients.filter((client) => client.recoveryFailures > 0).length,
    recoveryFailures: input.clients.reduce((sum, client) => sum + client.recoveryFailures, 0),
    behind: input.behind,
    ...input.requests,
    p50DeliveryMs: input.latency.percentile(0.5),
    p99DeliveryMs: input.latency.percentile(0.99),
    maxDeliveryMs: input.latency.max,
    maxRecoveryMs: Math.max(maxRecoveryMsWebSocket, maxRecoveryMsLongPoll),
    maxRecoveryMsWebSocket,
    maxRecoveryMsLongPoll,
    unrecovered: input.clients.filter((client) => client.awaitingRecovery).length,
    clientErrors: input.clientErrors,
    subscribeRetries: input.clients.reduce((sum, client) => sum + client.subscribeRetries, 0),
    faults: {
      linksOpened: input.faults.linksOpened,
      resets: input.faults.resets,
      freezes: input.faults.freezes,
      bytesUpstream: input.faults.bytesUpstream,
      bytesDownstream: input.faults.bytesDownstream,
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
