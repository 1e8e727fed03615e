/**
 * The messages on the wire, as TypeScript interfaces. PROTOCOL.md documents each of them;
 * `envelope-schema.ts` holds the same shapes as JSON Schema.
 */
import type { ErrorReason, RecoveryReason } from './constants.ts';

/** A request from the client. `id` is unique per session; a retry reuses it. */
export interface RequestMessage<Type extends string = string, Body = unknown> {
  readonly kind: 'req';
  readonly id: string;
  readonly type: Type;
  readonly body?: Body;
  /** Responses the client had received on this connection when it sent this (see `AckMessage.resp`). */
  readonly resp?: number;
  /** W3C trace context of the client's span (`00-<trace-id>-<parent-id>-<flags>`), for the server's request span. */
  readonly traceparent?: string;
}

/** The server's answer to one request, correlated by `reqId`. */
export interface ResponseMessage<Type extends string = string, Body = unknown> {
  readonly kind: 'resp';
  readonly reqId: string;
  readonly type: Type;
  readonly code: number;
  readonly body?: Body;
}

/**
 * A server push. A topic notification carries `topic` and `offset`; a private one (to this
 * session or to all sessions of its user) carries `seq`; a system notification (`herald.*`)
 * carries neither.
 */
export interface NotificationMessage<Type extends string = string, Body = unknown> {
  readonly kind: 'notification';
  readonly type: Type;
  readonly body?: Body;
  readonly topic?: string;
  readonly offset?: number;
  /**
   * On a conflated (latest-only) topic: offsets between the last one sent to this client and
   * this one were left out on purpose, superseded by this message. Not a gap.
   */
  readonly conflated?: true;
  /**
   * On a subscription with delta compression, in place of `body`: the delta that turns the body
   * of the publication at `offset - 1` (as JSON text) into this one's. Base64 text in JSON, bytes
   * in `herald.v1.msgpack`.
   */
  readonly delta?: string | Uint8Array;
  readonly seq?: number;
}

/**
 * Cumulative acknowledgement: the client holds every private notification up to `seq`, and
 * (when `resp` is given) has received the first `resp` responses sent on this connection.
 */
export interface AckMessage {
  readonly kind: 'ack';
  readonly seq: number;
  readonly resp?: number;
}

/** Keep-alive probe; either side may send it and the other answers `pong`. */
export interface PingMessage {
  readonly kind: 'ping';
}

/** The answer to a `ping`. */
export interface PongMessage {
  readonly kind: 'pong';
}

/** Anything a client may send. */
export type ClientMessage = RequestMessage | AckMessage | PingMessage | PongMessage;
/** Anything a server may send. */
export type ServerMessage = ResponseMessage | NotificationMessage | PingMessage | PongMessage;
/** Every envelope of protocol v1. */
export type Envelope = ClientMessage | ServerMessage;

/** A position in a topic's stream. A new `epoch` means the stream was reset. */
export interface StreamPosition {
  readonly epoch: string;
  readonly offset: number;
}

/** One problem found while validating a body against its schema. */
export interface Issue {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
}

/** The body of every error response and of `herald.Error`. */
export interface ErrorBody {
  readonly error: ErrorReason;
  readonly message: string;
  readonly issues?: readonly Issue[];
  readonly retryAfterMs?: number;
}

/** Body of `herald.Error`: a bad frame that cannot be answered with a response. */
export interface ErrorNotificationBody extends ErrorBody {
  readonly code: number;
}

/** Limits the server announces in `herald.Welcome`, so no client learns one by being cut off. */
export interface Limits {
  /** Largest text frame, in UTF-8 bytes, that the server reads. */
  readonly maxMessageBytes: number;
  /** Deepest nesting of arrays and objects accepted in a frame. */
  readonly maxDepth: number;
  /** The server pings when a direction has been quiet this long. */
  readonly pingIntervalMs: number;
  /** How long after a ping the server waits for any frame before closing with 4408. */
  readonly pingTimeoutMs: number;
  /** An unauthenticated session is closed with 4401 after this long. */
  readonly authDeadlineMs: number;
  /** Private notifications kept for replay (unacknowledged ones). */
  readonly replayWindow: number;
  /** How long a dropped session can be resumed. */
  readonly resumeWindowMs: number;
  /** How many recent request ids are remembered for de-duplication. */
  readonly dedupWindow: number;
  /** Most topics one session may be subscribed to. */
  readonly maxSubscriptions: number;
  /**
   * Sessions one user may hold on this server, live and detached (resumable) together. A new
   * one past it ends the user's longest-detached session; with none detached it is refused.
   */
  readonly maxSessionsPerPrincipal: number;
  /** Connections (WebSocket and long-poll) one remote address may have open to this server at once. */
  readonly maxConnectionsPerAddress: number;
  /** Sustained frames per second a session may send, and the burst above it. */
  readonly rateLimit: { readonly messagesPerSecond: number; readonly burst: number };
}

/** Body of `herald.Welcome`, the first message of every session. */
export interface WelcomeBody {
  readonly sessionId: string;
  readonly protocol: string;
  readonly authenticated: boolean;
  readonly userId?: string;
  readonly expiresAt?: number;
  readonly limits: Limits;
  /** How much history each topic keeps, when the broker says: past it, a resume or `since` gets `recovered: false`. */
  readonly topicHistory?: { readonly messages: number; readonly ttlMs?: number };
}

/** Body of a `herald.Authenticate` request. */
export interface AuthenticateBody {
  readonly token: string;
}

/** Body of a successful `herald.Authenticate` response. */
export interface AuthenticatedBody {
  readonly userId: string;
  readonly expiresAt?: number;
}

/** Body of a `herald.Subscribe` request. */
export interface SubscribeBody {
  readonly topic: string;
  readonly since?: StreamPosition;
  /** A delta format the client can apply (`fossil`); granted when the topic's pattern allows deltas and the server has the format. */
  readonly delta?: string;
}

/**
 * Body of a `herald.Subscribe` response and of `herald.Subscribed`: every notification of
 * the topic up to `offset` has been sent before it, every later one follows it.
 */
export interface SubscribedBody extends StreamPosition {
  readonly topic: string;
  /** Present when the subscription asked for history (`since`). */
  readonly recovered?: boolean;
  /** With `recovered: false`: `history_expired` or `epoch_changed`. */
  readonly reason?: RecoveryReason;
  /** The history this topic keeps, when its pattern in the contract sets one (else `topicHistory` of the Welcome). */
  readonly history?: { readonly messages: number; readonly ttlMs?: number };
  /** The delta format granted: publications after a full first one may come as deltas. */
  readonly delta?: string;
}

/** Body of a `herald.Unsubscribe` request and response. */
export interface UnsubscribeBody {
  readonly topic: string;
}

/** Body of a `herald.Presence` request: a page of a topic's members, after `after` (a userId) in userId order. */
export interface PresenceRequestBody {
  readonly topic: string;
  readonly after?: string;
  /** At most this many members (default 100, at most 1000). */
  readonly limit?: number;
}

/** Body of a `herald.SetPresence` request: this user's state on a topic. */
export interface SetPresenceBody {
  readonly topic: string;
  readonly state: unknown;
}

/** Body of `herald.PresenceCount`: the members of a count-only topic. */
export interface PresenceCountBody {
  readonly topic: string;
  readonly count: number;
}

/** Body of `herald.Unsubscribed`, when the server ends a subscription. */
export interface UnsubscribedBody {
  readonly topic: string;
  readonly reason: string;
}

/** Body of `herald.TopicReset`: history was lost; refetch state, live delivery goes on. */
export interface TopicResetBody extends StreamPosition {
  readonly topic: string;
  /** `history_expired` or `epoch_changed` (servers before this field send none). */
  readonly reason?: RecoveryReason;
}

/** Body of a `herald.Resume` request. */
export interface ResumeBody {
  readonly sessionId: string;
  /** Highest private `seq` the client holds (0 when none). */
  readonly seq: number;
  /** Every topic the client was subscribed to, with the last position it holds. */
  readonly topics?: Readonly<Record<string, ResumedTopic>>;
}

/** A topic listed in `herald.Resume`: the position held, and the delta format asked for, as in `herald.Subscribe`. */
export interface ResumedTopic extends StreamPosition {
  readonly delta?: string;
}

/** Body of a `herald.Resume` response. */
export interface ResumedBody {
  /** The id this connection now carries: the resumed one, or the new one when not recovered. */
  readonly sessionId: string;
  /** True only if nothing was lost: private stream and every listed topic. */
  readonly recovered: boolean;
  /** With `recovered: false`: the session's (`unknown_session`, `too_far_behind`), or `topic_not_recovered`. */
  readonly reason?: RecoveryReason;
  readonly topics: Readonly<Record<string, StreamPosition & { readonly recovered: boolean; readonly reason?: RecoveryReason; readonly delta?: string }>>;
}

/** Body of `herald.Goodbye`, sent right before the server closes a session. */
export interface GoodbyeBody {
  readonly code: number;
  readonly reason: string;
  readonly retryAfterMs?: number;
  /** On a refused browser upgrade (code 4000 + status): the refusal's `error`, as a native client gets it in the HTTP body. */
  readonly error?: string;
}
