/**
 * The envelope and the bodies of the `herald.*` messages as JSON Schema (draft 2020-12).
 * The codec enforces the client side of the same rules by hand (it is on the hot path);
 * a property test keeps the two in agreement.
 */
import { PROTOCOL_NAME, RecoveryReason, SystemType } from './constants.ts';
import { ERROR_REASON_PATTERN } from './errors.ts';
import { MAX_TOKEN_LENGTH } from './system-bodies.ts';
import { ID_PATTERN, TOPIC_PATTERN, TRACEPARENT_PATTERN, TYPE_PATTERN } from './codec.ts';
import { DELTA_NAME_PATTERN } from './delta-codec.ts';

/** A JSON Schema document. */
export type JsonSchema = Record<string, unknown>;

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

const id = { type: 'string', pattern: ID_PATTERN.source };
const type = { type: 'string', pattern: TYPE_PATTERN.source };
const topic = { type: 'string', pattern: TOPIC_PATTERN.source };
const count = (minimum: number) => ({ type: 'integer', minimum, maximum: Number.MAX_SAFE_INTEGER });
const object = (properties: Record<string, unknown>, required: string[]): JsonSchema => ({
  type: 'object',
  properties,
  required,
});

/**
 * JSON Schema of every Herald v1 envelope, whichever side sends it.
 *
 * @example
 * import Ajv from 'ajv/dist/2020.js';
 * const valid = new Ajv().compile(envelopeJsonSchema)({ kind: 'ping' }); // true
 */
export const envelopeJsonSchema: JsonSchema = {
  $schema: DIALECT,
  $id: 'https://herald.dev/schemas/v1/envelope.json',
  title: `Herald envelope (${PROTOCOL_NAME})`,
  type: 'object',
  required: ['kind'],
  properties: { kind: { enum: ['req', 'resp', 'notification', 'ack', 'ping', 'pong'] } },
  oneOf: [
    object({ kind: { const: 'req' }, id, type, body: true, resp: count(0), traceparent: { type: 'string', pattern: TRACEPARENT_PATTERN.source } }, ['kind', 'id', 'type']),
    object({ kind: { const: 'resp' }, reqId: id, type, code: { type: 'integer', minimum: 100, maximum: 599 }, body: true }, [
      'kind',
      'reqId',
      'type',
      'code',
    ]),
    {
      ...object(
        { kind: { const: 'notification' }, type, body: true, topic, offset: count(1), conflated: { const: true }, delta: { type: 'string', contentEncoding: 'base64' }, seq: count(1) },
        ['kind', 'type'],
      ),
      dependentRequired: { topic: ['offset'], offset: ['topic'], conflated: ['topic'], delta: ['topic'] },
      not: { anyOf: [{ required: ['topic', 'seq'] }, { required: ['body', 'delta'] }] },
    },
    object({ kind: { const: 'ack' }, seq: count(0), resp: count(0) }, ['kind', 'seq']),
    object({ kind: { const: 'ping' } }, ['kind']),
    object({ kind: { const: 'pong' } }, ['kind']),
  ],
};

const positionProperties = { epoch: { type: 'string', minLength: 1, maxLength: 64 }, offset: count(0) };
const position = object(positionProperties, ['epoch', 'offset']);
/** A delta format's name (`fossil`); one the server does not know is granted no deltas, not refused. */
const deltaName = { type: 'string', pattern: DELTA_NAME_PATTERN.source, examples: ['fossil'] };
const errorProperties = {
  error: { type: 'string', pattern: ERROR_REASON_PATTERN.source },
  message: { type: 'string' },
  issues: {
    type: 'array',
    items: object({ path: { type: 'array', items: { type: ['string', 'integer'] } }, message: { type: 'string' } }, ['path', 'message']),
  },
  retryAfterMs: count(0),
};
const errorBody = object(errorProperties, ['error', 'message']);
const limits = object(
  {
    maxMessageBytes: count(1),
    maxDepth: count(1),
    pingIntervalMs: count(1),
    pingTimeoutMs: count(1),
    authDeadlineMs: count(1),
    replayWindow: count(1),
    resumeWindowMs: count(0),
    dedupWindow: count(0),
    maxSubscriptions: count(0),
    maxSessionsPerPrincipal: count(1),
    maxConnectionsPerAddress: count(1),
    rateLimit: object({ messagesPerSecond: count(1), burst: count(1) }, ['messagesPerSecond', 'burst']),
  },
  [
    'maxMessageBytes',
    'maxDepth',
    'pingIntervalMs',
    'pingTimeoutMs',
    'authDeadlineMs',
    'replayWindow',
    'resumeWindowMs',
    'dedupWindow',
    'maxSubscriptions',
    'rateLimit',
  ],
);
/** Why `recovered` is false; a client must accept reasons it does not know (later revisions may add some). */
const recoveryReason = { type: 'string', examples: Object.values(RecoveryReason), pattern: ERROR_REASON_PATTERN.source };
/** How much history topics keep: every topic's in the Welcome, one topic's in `herald.Subscribed`. */
const topicHistory = object({ messages: count(1), ttlMs: count(1) }, ['messages']);
/** A member of a topic with presence. */
const presenceMember = object({ userId: { type: 'string' }, state: {}, connections: count(1) }, ['userId', 'connections']);
const subscribed = object({ topic, ...positionProperties, recovered: { type: 'boolean' }, reason: recoveryReason, history: topicHistory, delta: deltaName }, ['topic', 'epoch', 'offset']);

/** Schemas of the bodies of the reserved `herald.*` messages, for requests, responses and notifications. */
export const systemBodyJsonSchemas: {
  readonly requests: Readonly<Record<string, JsonSchema>>;
  readonly responses: Readonly<Record<string, JsonSchema>>;
  readonly notifications: Readonly<Record<string, JsonSchema>>;
  readonly error: JsonSchema;
} = {
  requests: {
    [SystemType.Authenticate]: object({ token: { type: 'string', minLength: 1, maxLength: MAX_TOKEN_LENGTH } }, ['token']),
    [SystemType.Subscribe]: object({ topic, since: position, delta: deltaName }, ['topic']),
    [SystemType.Unsubscribe]: object({ topic }, ['topic']),
    [SystemType.Resume]: object(
      { sessionId: { type: 'string', minLength: 1, maxLength: 64 }, seq: count(0), topics: { type: 'object', propertyNames: topic, additionalProperties: object({ ...positionProperties, delta: deltaName }, ['epoch', 'offset']) } },
      ['sessionId', 'seq'],
    ),
    [SystemType.Presence]: object({ topic, after: { type: 'string', minLength: 1, maxLength: 256 }, limit: { type: 'integer', minimum: 1, maximum: 1000 } }, ['topic']),
    [SystemType.SetPresence]: object({ topic, state: {} }, ['topic', 'state']),
  },
  responses: {
    [SystemType.Authenticate]: object({ userId: { type: 'string' }, expiresAt: count(0) }, ['userId']),
    [SystemType.Subscribe]: subscribed,
    [SystemType.Unsubscribe]: object({ topic }, ['topic']),
    [SystemType.Resume]: object(
      {
        sessionId: { type: 'string' },
        recovered: { type: 'boolean' },
        reason: recoveryReason,
        topics: {
          type: 'object',
          additionalProperties: object({ ...positionProperties, recovered: { type: 'boolean' }, reason: recoveryReason, delta: deltaName }, ['epoch', 'offset', 'recovered']),
        },
      },
      ['sessionId', 'recovered', 'topics'],
    ),
    [SystemType.Presence]: object(
      { topic, ...positionProperties, count: count(0), members: { type: 'array', items: presenceMember }, next: { type: 'string' } },
      ['topic', 'count'],
    ),
    [SystemType.SetPresence]: object({ topic }, ['topic']),
  },
  notifications: {
    [SystemType.Welcome]: object(
      {
        sessionId: { type: 'string', minLength: 1 },
        protocol: { type: 'string' },
        authenticated: { type: 'boolean' },
        userId: { type: 'string' },
        expiresAt: count(0),
        limits,
        topicHistory,
      },
      ['sessionId', 'protocol', 'authenticated', 'limits'],
    ),
    [SystemType.Subscribed]: subscribed,
    [SystemType.Unsubscribed]: object({ topic, reason: { type: 'string' } }, ['topic', 'reason']),
    [SystemType.TopicReset]: object({ topic, ...positionProperties, reason: recoveryReason }, ['topic', 'epoch', 'offset']),
    [SystemType.Error]: object({ ...errorProperties, code: { type: 'integer', minimum: 100, maximum: 599 } }, ['code', 'error', 'message']),
    [SystemType.Goodbye]: object({ code: count(1000), reason: { type: 'string' }, retryAfterMs: count(0), error: { type: 'string' } }, ['code', 'reason']),
    [SystemType.PresenceDiff]: object({ joins: { type: 'array', items: presenceMember }, leaves: { type: 'array', items: { type: 'string' } } }, ['joins', 'leaves']),
    [SystemType.PresenceCount]: object({ topic, count: count(0) }, ['topic', 'count']),
  },
  error: errorBody,
};
