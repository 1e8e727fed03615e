import { ErrorReason } from './constants.ts';
import type { ErrorBody, Issue } from './envelope.ts';

/** What an `error` reason looks like: the protocol's own (`ErrorReason`) or an application's. */
export const ERROR_REASON_PATTERN: RegExp = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * An error a handler throws to answer with a specific status. Anything else a handler throws
 * becomes a 500 whose message reveals nothing about the server.
 *
 * @example
 * throw new HeraldError(403, 'not_an_agent', 'only agents may accept rings');
 */
export class HeraldError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly issues: readonly Issue[] | undefined;

  constructor(status: number, reason: string, message: string, issues?: readonly Issue[]) {
    super(message);
    if (!Number.isInteger(status) || status < 400 || status > 599) throw new RangeError(`status ${status} is not an error status`);
    if (!ERROR_REASON_PATTERN.test(reason)) throw new RangeError(`reason ${JSON.stringify(reason)} must match ${ERROR_REASON_PATTERN.source}`);
    this.name = 'HeraldError';
    this.status = status;
    this.reason = reason;
    this.issues = issues;
  }

  /** The body sent on the wire. */
  toBody(): ErrorBody {
    const body = { error: this.reason as ErrorReason, message: this.message };
    return this.issues === undefined ? body : { ...body, issues: this.issues };
  }
}

/** The body of a 500: deliberately generic. */
export const INTERNAL_ERROR_BODY: ErrorBody = { error: ErrorReason.Internal, message: 'internal server error' };

export function errorBody(error: ErrorReason, message: string, extra?: Pick<ErrorBody, 'issues' | 'retryAfterMs'>): ErrorBody {
  return extra === undefined ? { error, message } : { error, message, ...extra };
}
