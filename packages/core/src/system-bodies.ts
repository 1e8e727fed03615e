/**
 * Reads the bodies of the `herald.*` requests. They are few and fixed, so they are checked by
 * hand against the shapes in envelope.ts rather than through a schema library.
 */
import { TOPIC_PATTERN } from './codec.ts';
import { DELTA_NAME_PATTERN } from './delta-codec.ts';
import { ErrorReason, Status, SystemType } from './constants.ts';
import type {
  AuthenticateBody,
  ErrorBody,
  PresenceRequestBody,
  ResumeBody,
  ResumedTopic,
  SetPresenceBody,
  StreamPosition,
  SubscribeBody,
  UnsubscribeBody,
} from './envelope.ts';

export type SystemRequest =
  | { readonly ok: true; readonly type: typeof SystemType.Authenticate; readonly body: AuthenticateBody }
  | { readonly ok: true; readonly type: typeof SystemType.Subscribe; readonly body: SubscribeBody }
  | { readonly ok: true; readonly type: typeof SystemType.Unsubscribe; readonly body: UnsubscribeBody }
  | { readonly ok: true; readonly type: typeof SystemType.Resume; readonly body: ResumeBody }
  | { readonly ok: true; readonly type: typeof SystemType.Presence; readonly body: PresenceRequestBody }
  | { readonly ok: true; readonly type: typeof SystemType.SetPresence; readonly body: SetPresenceBody }
  | { readonly ok: false; readonly status: number; readonly body: ErrorBody };

type Path = readonly string[];

const BODY: Path = ['body'];

/** Longest token `herald.Authenticate` accepts (the envelope schema says the same). */
export const MAX_TOKEN_LENGTH = 4096;

class Invalid extends Error {
  constructor(
    readonly path: Path,
    message: string,
  ) {
    super(message);
  }
}

function invalid(path: Path, problem: string): Invalid {
  return new Invalid(path, `${path.join('.')} ${problem}`);
}

function record(value: unknown, path: Path): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(path, 'must be an object');
  return value as Record<string, unknown>;
}

function string(value: unknown, path: Path, max = MAX_TOKEN_LENGTH): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw invalid(path, 'must be a non-empty string');
  return value;
}

function count(value: unknown, path: Path): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(path, 'must be an integer >= 0');
  return value;
}

function topic(value: unknown, path: Path): string {
  if (typeof value !== 'string' || !TOPIC_PATTERN.test(value)) throw invalid(path, `must match ${TOPIC_PATTERN.source}`);
  return value;
}

function position(value: unknown, path: Path): StreamPosition {
  const object = record(value, path);
  return { epoch: string(object['epoch'], [...path, 'epoch'], 64), offset: count(object['offset'], [...path, 'offset']) };
}

/** A delta format's name; one the server does not know is not an error (the answer grants none). */
function deltaName(value: unknown, path: Path): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !DELTA_NAME_PATTERN.test(value)) throw invalid(path, `must match ${DELTA_NAME_PATTERN.source}`);
  return value;
}

function resumedTopic(value: unknown, path: Path): ResumedTopic {
  const at = position(value, path);
  const delta = deltaName((value as Record<string, unknown>)['delta'], [...path, 'delta']);
  return delta === undefined ? at : { ...at, delta };
}

/** Validates the body of a system request, or says why it is refused. */
export function readSystemBody(type: string, body: unknown): SystemRequest {
  try {
    switch (type) {
      case SystemType.Authenticate:
        return { ok: true, type, body: { token: string(record(body, BODY)['token'], [...BODY, 'token']) } };
      case SystemType.Subscribe: {
        const object = record(body, BODY);
        const since = object['since'] === undefined ? undefined : position(object['since'], [...BODY, 'since']);
        const name = topic(object['topic'], [...BODY, 'topic']);
        const delta = deltaName(object['delta'], [...BODY, 'delta']);
        return { ok: true, type, body: { topic: name, ...(since === undefined ? {} : { since }), ...(delta === undefined ? {} : { delta }) } };
      }
      case SystemType.Unsubscribe:
        return { ok: true, type, body: { topic: topic(record(body, BODY)['topic'], [...BODY, 'topic']) } };
      case SystemType.Resume: {
        const object = record(body, BODY);
        const sessionId = string(object['sessionId'], [...BODY, 'sessionId'], 64);
        const seq = count(object['seq'], [...BODY, 'seq']);
        if (object['topics'] === undefined) return { ok: true, type, body: { sessionId, seq } };
        const listed: Path = [...BODY, 'topics'];
        // fromEntries defines own properties, so a topic named `__proto__` stays a topic.
        const topics: Record<string, ResumedTopic> = Object.fromEntries(
          Object.entries(record(object['topics'], listed)).map(([name, since]) => [topic(name, listed), resumedTopic(since, [...listed, name])]),
        );
        return { ok: true, type, body: { sessionId, seq, topics } };
      }
      case SystemType.Presence: {
        const object = record(body, BODY);
        const name = topic(object['topic'], [...BODY, 'topic']);
        const after = object['after'] === undefined ? undefined : string(object['after'], [...BODY, 'after'], 256);
        const limit = object['limit'] === undefined ? undefined : count(object['limit'], [...BODY, 'limit']);
        if (limit === 0 || (limit !== undefined && limit > 1000)) throw invalid([...BODY, 'limit'], 'must be between 1 and 1000');
        return { ok: true, type, body: { topic: name, ...(after === undefined ? {} : { after }), ...(limit === undefined ? {} : { limit }) } };
      }
      case SystemType.SetPresence: {
        const object = record(body, BODY);
        const name = topic(object['topic'], [...BODY, 'topic']);
        if (!('state' in object)) throw invalid([...BODY, 'state'], 'is required');
        return { ok: true, type, body: { topic: name, state: object['state'] } };
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
