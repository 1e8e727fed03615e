/**
 * Every request the clients sent and how it ended, and the ledger's word on which of them ran:
 * a request may end answered, `outcome_unknown` (it ran at most once), or failed (a timeout,
 * an error status); it must never run twice, and must always end.
 */
import { ClientErrorReason, HeraldRequestError } from '@herald/client';
import { ErrorReason } from '@herald/core';
import type { Redis } from 'ioredis';
import { RAN_PREFIX, RUNS_PREFIX } from './app.ts';

/** How one client process's requests ended. */
export interface RequestOutcomes {
  readonly requests: number;
  readonly answered: number;
  readonly outcomeUnknown: number;
  /** Of those, how many had run (the ledger has their key). */
  readonly outcomeUnknownThatRan: number;
  readonly failed: number;
  readonly failedThatRan: number;
  /** Failures by reason (`timeout`, `internal`, …). */
  readonly failedReasons: Readonly<Record<string, number>>;
  /** Sent, and neither answered nor failed by the end: a request the client lost track of. */
  readonly unaccounted: number;
  /** Keys answered with `runs` > 1. */
  readonly answeredTwice: readonly string[];
  /** Per key the ledger counted more than once: where and when it ran, and how the client saw it end. */
  readonly ranTwiceSamples: readonly string[];
}

/** All requests of the run. */
export interface RequestFigures extends Omit<RequestOutcomes, 'answeredTwice' | 'ranTwiceSamples'> {
  /** Requests the ledger counted more than once (or that were answered with `runs` > 1). */
  readonly ranTwice: number;
}

const MGET_BATCH = 1000;

export class RequestTally {
  private sent = 0;
  private answered = 0;
  private readonly unknownKeys: string[] = [];
  private readonly failedKeys: string[] = [];
  private readonly failedReasons: Record<string, number> = {};
  private readonly answeredTwice = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  /** Per key, when it was sent and how it ended, for the account of a key that ran twice. */
  private readonly endings = new Map<string, string>();

  /** Follows one request to its end. */
  track(key: string, request: Promise<{ readonly runs: number; readonly node: string }>): void {
    this.sent++;
    const sentAt = Date.now();
    this.endings.set(key, `sent @${sentAt}, never ended`);
    const settled = request.then(
      ({ runs, node }) => {
        this.answered++;
        this.endings.set(key, `sent @${sentAt}, answered runs=${runs} by ${node} @${Date.now()}`);
        if (runs !== 1) this.answeredTwice.add(key);
      },
      (error: unknown) => {
        const reason = error instanceof HeraldRequestError ? error.reason : String(error);
        this.endings.set(key, `sent @${sentAt}, failed ${reason} @${Date.now()}: ${error instanceof Error ? error.message : ''}`);
        if (reason === ErrorReason.OutcomeUnknown || reason === ClientErrorReason.UnknownOutcome) this.unknownKeys.push(key);
        else {
          this.failedKeys.push(key);
          this.failedReasons[reason] = (this.failedReasons[reason] ?? 0) + 1;
        }
      },
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }

  /** Resolves once every request ended, or after `timeoutMs`. */
  async settle(timeoutMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(this.pending), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** How they ended, with the ledger asked which of those that did not succeed had run. */
  async outcomes(ledger: Redis): Promise<RequestOutcomes> {
    const ran = async (keys: readonly string[]): Promise<number> => {
      let count = 0;
      for (let i = 0; i < keys.length; i += MGET_BATCH) {
        const values = await ledger.mget(keys.slice(i, i + MGET_BATCH).map((key) => RUNS_PREFIX + key));
        count += values.filter((value) => value !== null).length;
      }
      return count;
    };
    const failed = this.failedKeys.length;
    const keys = [...this.endings.keys()];
    const ranTwiceSamples: string[] = [];
    for (let i = 0; i < keys.length; i += MGET_BATCH) {
      const batch = keys.slice(i, i + MGET_BATCH);
      const values = await ledger.mget(batch.map((key) => RUNS_PREFIX + key));
      for (const [j, value] of values.entries()) {
        if (Number(value) <= 1) continue;
        const key = batch[j] as string;
        const ran = await ledger.lrange(RAN_PREFIX + key, 0, -1);
        ranTwiceSamples.push(`${key}: ran ${value} times (${ran.join(', ')}); ${this.endings.get(key)}`);
      }
    }
    return {
      requests: this.sent,
      answered: this.answered,
      outcomeUnknown: this.unknownKeys.length,
      outcomeUnknownThatRan: await ran(this.unknownKeys),
      failed,
      failedThatRan: await ran(this.failedKeys),
      failedReasons: { ...this.failedReasons },
      unaccounted: this.sent - this.answered - this.unknownKeys.length - failed,
      answeredTwice: [...this.answeredTwice],
      ranTwiceSamples,
    };
  }
}

/** Every client process's outcomes together, with the ledger's count of keys that ran more than once. */
export async function requestFigures(ledger: Redis, parts: readonly RequestOutcomes[]): Promise<RequestFigures> {
  const twice = new Set(parts.flatMap((part) => part.answeredTwice));
  let cursor = '0';
  do {
    const [next, keys] = await ledger.scan(cursor, 'MATCH', `${RUNS_PREFIX}*`, 'COUNT', 1000);
    cursor = next;
    const values = keys.length === 0 ? [] : await ledger.mget(keys);
    values.forEach((value, i) => {
      if (Number(value) > 1) twice.add((keys[i] as string).slice(RUNS_PREFIX.length));
    });
  } while (cursor !== '0');
  const sum = (pick: (part: RequestOutcomes) => number): number => parts.reduce((total, part) => total + pick(part), 0);
  const failedReasons: Record<string, number> = {};
  for (const part of parts) for (const [reason, count] of Object.entries(part.failedReasons)) failedReasons[reason] = (failedReasons[reason] ?? 0) + count;
  return {
    requests: sum((part) => part.requests),
    answered: sum((part) => part.answered),
    outcomeUnknown: sum((part) => part.outcomeUnknown),
    outcomeUnknownThatRan: sum((part) => part.outcomeUnknownThatRan),
    failed: sum((part) => part.failed),
    failedThatRan: sum((part) => part.failedThatRan),
    failedReasons,
    unaccounted: sum((part) => part.unaccounted),
    ranTwice: twice.size,
  };
}
