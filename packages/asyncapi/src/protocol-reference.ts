/**
 * The prose of PROTOCOL.md that documentation needs next to the constants of `@herald/core`:
 * what each close code and error reason means and what a client does about it, and what each
 * system message is for. The tables are keyed by the core's `as const` objects, so a code added
 * there fails the typecheck here until it is documented.
 */
import { CloseCode, ErrorReason, PROTOCOL_NAME, Status, SystemType, closeCodeRetry, type RetryAdvice } from '@herald/core';

/** One row of the close-code table. */
export interface CloseCodeInfo {
  readonly code: CloseCode;
  readonly name: string;
  readonly retry: RetryAdvice;
  readonly when: string;
  readonly action: string;
}

/** One row of the error table. */
export interface ErrorCodeInfo {
  readonly error: ErrorReason;
  readonly status: number;
  readonly when: string;
  readonly answeredWith: string;
  readonly retry: string;
}

const closeCodeText: Readonly<Record<CloseCode, Pick<CloseCodeInfo, 'when' | 'action'>>> = {
  [CloseCode.Normal]: {
    when: 'Either side ended the connection on purpose.',
    action: 'Nothing; reconnect only if the application asks. A session the client closed with 1000 is discarded.',
  },
  [CloseCode.MessageTooBig]: {
    when: 'The transport refused a frame above its hard limit (never below maxMessageBytes).',
    action: 'Reconnect and resume; stop sending frames above maxMessageBytes.',
  },
  [CloseCode.BadRequest]: {
    when: 'Protocol violation: 10 undecodable frames in a row.',
    action: 'Report a bug; do not reconnect automatically.',
  },
  [CloseCode.Unauthorized]: {
    when: 'Authentication deadline passed, token expired, or a credential was rejected at a browser upgrade.',
    action: 'Get a new token or ticket, reconnect, authenticate, resume.',
  },
  [CloseCode.Forbidden]: {
    when: 'Origin not allowed, or the principal was refused.',
    action: 'Report; do not reconnect.',
  },
  [CloseCode.SubprotocolNotAcceptable]: {
    when: `No supported herald.* subprotocol offered (this server speaks ${PROTOCOL_NAME}).`,
    action: 'Report; the client must be upgraded.',
  },
  [CloseCode.KeepAliveTimeout]: {
    when: 'Nothing received within pingTimeoutMs of a ping.',
    action: 'Reconnect with backoff and resume.',
  },
  [CloseCode.SessionTakenOver]: {
    when: 'The session was resumed on another connection.',
    action: 'Do not reconnect from this connection; the session lives on elsewhere.',
  },
  [CloseCode.Disconnected]: {
    when: 'An operator ended the session (the inspector\'s disconnect action); the session is gone.',
    action: 'Do not reconnect on your own; a user may start a new session.',
  },
  [CloseCode.TooManyRequests]: {
    when: 'Flood: burst more frames while over the rate limit; a second overdraft of the processing budget; upgrade rate limit for browsers; maxSessionsPerPrincipal or maxConnectionsPerAddress reached.',
    action: 'Wait at least retryAfterMs, then reconnect and resume.',
  },
  [CloseCode.ClientLost]: {
    when: 'Sent by a gateway to a backend: the client leg of a relayed session closed without a code, errored or went half-open.',
    action: 'A backend keeps the session detached for resumeWindowMs, as for any drop.',
  },
  [CloseCode.InternalError]: {
    when: 'The server failed in a way that ends the connection.',
    action: 'Reconnect with backoff and resume.',
  },
  [CloseCode.BackendLost]: {
    when: 'Sent by a gateway: the backend leg of the relayed session broke (died, errored, went half-open) and the gateway could not relink it.',
    action: 'Reconnect with backoff and resume.',
  },
  [CloseCode.ShuttingDown]: {
    when: 'Graceful shutdown, or an upgrade to a draining node.',
    action: 'Reconnect (usually to another node) and resume.',
  },
  [CloseCode.SlowConsumer]: {
    when: 'Unacknowledged private notifications would exceed replayWindow.',
    action: 'Reconnect and resume; acknowledge faster.',
  },
};

const closeCodeNames = new Map<number, string>(Object.entries(CloseCode).map(([name, code]) => [code, name]));

/**
 * Every close code with its name, retry advice and meaning, in code order.
 *
 * @example
 * closeCodes.find((row) => row.code === 4401); // { code: 4401, name: 'Unauthorized', retry: 'reauthenticate', when: …, action: … }
 */
export const closeCodes: readonly CloseCodeInfo[] = Object.values(CloseCode)
  .toSorted((a, b) => a - b)
  .map((code) => ({ code, name: closeCodeNames.get(code) ?? String(code), retry: closeCodeRetry[code], ...closeCodeText[code] }));

const errorCodeText: Readonly<Record<ErrorReason, Omit<ErrorCodeInfo, 'error'>>> = {
  [ErrorReason.InvalidJson]: {
    status: Status.BadRequest,
    when: 'The frame is not valid JSON.',
    answeredWith: 'herald.Error',
    retry: 'No: fix the client.',
  },
  [ErrorReason.InvalidEnvelope]: {
    status: Status.BadRequest,
    when: 'Not a valid envelope: not an object, unknown or server-only kind, missing or malformed id, type or seq.',
    answeredWith: 'resp (a req with a valid id) or herald.Error',
    retry: 'No: fix the client.',
  },
  [ErrorReason.TooDeep]: {
    status: Status.BadRequest,
    when: 'Nesting deeper than maxDepth.',
    answeredWith: 'resp (a req id found in the first bytes) or herald.Error',
    retry: 'No: send a flatter body.',
  },
  [ErrorReason.BinaryFrame]: {
    status: Status.BadRequest,
    when: 'A binary frame on a herald.v1 session.',
    answeredWith: 'herald.Error',
    retry: 'No: send text frames.',
  },
  [ErrorReason.InvalidMsgpack]: {
    status: Status.BadRequest,
    when: 'A binary frame of a herald.v1.msgpack session that is not one MessagePack value of the JSON data model.',
    answeredWith: 'herald.Error',
    retry: 'No: fix the client.',
  },
  [ErrorReason.TextFrame]: {
    status: Status.BadRequest,
    when: 'A text frame on a herald.v1.msgpack session.',
    answeredWith: 'herald.Error',
    retry: 'No: send binary frames.',
  },
  [ErrorReason.TooLarge]: {
    status: Status.PayloadTooLarge,
    when: 'The frame is longer than maxMessageBytes (long-poll: a send body above its limit).',
    answeredWith: 'resp (a req id found in the first bytes), herald.Error or HTTP 413',
    retry: 'No: stay under maxMessageBytes. Not remembered, so a smaller retry may reuse the id.',
  },
  [ErrorReason.ValidationFailed]: {
    status: Status.BadRequest,
    when: 'The body does not match the schema of its type; issues lists the problems.',
    answeredWith: 'resp',
    retry: 'No: fix the body as issues say (the same id gets the same answer).',
  },
  [ErrorReason.UnknownType]: {
    status: Status.NotFound,
    when: 'No handler for the request type, or a herald.* type a client may not send.',
    answeredWith: 'resp',
    retry: 'No: the server does not know this type.',
  },
  [ErrorReason.NotAuthenticated]: {
    status: Status.Unauthorized,
    when: 'A request other than herald.Authenticate before the session is authenticated, whatever its body or type.',
    answeredWith: 'resp',
    retry: 'Yes: authenticate, then retry with the same id.',
  },
  [ErrorReason.InvalidToken]: {
    status: Status.Unauthorized,
    when: 'herald.Authenticate with a token the server rejects; an upgrade with a rejected Authorization header.',
    answeredWith: 'resp or upgrade refusal',
    retry: 'After getting a new token.',
  },
  [ErrorReason.PrincipalChanged]: {
    status: Status.Forbidden,
    when: 'A refresh with a token of another user.',
    answeredWith: 'resp',
    retry: 'No: the session keeps its user.',
  },
  [ErrorReason.Forbidden]: {
    status: Status.Forbidden,
    when: 'The principal may not do this (subscribe to this topic, call this type); long-poll: another Authorization header than at the open.',
    answeredWith: 'resp or HTTP 403',
    retry: 'No.',
  },
  [ErrorReason.IdConflict]: {
    status: Status.Conflict,
    when: 'An id reused for another type while still remembered.',
    answeredWith: 'resp',
    retry: 'No: use a fresh id (a client bug).',
  },
  [ErrorReason.Conflict]: {
    status: Status.Conflict,
    when: 'herald.Resume on a connection whose session already has state.',
    answeredWith: 'resp',
    retry: 'No: carry on as a new session and refetch state.',
  },
  [ErrorReason.SubscriptionLimit]: {
    status: Status.TooManyRequests,
    when: 'A subscription beyond maxSubscriptions: a herald.Subscribe, or a request whose handler subscribes the session past it.',
    answeredWith: 'resp',
    retry: 'After unsubscribing from another topic.',
  },
  [ErrorReason.RateLimited]: {
    status: Status.TooManyRequests,
    when: 'The session is over its rate limit, or throttled for overdrawing its processing budget (carries retryAfterMs); also per-IP upgrade limits.',
    answeredWith: 'resp or upgrade refusal',
    retry: 'Yes: wait retryAfterMs, retry with the same id.',
  },
  [ErrorReason.TooManySessions]: {
    status: Status.TooManyRequests,
    when: 'The user already has maxSessionsPerPrincipal sessions on the server and none is detached: a first herald.Authenticate (then Goodbye + close 4429), or an upgrade or long-poll open authenticated by its Authorization header. Carries retryAfterMs.',
    answeredWith: 'resp or upgrade refusal',
    retry: 'Yes: after retryAfterMs, once another session of the user has ended.',
  },
  [ErrorReason.TooManyConnections]: {
    status: Status.TooManyRequests,
    when: 'The remote address already has maxConnectionsPerAddress connections open, WebSocket and long-poll together (Retry-After and retryAfterMs).',
    answeredWith: 'upgrade refusal',
    retry: 'Yes: after retryAfterMs, once another connection of the address has closed.',
  },
  [ErrorReason.Internal]: {
    status: Status.InternalError,
    when: 'The handler or the server failed. No internals in message.',
    answeredWith: 'resp or herald.Error',
    retry: 'The same id gets the same answer; send a new request only if the operation is safe to repeat.',
  },
  [ErrorReason.ShuttingDown]: {
    status: Status.Unavailable,
    when: 'The server is draining.',
    answeredWith: 'resp or upgrade refusal',
    retry: 'Yes: reconnect (another node), resume, retry with the same id.',
  },
  [ErrorReason.OriginNotAllowed]: {
    status: Status.Forbidden,
    when: 'Upgrade from an Origin not on the allow-list.',
    answeredWith: 'upgrade refusal',
    retry: 'No.',
  },
  [ErrorReason.UnsupportedSubprotocol]: {
    status: Status.NotAcceptable,
    when: `Upgrade offering no supported herald.* subprotocol (offer ${PROTOCOL_NAME}).`,
    answeredWith: 'upgrade refusal',
    retry: 'No: the client must be upgraded.',
  },
  [ErrorReason.UnknownSession]: {
    status: Status.NotFound,
    when: 'Long-poll: no such connection, or it expired.',
    answeredWith: 'HTTP 404',
    retry: 'Yes: open a new long-poll connection and resume.',
  },
  [ErrorReason.InvalidBatch]: {
    status: Status.BadRequest,
    when: 'Long-poll: a send body that is not a JSON array of 1 to 64 strings, or a bad ack cursor.',
    answeredWith: 'HTTP 400',
    retry: 'No: fix the client.',
  },
  [ErrorReason.OutcomeUnknown]: {
    status: Status.Conflict,
    when: 'A retry of a request that was running on a node that stopped before answering, or whose record the shared store lost (nodes sharing sessions).',
    answeredWith: 'resp',
    retry: 'No: it may have taken effect; check the state, or send a new request with a new id.',
  },
  [ErrorReason.StillRunning]: {
    status: Status.Unavailable,
    when: 'A retry waited 30 s for a request still running on another node (nodes sharing sessions); carries retryAfterMs.',
    answeredWith: 'resp',
    retry: 'Yes: wait retryAfterMs, retry with the same id.',
  },
  [ErrorReason.NoBackend]: {
    status: Status.Unavailable,
    when: 'A gateway has no healthy backend to route the upgrade to.',
    answeredWith: 'upgrade refusal (HTTP 503, or close 4503 for browsers)',
    retry: 'Yes: reconnect with backoff.',
  },
};

/**
 * Every error reason with its status, meaning and retry advice, in status order.
 *
 * @example
 * errorCodes.find((row) => row.error === 'rate_limited'); // { error: 'rate_limited', status: 429, when: …, answeredWith: …, retry: … }
 */
export const errorCodes: readonly ErrorCodeInfo[] = Object.values(ErrorReason)
  .map((error) => ({ error, ...errorCodeText[error] }))
  .toSorted((a, b) => a.status - b.status);

/** What documentation says about one system message. */
export interface SystemMessageInfo {
  readonly summary: string;
  readonly description: string;
}

/** A system request, with example bodies taken from PROTOCOL.md. */
export interface SystemRequestInfo extends SystemMessageInfo {
  readonly example: { readonly request: unknown; readonly response: unknown };
}

/** A system notification, with an example body taken from PROTOCOL.md. */
export interface SystemNotificationInfo extends SystemMessageInfo {
  readonly example: unknown;
}

const limits = {
  maxMessageBytes: 65536,
  maxDepth: 32,
  pingIntervalMs: 25000,
  pingTimeoutMs: 10000,
  authDeadlineMs: 10000,
  replayWindow: 1000,
  resumeWindowMs: 120000,
  dedupWindow: 256,
  maxSubscriptions: 100,
  maxSessionsPerPrincipal: 32,
  maxConnectionsPerAddress: 256,
  rateLimit: { messagesPerSecond: 100, burst: 200 },
};

/** The `herald.*` requests a client may send. */
export const systemRequests: Readonly<Record<string, SystemRequestInfo>> = {
  [SystemType.Authenticate]: {
    summary: 'Authenticate the session, or refresh its credential.',
    description:
      'Body {token}: a bearer token or a single-use ticket. Browsers authenticate this way within authDeadlineMs of the Welcome; ' +
      'native clients may instead send Authorization: Bearer at the upgrade. Success answers {userId, expiresAt?} and, by default, ' +
      'the session is subscribed to $all (announced by herald.Subscribed). Send it again before expiresAt to refresh; a token of ' +
      'another user is refused with 403 principal_changed.',
    example: { request: { token: 'tk_01JH7Q3M8ZP4W6V2R9XK5N0B3C' }, response: { userId: 'u-48213', expiresAt: 1794825000000 } },
  },
  [SystemType.Subscribe]: {
    summary: 'Subscribe to a topic, optionally catching up from a position.',
    description:
      'Body {topic, since?, delta?}. Without since, delivery starts after the offset in the response. With since, missed notifications ' +
      'are replayed before the response and recovered says whether nothing was missing. With delta: "fossil" on a topic whose pattern ' +
      'allows deltas, the answer says delta: "fossil" and publications after a full one may carry delta (base64) in place of body.',
    example: {
      request: { topic: 'chat/room/42', since: { epoch: 'e7Kq2', offset: 1316 } },
      response: { topic: 'chat/room/42', epoch: 'e7Kq2', offset: 1318, recovered: true },
    },
  },
  [SystemType.Unsubscribe]: {
    summary: 'End a subscription.',
    description: 'Body {topic}; idempotent. No notification of the topic follows the response.',
    example: { request: { topic: 'chat/room/42' }, response: { topic: 'chat/room/42' } },
  },
  [SystemType.Resume]: {
    summary: 'Re-attach a detached session after a reconnect and replay what was missed.',
    description:
      'Send right after authenticating on the new connection, before any other request. Body {sessionId, seq, topics}. ' +
      'The answer says recovered: true only if nothing is missing; a new sessionId means a fresh session.',
    example: {
      request: { sessionId: 'KMU0WGCR5opSTq9E4AkvUA', seq: 57, topics: { 'chat/room/42': { epoch: 'e7Kq2', offset: 1320 } } },
      response: { sessionId: 'KMU0WGCR5opSTq9E4AkvUA', recovered: true, topics: { 'chat/room/42': { epoch: 'e7Kq2', offset: 1321, recovered: true } } },
    },
  },
  [SystemType.Presence]: {
    summary: 'Who is on a topic with presence: a page of members.',
    description:
      'Body {topic, after?, limit?}; the session must be subscribed. Members come in userId order, at most limit (default 100, at most 1000); ' +
      'pass next as after for the next page. The page reflects the topic up to offset: apply herald.PresenceDiff after it. Count-only topics answer {topic, count}.',
    example: {
      request: { topic: 'room/42' },
      response: { topic: 'room/42', epoch: 'e7Kq2', offset: 1318, count: 2, members: [{ userId: 'ann', state: { status: 'away' }, connections: 2 }, { userId: 'bob', connections: 1 }] },
    },
  },
  [SystemType.SetPresence]: {
    summary: "Set this user's presence state on a topic.",
    description: "Body {topic, state}; state is checked against the topic pattern's presence schema. Every subscriber gets a herald.PresenceDiff with the member's new state.",
    example: { request: { topic: 'room/42', state: { status: 'away' } }, response: { topic: 'room/42' } },
  },
};

/** The `herald.*` notifications a server sends. */
export const systemNotifications: Readonly<Record<string, SystemNotificationInfo>> = {
  [SystemType.Welcome]: {
    summary: 'The first message of every connection.',
    description: 'Carries the new session id, whether the upgrade already authenticated the session, and every limit the client must honour.',
    example: { sessionId: 'KMU0WGCR5opSTq9E4AkvUA', protocol: PROTOCOL_NAME, authenticated: false, limits },
  },
  [SystemType.Subscribed]: {
    summary: 'The server subscribed the session to a topic.',
    description: 'The automatic $all subscription, or one made by a request handler. Delivery starts after offset; list the topic in a later herald.Resume.',
    example: { topic: '$all', epoch: 'b0Wz9', offset: 88 },
  },
  [SystemType.Unsubscribed]: {
    summary: 'The server ended a subscription.',
    description: 'No notification of the topic follows. reason is informational (revoked, forbidden, subscription_limit, …).',
    example: { topic: 'chat/room/7', reason: 'revoked' },
  },
  [SystemType.TopicReset]: {
    summary: 'History the client needed is gone.',
    description: 'Refetch the state the topic describes; live delivery continues after offset in epoch.',
    example: { topic: 'chat/room/42', epoch: 'Jm4xT', offset: 0 },
  },
  [SystemType.Error]: {
    summary: 'The answer to a frame that cannot be answered with a resp.',
    description: 'Binary frames, invalid JSON, envelopes that are not a req with a valid id. The session stays open; a client that gets one has a bug.',
    example: { code: 400, error: 'invalid_json', message: 'frame is not valid JSON' },
  },
  [SystemType.PresenceDiff]: {
    summary: 'Members joined, changed state or left a topic with presence.',
    description:
      "A topic notification (it carries topic and offset, in the topic's stream, replayed on resume). joins lists members that joined or set a new state; leaves lists users whose last session left.",
    example: { joins: [{ userId: 'ann', state: { status: 'online' }, connections: 1 }], leaves: [] },
  },
  [SystemType.PresenceCount]: {
    summary: 'The number of members of a count-only topic.',
    description: 'Pushed when the count changed, at most once a second.',
    example: { topic: 'lobby/all', count: 1284 },
  },
  [SystemType.Goodbye]: {
    summary: 'The server is about to close the connection.',
    description: 'Sent before every close the server initiates with a 4xxx code; act on body.code by the close-code table and wait at least retryAfterMs.',
    example: { code: 4503, reason: 'server shutting down' },
  },
};
