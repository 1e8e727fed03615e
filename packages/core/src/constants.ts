/**
 * Protocol constants, defined once here and documented once in PROTOCOL.md.
 * Every value that crosses the wire has a name in this file.
 */

/** The WebSocket subprotocol a Herald v1 client offers in `Sec-WebSocket-Protocol`. */
export const PROTOCOL_NAME = 'herald.v1';

/** `herald.v1` with every envelope a MessagePack value in a binary frame (PROTOCOL.md §2.1). */
export const MSGPACK_PROTOCOL_NAME = 'herald.v1.msgpack';

/** The `kind` of an envelope. */
export const Kind = {
  Request: 'req',
  Response: 'resp',
  Notification: 'notification',
  Ack: 'ack',
  Ping: 'ping',
  Pong: 'pong',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

/**
 * Request and notification types reserved by the protocol. Applications may not register
 * types starting with `herald.`.
 */
export const SystemType = {
  Authenticate: 'herald.Authenticate',
  Subscribe: 'herald.Subscribe',
  Unsubscribe: 'herald.Unsubscribe',
  Resume: 'herald.Resume',
  Presence: 'herald.Presence',
  SetPresence: 'herald.SetPresence',
  Welcome: 'herald.Welcome',
  Subscribed: 'herald.Subscribed',
  Unsubscribed: 'herald.Unsubscribed',
  TopicReset: 'herald.TopicReset',
  Error: 'herald.Error',
  Goodbye: 'herald.Goodbye',
  PresenceDiff: 'herald.PresenceDiff',
  PresenceCount: 'herald.PresenceCount',
} as const;
export type SystemType = (typeof SystemType)[keyof typeof SystemType];

/** The prefix of every reserved type. */
export const SYSTEM_TYPE_PREFIX = 'herald.';

/** The topic every session may subscribe to for `broadcast`; `$` starts reserved topics. */
export const BROADCAST_TOPIC = '$all';

/** HTTP-style status codes used in responses, `herald.Error` and upgrade rejections. */
export const Status = {
  OK: 200,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  NotAcceptable: 406,
  Conflict: 409,
  PayloadTooLarge: 413,
  UpgradeRequired: 426,
  TooManyRequests: 429,
  InternalError: 500,
  Unavailable: 503,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** Machine-readable reasons carried in the `error` field of an error body. */
export const ErrorReason = {
  InvalidJson: 'invalid_json',
  InvalidEnvelope: 'invalid_envelope',
  TooDeep: 'too_deep',
  BinaryFrame: 'binary_frame',
  /** A binary frame of a `herald.v1.msgpack` session that is not one MessagePack value of the JSON data model. */
  InvalidMsgpack: 'invalid_msgpack',
  /** A text frame on a session whose subprotocol carries envelopes in binary frames. */
  TextFrame: 'text_frame',
  TooLarge: 'too_large',
  ValidationFailed: 'validation_failed',
  UnknownType: 'unknown_type',
  NotAuthenticated: 'not_authenticated',
  InvalidToken: 'invalid_token',
  PrincipalChanged: 'principal_changed',
  Forbidden: 'forbidden',
  IdConflict: 'id_conflict',
  Conflict: 'conflict',
  SubscriptionLimit: 'subscription_limit',
  /** The user already has `maxSessionsPerPrincipal` live sessions on this server. */
  TooManySessions: 'too_many_sessions',
  /** The address already has `maxConnectionsPerAddress` connections open to this server. */
  TooManyConnections: 'too_many_connections',
  RateLimited: 'rate_limited',
  Internal: 'internal',
  ShuttingDown: 'shutting_down',
  OriginNotAllowed: 'origin_not_allowed',
  UnsupportedSubprotocol: 'unsupported_subprotocol',
  /** Long-poll: the session id is unknown or expired; open a new session (and resume). */
  UnknownSession: 'unknown_session',
  /** Long-poll: a send body that is not a JSON array of frames. */
  InvalidBatch: 'invalid_batch',
  /** A retried request was running on a node that stopped before answering, or the shared store lost its record; it is not run again. */
  OutcomeUnknown: 'outcome_unknown',
  /** A retried request is still running on another node after the retry waited for it; ask again later. */
  StillRunning: 'still_running',
  /** A gateway has no healthy backend to route the upgrade to; retry later. */
  NoBackend: 'no_backend',
} as const;
export type ErrorReason = (typeof ErrorReason)[keyof typeof ErrorReason];

/**
 * Why something was not recovered (`reason` beside `recovered: false`, PROTOCOL.md §4.11): in a
 * `herald.Resume` answer, for the session and per topic, in a `herald.Subscribe` answer or
 * `herald.Subscribed` with `since`, and in `herald.TopicReset`.
 */
export const RecoveryReason = {
  /** No session with that id for this user on any node: it outlived the resume window, or never was. */
  UnknownSession: 'unknown_session',
  /** The session is there, but its mailbox no longer reaches back to the client's `seq` (past `replayWindow`). */
  TooFarBehind: 'too_far_behind',
  /** The topic's stream has the same epoch, but its history no longer reaches back to the client's offset. */
  HistoryExpired: 'history_expired',
  /** The topic's stream was reset (a new epoch: a broker restarted empty, the topic was forgotten). */
  EpochChanged: 'epoch_changed',
  /** Session-level only: the private stream was recovered, and at least one topic was not (see its own `reason`). */
  TopicNotRecovered: 'topic_not_recovered',
} as const;
export type RecoveryReason = (typeof RecoveryReason)[keyof typeof RecoveryReason];

/**
 * Close codes. Application codes are 4000 + the HTTP status that best names the cause.
 * `retry` tells a client what to do next; see PROTOCOL.md, "Close codes".
 */
export const CloseCode = {
  Normal: 1000,
  MessageTooBig: 1009,
  BadRequest: 4400,
  Unauthorized: 4401,
  Forbidden: 4403,
  SubprotocolNotAcceptable: 4406,
  KeepAliveTimeout: 4408,
  SessionTakenOver: 4409,
  /** An operator ended the session (the inspector's disconnect action); HTTP 410, "Gone". */
  Disconnected: 4410,
  TooManyRequests: 4429,
  /** Sent by a gateway to a backend: the client leg of a relayed session broke (nginx's 499, "client closed request"). */
  ClientLost: 4499,
  InternalError: 4500,
  /** Sent by a gateway to a client: the backend leg of its relayed session broke and could not be relinked. */
  BackendLost: 4502,
  ShuttingDown: 4503,
  SlowConsumer: 4507,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** What a client should do after a close with a given code. */
export type RetryAdvice =
  /** Reconnect with backoff and resume the session. */
  | 'resume'
  /** Obtain fresh credentials first, then reconnect and resume. */
  | 'reauthenticate'
  /** Do not reconnect: a bug or a policy decision that retrying cannot fix. */
  | 'fatal';

/** Retry advice per close code: the single table clients follow. */
export const closeCodeRetry: Readonly<Record<CloseCode, RetryAdvice>> = {
  [CloseCode.Normal]: 'fatal',
  [CloseCode.MessageTooBig]: 'resume',
  [CloseCode.BadRequest]: 'fatal',
  [CloseCode.Unauthorized]: 'reauthenticate',
  [CloseCode.Forbidden]: 'fatal',
  [CloseCode.SubprotocolNotAcceptable]: 'fatal',
  [CloseCode.KeepAliveTimeout]: 'resume',
  [CloseCode.SessionTakenOver]: 'fatal',
  [CloseCode.Disconnected]: 'fatal',
  [CloseCode.TooManyRequests]: 'resume',
  [CloseCode.ClientLost]: 'resume',
  [CloseCode.InternalError]: 'resume',
  [CloseCode.BackendLost]: 'resume',
  [CloseCode.ShuttingDown]: 'resume',
  [CloseCode.SlowConsumer]: 'resume',
};

/** The close code for an HTTP status, following the 4000 + status rule. */
export function closeCodeForStatus(status: number): number {
  return 4000 + status;
}
