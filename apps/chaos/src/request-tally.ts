/**
 * Every request the clients sent and how it ended, and the ledger's word on which of them ran:
 * a request may end answered, `outcome_unknown` (it ran at most once), or failed (a timeout,
 * an error status); it must never run twice, and must always end.
 */
import { ClientErrorReason, HeraldRequestError } from '@herald/client';
import { ErrorReason } from '@herald/core';
import type { Redis } from 'ioredis';
import { RUNS_PREFIX } from './app.ts';

export interface RequestFigures {
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

  /** Follows one request to its end. */
  track(key: string, request: Promise<{ readonly runs: number }>): void {
    this.sent++;
    const settled = request.then(
      ({ runs }) => {
        this.answered++;
        if (runs !== 1) this.answeredTwice.add(key);
      },
      (error: unknown) => {
        const reason = error instanceof HeraldRequestError ? error.reason : String(error);
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

  /** The figures, with the ledger asked which requests ran and how often. */
  async figures(ledger: Redis): Promise<RequestFigures> {
    const counts = async (keys: readonly string[]): Promise<(number | null)[]> => {
      const out: (number | null)[] = [];
      for (let i = 0; i < keys.length; i += MGET_BATCH) {
        const values = await ledger.mget(keys.slice(i, i + MGET_BATCH).map((key) => RUNS_PREFIX + key));
        for (const value of values) out.push(value === null ? null : Number(value));
      }
      return out;
    };
    const twice = new Set(this.answeredTwice);
    let cursor = '0';
    do {
      const [next, keys] = await ledger.scan(cursor, 'MATCH', `${RUNS_PREFIX}*`, 'COUNT', 1000);
      cursor = next;
      const values = keys.length === 0 ? [] : await ledger.mget(keys);
      values.forEach((value, i) => {
        if (Number(value) > 1) twice.add((keys[i] as string).slice(RUNS_PREFIX.length));
      });
    } while (cursor !== '0');
    const ran = (values: (number | null)[]): number => values.filter((value) => value !== null).length;
    const failed = this.failedKeys.length;
    return {
      requests: this.sent,
      answered: this.answered,
      outcomeUnknown: this.unknownKeys.length,
      outcomeUnknownThatRan: ran(await counts(this.unknownKeys)),
      failed,
      failedThatRan: ran(await counts(this.failedKeys)),
      failedReasons: { ...this.failedReasons },
      unaccounted: this.sent - this.answered - this.unknownKeys.length - failed,
      ranTwice: twice.size,
    };
  }
}
