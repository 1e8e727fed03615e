/**
 * Reads the bodies of the `herald.*` requests. They are few and fixed, so they are checked by
 * hand against the shapes in envelope.ts rather than through a schema library.
 */
import { TOPIC_PATTERN } from './codec.ts';
import { ErrorReason, Status, SystemType } from './constants.ts';
import type { AuthenticateBody, ErrorBody, ResumeBody, StreamPosition, SubscribeBody, UnsubscribeBody } from './envelope.ts';

export type SystemRequest =
  | { readonly ok: true; readonly type: typeof SystemType.Authenticate; readonly body: AuthenticateBody }
  | { readonly ok: true; readonly type: typeof SystemType.Subscribe; readonly body: SubscribeBody }
  | { readonly ok: true; readonly type: typeof SystemType.Unsubscribe; readonly body: UnsubscribeBody }
  | { readonly ok: true; readonly type: typeof SystemType.Resume; readonly body: ResumeBody }
  | { readonly ok: false; readonly status: number; readonly body: ErrorBody };

class Invalid extends Error {
  constructor(
    readonly path: string[],
    message: string,
  ) {
    super(message);
  }
}

/** `body.since.offset` → `['body', 'since', 'offset']`. */
function invalid(path: string, problem: string): Invalid {
  return new Invalid(path.split('.'), `${path} ${problem}`);
}

function record(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(path, 'must be an object');
  return value as Record<string, unknown>;
}

function string(value: unknown, path: string, max = 4096): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(path, 'must be a non-empty string');
  return value;
}

function count(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(path, 'must be an integer >= 0');
  return value;
}

function topic(value: unknown, path: string): string {
  if (typeof value !== 'string' || !TOPIC_PATTERN.test(value)) throw invalid(path, `must match ${TOPIC_PATTERN.source}`);
  return value;
}

function position(value: unknown, path: string): StreamPosition {
  const object = record(value, path);
  return { epoch: string(object['epoch'], `${path}.epoch`, 64), offset: count(object['offset'], `${path}.offset`) };
}

/** Validates the body of a system request, or says why it is refused. */
export function readSystemBody(type: string, body: unknown): SystemRequest {
  try {
    switch (type) {
      case SystemType.Authenticate:
        return { ok: true, type, body: { token: string(record(body, 'body')['token'], 'body.token') } };
      case SystemType.Subscribe: {
        const object = record(body, 'body');
        const since = object['since'] === undefined ? undefined : position(object['since'], 'body.since');
        const name = topic(object['topic'], 'body.topic');
        return { ok: true, type, body: since === undefined ? { topic: name } : { topic: name, since } };
      }
      case SystemType.Unsubscribe:
        return { ok: true, type, body: { topic: topic(record(body, 'body')['topic'], 'body.topic') } };
      case SystemType.Resume: {
        const object = record(body, 'body');
        const sessionId = string(object['sessionId'], 'body.sessionId', 64);
        const seq = count(object['seq'], 'body.seq');
        if (object['topics'] === undefined) return { ok: true, type, body: { sessionId, seq } };
        const topics: Record<string, StreamPosition> = {};
        for (const [name, since] of Object.entries(record(object['topics'], 'body.topics'))) {
          topics[topic(name, 'body.topics')] = position(since, `body.topics.${name}`);
        }
        return { ok: true, type, body: { sessionId, seq, topics } };
      }
      default:
        return { ok: false, status: Status.NotFound, body: { error: ErrorReason.UnknownType, message: `unknown type ${type}` } };
    }
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    const issues = [{ path: error.path, message: error.message }];
    return { ok: false, status: Status.BadRequest, body: { error: ErrorReason.ValidationFailed, message: `body does not match ${type}`, issues } };
  }
}
