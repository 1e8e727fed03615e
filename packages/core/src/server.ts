/**
 * `createHerald`: the server an adapter drives. It owns the sessions, decides upgrades, hands
 * application requests to the request pipeline (`request-pipeline.ts`), answers the `herald.*`
 * system requests (authentication, subscriptions, resume), and runs the one sweep that every
 * session's deadlines hang off. Private delivery through a session store lives in
 * `stored-delivery.ts`, the sessions of each user in `user-index.ts`.
 */
import { AddressConnections } from './address-connections.ts';
import type { Broker } from './broker.ts';
import { type ForwardedHeader, clientAddress, proxyMatcher } from './client-address.ts';
import { type Clock, systemClock } from './clock.ts';
import {
  TOPIC_PATTERN,
  TYPE_PATTERN,
  assertName,
  encodeBody,
  encodeSystemNotification,
  utf8Length,
} from './codec.ts';
import {
  BROADCAST_TOPIC,
  CloseCode,
  ErrorReason,
  PROTOCOL_NAME,
  RecoveryReason,
  Status,
  SYSTEM_TYPE_PREFIX,
  SystemType,
  closeCodeForStatus,
} from './constants.ts';
import type { DeltaCodec } from './delta-codec.ts';
import type { Contract, ContractDefinition, NotificationBody, NotificationType } from './contract.ts';
import { HeraldError } from './errors.ts';
import { type HeraldHealth, heraldHealth } from './health.ts';
import { Inspection } from './inspection.ts';
import { type Logger, consoleLogger } from './logger.ts';
import type { Meter, RequestTracer } from './meter.ts';
import { type ServerGauges, ServerMetrics } from './server-metrics.ts';
import type { ErrorBody, Limits, RequestMessage, ResumeBody, ResumedBody, StreamPosition, SubscribedBody, WelcomeBody } from './envelope.ts';
import { IdempotencyWindow, type PublishOptions, assertIdempotencyKey, idempotencyWindow } from './idempotency.ts';
import { MemoryBroker } from './memory-broker.ts';
import { randomId } from './random-id.ts';
import { Connection, type ProcessingBudget, Session, SessionState, type SessionHost } from './session.ts';
import type { Handlers, Middleware, SessionHandle } from './request-context.ts';
import { RequestPipeline } from './request-pipeline.ts';
import type { SessionStore } from './session-store.ts';
import type { HeraldSocket } from './socket.ts';
import { StoredDelivery } from './stored-delivery.ts';
import { readSystemBody } from './system-bodies.ts';
import { type NativePublish, TopicRegistry } from './topics.ts';
import { MemoryPresence, type PresencePage, type PresenceStore } from './presence.ts';
import { PresenceHub } from './presence-hub.ts';
import { type Topic, type TopicNotificationType, type TopicParams, type TopicPattern, TopicPatterns } from './topic-patterns.ts';
import { type UpgradeRateLimit, UpgradeLimiter } from './upgrade-limiter.ts';
import { UserIndex } from './user-index.ts';
import { FrameEncoder, type WireCodec } from './wire-codec.ts';
import {
  type ClientClass,
  type Principal,
  type UpgradeAccepted,
  type UpgradeDecision,
  type UpgradePolicy,
  type UpgradeRejected,
  type UpgradeRequest,
  assertOriginPolicy,
  bearerToken,
  MAX_TOKEN_LENGTH,
  checkUpgrade,
  rejection,
} from './upgrade.ts';

/** The limits a server announces when nothing else is configured. */
export const DEFAULT_LIMITS: Limits = {
  maxMessageBytes: 64 * 1024,
  maxDepth: 32,
  pingIntervalMs: 25_000,
  pingTimeoutMs: 10_000,
  authDeadlineMs: 10_000,
  replayWindow: 1000,
  resumeWindowMs: 120_000,
  dedupWindow: 256,
  maxSubscriptions: 100,
  maxSessionsPerPrincipal: 32,
  // Generous: an office or a mobile carrier puts many users behind one address.
  maxConnectionsPerAddress: 256,
  rateLimit: { messagesPerSecond: 100, burst: 200 },
};

const DEFAULT_UPGRADE_RATE_LIMIT: UpgradeRateLimit = { perSecond: 20, burst: 100 };
/** A tenth of a core per session, after a quarter of a second at once. */
const DEFAULT_PROCESSING_BUDGET: ProcessingBudget = { msPerSecond: 100, burstMs: 250 };
/** The `retryAfterMs` of a connection refused for its address's or user's cap: a guess, as no one knows when another ends. */
const CAP_RETRY_AFTER_MS = 5000;
const SESSION_ID_LENGTH = 22;
const MAX_REASON_BYTES = 123;

/** What the `authenticate` hook is told besides the token. */
export interface AuthenticateInfo {
  readonly sessionId: string | undefined;
  readonly client: ClientClass;
  /** The client's address (behind `trustProxy`, the one the proxy saw), when the adapter knows it. */
  readonly address?: string;
}

/** Options of `createHerald`. */
export interface HeraldOptions<C extends ContractDefinition> extends UpgradePolicy {
  readonly contract: Contract<C>;
  readonly handlers: Handlers<C>;
  /**
   * Turns a token (from `Authorization: Bearer` at upgrade, or `herald.Authenticate`) into a
   * principal, or null to refuse it. Without it every session is anonymous.
   */
  readonly authenticate?: (token: string, info: AuthenticateInfo) => Principal | null | Promise<Principal | null>;
  /**
   * Whether a client may subscribe itself to a topic that no pattern rule of `topics` decides.
   * Default: only to `$all`.
   */
  readonly canSubscribe?: (topic: string, session: SessionHandle) => boolean | Promise<boolean>;
  /**
   * Who may subscribe to the topics of each pattern the contract declares: `canSubscribe` gets
   * the pattern's parameters and the session, and answers true, false, or a refusal's message
   * (the client gets 403 `forbidden` with it). A pattern without a rule here falls back to the
   * `canSubscribe` option, and is refused without one.
   *
   * @example
   * createHerald({ contract, handlers, topics: { 'room/{roomId}': { canSubscribe: ({ roomId }, session) => rooms.has(roomId, session.userId) } } });
   */
  readonly topics?: TopicRules<C>;
  /**
   * Where the members of topics with presence (a pattern's `presence`) are kept: in this
   * process by default, across nodes with `RedisPresence` from `@herald/redis`.
   */
  readonly presence?: PresenceStore;
  /** A topic with presence got its first member (on any node sharing the presence store). */
  readonly onOccupied?: (topic: string) => void;
  /** A topic with presence lost its last member. */
  readonly onVacated?: (topic: string) => void;
  /** Called once a session is authenticated, e.g. to subscribe it server-side. */
  readonly onAuthenticated?: (session: SessionHandle) => void | Promise<void>;
  /** Subscribe every session to `$all` when it authenticates (default true). */
  readonly subscribeToBroadcast?: boolean;
  readonly middleware?: readonly Middleware<C>[];
  readonly broker?: Broker;
  /**
   * Shares sessions between nodes (`RedisSessionStore` from `@herald/redis`): private
   * notifications, answered requests and session ownership live in the store, so a client
   * resumes, and its retries are answered, on any node. Without it sessions live in this
   * process only.
   */
  readonly sessionStore?: SessionStore;
  readonly limits?: Partial<Limits>;
  /**
   * Binary subprotocols offered besides `herald.v1` (JSON in text frames, always on): a client
   * that offers one gets the same session with its envelopes in binary frames.
   *
   * @example
   * import { msgpack } from '@herald/core/msgpack';
   * createHerald({ contract, handlers, codecs: [msgpack()] }); // herald.v1.msgpack
   */
  readonly codecs?: readonly WireCodec[];
  /**
   * The delta format of topics whose pattern sets `delta: true`: subscribers that ask for it get
   * deltas of each publication against the previous one. Required when a pattern sets `delta`.
   *
   * @example
   * import { fossilDelta } from '@herald/core/fossil-delta';
   * createHerald({ contract, handlers, delta: fossilDelta() });
   */
  readonly delta?: DeltaCodec;
  /** Send-buffer bytes above which a session's notifications wait (default 1 MiB). */
  readonly highWaterMark?: number;
  /**
   * Processing time one session may take from the event loop: the synchronous work of its
   * requests (validation, middleware, handler up to its first await), measured per request.
   * `msPerSecond` sustained after `burstMs` at once (default 100 ms/s after 250 ms). A session
   * that overdraws it is throttled (its frames answered `429 rate_limited` until the debt is paid
   * back), and closed with 4429 if it overdraws it again before the budget is full. `false`
   * turns it off.
   */
  readonly processingBudget?: ProcessingBudget | false;
  /**
   * Upgrades allowed per client address (see `trustProxy`): `perSecond` after a `burst`
   * (default 20/s after 100); `false` disables the limit (load tests). Refusals are 429 with
   * `Retry-After`. Long-poll opens count as upgrades.
   */
  readonly upgradeRateLimit?: UpgradeRateLimit | false;
  /**
   * The proxies (addresses or CIDR blocks, IPv4 and IPv6) whose `forwardedHeader` states the
   * client's address. A request from one of them is counted, limited and logged by the rightmost
   * hop of that header that is not a trusted proxy; the header is ignored from any other peer,
   * so a client cannot choose its own address. Without it, the peer address is the client's:
   * behind a load balancer every client then shares the balancer's upgrade limit.
   *
   * @example
   * createHerald({ contract, handlers, trustProxy: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'] });
   */
  readonly trustProxy?: readonly string[];
  /**
   * The header the trusted proxies set (default `x-forwarded-for`; `forwarded` reads RFC 7239's
   * `for=`). Only that one: a proxy passes the other through from the client untouched.
   */
  readonly forwardedHeader?: ForwardedHeader;
  /**
   * Where the server logs, in pino's shape: refused upgrades, failed authentications and
   * sessions the server closed at info, failures at error (see `Logger`). Default: warn and
   * error on the console, nothing else.
   */
  readonly logger?: Logger;
  /**
   * Where the server reports its `herald_` metrics (`prometheusMetrics` or `otelMeter` from
   * `@herald/metrics`). Without it nothing is counted, and the hot path pays one check per call site.
   *
   * @example
   * const metrics = prometheusMetrics();
   * createHerald({ contract, handlers, meter: metrics.meter });
   */
  readonly meter?: Meter;
  /**
   * Starts a span per application request (`otelTracer` from `@herald/metrics`), with the
   * client's `traceparent` when its envelope carries one.
   */
  readonly tracer?: RequestTracer;
  /** Period of the sweep that drives deadlines and keep-alive (default 1000 ms). */
  readonly sweepIntervalMs?: number;
  readonly clock?: Clock;
  /** Told of every handler error that became a 500 (default: logged at error as `handler_failed`). */
  readonly onError?: (error: unknown, request: { readonly type: string; readonly sessionId: string }) => void;
  /**
   * Told when a `herald.Resume` did not recover everything (the answer says `recovered: false`):
   * why (`unknown_session`, `too_far_behind`, `topic_not_recovered`) and, per topic that was not
   * recovered, its reason. For metrics and logs; what the client must refetch, it is told itself.
   */
  readonly onRecoveryFailed?: (failure: RecoveryFailureInfo) => void;
  /**
   * How long this node remembers a `sendToUser` `idempotencyKey` when there is no session store
   * (default 5 minutes). With one, the store's window applies; publishes use the broker's.
   */
  readonly idempotencyWindowMs?: number;
}

/** The server's rule for the topics of one pattern. */
export interface TopicRule<Pattern extends string> {
  readonly canSubscribe?: (params: TopicParams<Pattern>, session: SessionHandle) => boolean | string | Promise<boolean | string>;
}

/** A rule per topic pattern of contract `C`. */
export type TopicRules<C> = { readonly [P in TopicPattern<C>]?: TopicRule<P> };

/** What `onRecoveryFailed` is told. */
export interface RecoveryFailureInfo {
  /** The session the connection now carries: the resumed one, or a new one when the session was lost. */
  readonly sessionId: string;
  /** The session the client asked to resume. */
  readonly resumed: string;
  readonly userId: string | undefined;
  readonly reason: RecoveryReason;
  /** The topics that were not recovered, with why. */
  readonly topics: Readonly<Record<string, RecoveryReason>>;
}

/** Counts for health checks and tests. */
export interface HeraldStats {
  readonly sessions: number;
  readonly connections: number;
  readonly topics: number;
  /** Bytes queued in the transports' send buffers, over all connections. */
  readonly bufferedBytes: number;
  /** Private notifications held for replay, over all sessions. */
  readonly replayFrames: number;
  /** Answers held for retries, over all sessions: in retry caches, and waiting for confirmation (`resp`). */
  readonly retryAnswers: number;
}

const ANONYMOUS: Principal = { userId: 'anonymous' };

/** A close reason within the 123 bytes RFC 6455 allows. */
function truncateReason(reason: string): string {
  let out = reason;
  while (utf8Length(out) > MAX_REASON_BYTES) out = out.slice(0, -1);
  return out;
}

/**
 * A Herald server, independent of any transport.
 *
 * @example
 * const herald = createHerald({ contract: chat, handlers: { 'chat.Send': async (body, ctx) => ({ id: '1' }) } });
 * // in an adapter:
 * const decision = await herald.upgrade(request);
 * const connection = herald.open(socket, decision); // then connection.receive(text), connection.closed(code)
 */
export class Herald<C extends ContractDefinition = ContractDefinition> implements SessionHost {
  readonly limits: Limits;
  readonly highWaterMark: number;
  readonly processingBudget: ProcessingBudget | undefined;
  readonly logger: Logger;
  /** @internal The `herald_` instruments, when there is a `meter`. */
  readonly metrics: ServerMetrics | undefined;
  /**
   * The `meter` option, for the parts around the server to report their own `herald_` families
   * (the long-poll handler's held polls); the broker is handed it through `Broker.instrument`.
   */
  readonly meter: Meter | undefined;
  /** @internal Set by the first `inspection()`. */
  inspecting: Inspection | undefined = undefined;
  now: number;
  private readonly sessions = new Map<string, Session>();
  private readonly users: UserIndex;
  /** Without a session store: `sendToUser` keys this node used (`<user>\n<key>`), with their send. */
  private readonly sentToUser: IdempotencyWindow<Promise<void>>;
  private readonly requests: RequestPipeline<C>;
  private readonly topics: TopicRegistry;
  private readonly patterns: TopicPatterns;
  /** Presence of the topics whose pattern has it (undefined: none has). */
  private readonly presence: PresenceHub | undefined;
  private readonly broker: Broker;
  readonly sessionStore: SessionStore | undefined;
  /** Private delivery through the session store, when there is one. */
  private readonly stored: StoredDelivery | undefined;
  readonly clock: Clock;
  private readonly sweepIntervalMs: number;
  private readonly upgradeLimiter: UpgradeLimiter | undefined;
  /** Connections open per client address, for `maxConnectionsPerAddress`. */
  private readonly connectionsPerAddress: AddressConnections;
  private readonly trustedProxy: (address: string) => boolean;
  /** Connections whose close is logged: the transport may report the code the server closed with. */
  private readonly closeLogged = new WeakSet<Connection>();
  private sweepHandle: unknown = undefined;
  private closing = false;
  /** The encoder of each binary subprotocol (`codecs`), by its name. */
  readonly encoders: ReadonlyMap<string, FrameEncoder>;
  /** The subprotocols an upgrade may select: `herald.v1`, then those of `codecs`. */
  private readonly protocols: readonly string[];

  constructor(private readonly options: HeraldOptions<C>) {
    assertOriginPolicy(options);
    this.trustedProxy = proxyMatcher(options.trustProxy ?? []);
    this.logger = options.logger ?? consoleLogger;
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.processingBudget = options.processingBudget === false ? undefined : (options.processingBudget ?? DEFAULT_PROCESSING_BUDGET);
    this.clock = options.clock ?? systemClock;
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.encoders = new Map((options.codecs ?? []).map((codec) => [codec.protocol, new FrameEncoder(codec)]));
    this.protocols = [PROTOCOL_NAME, ...this.encoders.keys()];
    this.broker = options.broker ?? new MemoryBroker();
    const patterns = (this.patterns = new TopicPatterns(options.contract.topics, Object.keys(options.contract.notifications)));
    const delta = options.delta;
    if (patterns.deltas && delta === undefined) {
      throw new TypeError('a topic pattern sets delta: give createHerald a delta format (delta: fossilDelta() from @herald/core/fossil-delta)');
    }
    this.topics = new TopicRegistry(
      this.broker,
      this.clock,
      (topic) => patterns.conflationOf(topic),
      (topic) => (patterns.deltaOf(topic) ? delta : undefined),
    );
    this.useTopicRetention();
    const withPresence = Object.values(options.contract.topics ?? {}).some((topic) => topic.presence !== undefined && topic.presence !== false);
    this.presence = withPresence
      ? new PresenceHub(options.presence ?? new MemoryPresence(), this.patterns, this.broker, {
          ...(options.onOccupied === undefined ? {} : { occupied: options.onOccupied }),
          ...(options.onVacated === undefined ? {} : { vacated: options.onVacated }),
          changed: (change) => this.metrics?.presenceChanged(change),
          reportError: (error, session) => {
            this.metrics?.presenceErrors.add(1);
            if (session === undefined) this.logger.error({ event: 'presence_failed', err: error }, 'presence store or broker failed');
            else this.reportError(error, session);
          },
        })
      : undefined;
    const store = (this.sessionStore = options.sessionStore);
    this.requests = new RequestPipeline(this, options, store, this.clock, (error, session) => this.reportError(error, session));
    // Send-to-user needs the broker's direct channels only to reach other nodes: through a broker of the application's, without a store.
    const userChannels = store === undefined && options.broker !== undefined ? this.broker : undefined;
    this.users = new UserIndex(userChannels, (error, session) => this.reportError(error, session));
    this.sentToUser = new IdempotencyWindow(idempotencyWindow('createHerald', options.idempotencyWindowMs), () => this.clock.now());
    const stored = (this.stored =
      store === undefined
        ? undefined
        : new StoredDelivery(store, {
            session: (sessionId) => this.sessions.get(sessionId),
            rename: (session, sessionId) => this.rename(store, session, sessionId),
            lose: (session) => this.lose(session),
            reportError: (error, session) => this.reportError(error, session),
          }));
    store?.attach(
      {
        notification: (sessionId, notification) => stored?.heard(sessionId, notification),
        head: (sessionId, seq) => stored?.head(sessionId, seq),
        takenOver: (sessionId) => {
          const session = this.sessions.get(sessionId);
          if (session === undefined) return;
          if (session.connection !== null) session.takeOver();
          this.destroy(session, false);
        },
        lost: (sessionId) => {
          const session = this.sessions.get(sessionId);
          if (session !== undefined) this.lose(session);
        },
      },
      { replayWindow: this.limits.replayWindow, resumeWindowMs: this.limits.resumeWindowMs },
    );
    const upgradeRateLimit = options.upgradeRateLimit ?? DEFAULT_UPGRADE_RATE_LIMIT;
    this.upgradeLimiter = upgradeRateLimit === false ? undefined : new UpgradeLimiter(upgradeRateLimit);
    this.connectionsPerAddress = new AddressConnections(this.limits.maxConnectionsPerAddress);
    this.metrics = options.meter === undefined ? undefined : new ServerMetrics(options.meter, () => this.gauges(), (type) => Object.hasOwn(options.contract.requests, type));
    this.topics.metrics = this.metrics;
    this.meter = options.meter;
    if (options.meter !== undefined) this.broker.instrument?.(options.meter);
    this.now = this.clock.now();
  }

  /** Hands the history rules of the contract's topic patterns to the broker. */
  private useTopicRetention(): void {
    const patterns = this.patterns;
    const keeps = Object.entries(this.options.contract.topics ?? {}).filter(([, topic]) => topic.history !== undefined);
    if (keeps.length === 0) return;
    if (this.broker.useTopicRetention === undefined) {
      throw new TypeError(`createHerald: topic pattern ${keeps[0]?.[0]} sets history, which this broker cannot keep per topic`);
    }
    this.broker.useTopicRetention((topic) => patterns.retentionOf(topic));
  }

  /** Throws when the contract declares topics and `topic` is none of them, or does not carry `type`. */
  private checkPublish(topic: string, type: string): void {
    if (!this.patterns.declared || topic === BROADCAST_TOPIC) return;
    const match = this.patterns.match(topic);
    if (match === null) throw new TypeError(`topic ${topic} matches no topic pattern of the contract`);
    if (!match.pattern.definition.notifications.includes(type)) {
      throw new TypeError(`topic pattern ${match.pattern.pattern} does not carry ${type} (it carries ${match.pattern.definition.notifications.join(', ')})`);
    }
  }

  private gauges(): ServerGauges {
    let subscriptions = 0;
    for (const session of this.sessions.values()) subscriptions += session.topicCount;
    return { ...this.stats, subscriptions, presenceMemberships: this.presence?.membershipCount ?? 0 };
  }

  /**
   * For adapters whose transport publishes natively (uWS `app.publish`, Bun `server.publish`):
   * sockets that implement `subscribe`/`unsubscribe` then get topic frames through one call
   * per message instead of one send per subscriber. `publish` gets the JSON frame; sockets of
   * a binary subprotocol join a topic of their own (see `nativeTopic`), published with
   * `encoders`' `encodeShared` of the same frame, once per publication.
   */
  useNativePublish(publish: NativePublish): void {
    this.topics.nativePublish = publish;
  }

  /** Whether this node should get traffic: not draining, broker and session store reachable (`/readyz`). */
  health(): HeraldHealth {
    return heraldHealth(this.closing, this.broker.health?.(), this.sessionStore?.health?.());
  }

  /**
   * This server's inspection (`@herald/inspector` serves it as a page): snapshots of its sessions
   * and topics, frame taps, and the operator's actions. It starts counting refusals, errors and
   * answers at the first call; a server never asked pays nothing for it.
   *
   * @example
   * const { sessions, topics } = herald.inspection().snapshot();
   */
  inspection(): Inspection {
    return (this.inspecting ??= new Inspection({
      now: () => this.clock.now(),
      draining: () => this.closing,
      sessions: () => this.sessions.values(),
      session: (sessionId) => this.sessions.get(sessionId),
      topics: () => this.topics.inspect(),
      unsubscribe: (session, topic, reason) => this.unsubscribe(session, topic, reason),
      destroy: (session) => this.destroy(session),
      tapping: (delta) => (this.topics.tapped += delta),
    }));
  }

  /** Counts for health checks and tests; walks every session, so not for the hot path. */
  get stats(): HeraldStats {
    let connections = 0;
    let bufferedBytes = 0;
    let replayFrames = 0;
    let retryAnswers = 0;
    for (const session of this.sessions.values()) {
      replayFrames += session.replay?.size ?? 0;
      retryAnswers += session.dedup?.answers ?? 0;
      if (session.connection === null) continue;
      connections++;
      bufferedBytes += session.connection.socket.bufferedAmount;
      retryAnswers += session.connection.sendLog?.size ?? 0;
    }
    return { sessions: this.sessions.size, connections, topics: this.topics.size, bufferedBytes, replayFrames, retryAnswers };
  }

  /** The address of the client behind `request`: its peer's, or the one a trusted proxy forwarded. */
  clientAddress(request: UpgradeRequest): string | undefined {
    return clientAddress(request, this.trustedProxy, this.options.forwardedHeader ?? 'x-forwarded-for');
  }

  /** Decides an upgrade: subprotocol, Origin, and the principal from `Authorization`. */
  async upgrade(request: UpgradeRequest): Promise<UpgradeDecision> {
    // Headers are read before the first await: uWS reuses its request once the route returns.
    const address = this.clientAddress(request);
    const origin = request.headers.get('origin');
    const decision = await this.decide(request, address).catch((error: unknown) => {
      this.logger.error({ event: 'upgrade_failed', address, err: error }, 'upgrade failed');
      throw error;
    });
    if (!decision.ok) {
      this.metrics?.upgradeRefused(decision.body.error);
      this.inspecting?.refused(decision.status, decision.body.error, address);
    }
    if (!decision.ok && decision.status !== Status.Unauthorized) {
      this.logger.info({ event: 'upgrade_refused', status: decision.status, reason: decision.body.error, address, origin }, 'upgrade refused');
    }
    return decision;
  }

  private async decide(request: UpgradeRequest, address: string | undefined): Promise<UpgradeDecision> {
    const checked = checkUpgrade(request, this.options, this.protocols);
    if ('ok' in checked) return checked;
    const { client, protocol } = checked;
    if (this.closing) return rejection(Status.Unavailable, ErrorReason.ShuttingDown, 'server shutting down', client, protocol);
    if (this.upgradeLimiter !== undefined && address !== undefined) {
      const wait = this.upgradeLimiter.take(address, this.clock.now());
      if (wait > 0) return rejection(Status.TooManyRequests, ErrorReason.RateLimited, 'too many upgrades', client, protocol, wait);
      this.startSweep();
    }
    if (address !== undefined && !this.connectionsPerAddress.admits(address)) return this.tooManyConnections(client, protocol);
    const token = bearerToken(request);
    if (token === null) {
      const message = `Authorization must be "Bearer <token>" with one token of at most ${MAX_TOKEN_LENGTH} characters`;
      return rejection(Status.BadRequest, ErrorReason.ValidationFailed, message, client, protocol);
    }
    let principal: Principal | null = null;
    const withAddress = address === undefined ? {} : { address };
    if (token !== undefined && this.options.authenticate !== undefined) {
      principal = await this.checkToken(token, { sessionId: undefined, client, ...withAddress });
      if (principal === null) return rejection(Status.Unauthorized, ErrorReason.InvalidToken, 'invalid token', client, protocol);
      if (this.sessionsFull(principal.userId)) return this.tooManySessions(client, protocol);
    }
    return { ok: true, protocol, client, principal, ...withAddress };
  }

  private tooManyConnections(client: ClientClass, protocol: string): UpgradeRejected {
    const message = `too many connections from this address (at most ${this.limits.maxConnectionsPerAddress})`;
    return rejection(Status.TooManyRequests, ErrorReason.TooManyConnections, message, client, protocol, CAP_RETRY_AFTER_MS);
  }

  private tooManySessions(client: ClientClass, protocol: string): UpgradeRejected {
    return rejection(Status.TooManyRequests, ErrorReason.TooManySessions, this.sessionCapMessage(), client, protocol, CAP_RETRY_AFTER_MS);
  }

  private sessionCapMessage(): string {
    return `too many sessions of this user (at most ${this.limits.maxSessionsPerPrincipal})`;
  }

  /** The principal of a token, or null (logged as `auth_failed`, without the token). */
  private async checkToken(token: string, info: AuthenticateInfo): Promise<Principal | null> {
    const authenticate = this.options.authenticate;
    if (authenticate === undefined) return ANONYMOUS;
    const principal = await authenticate(token, info);
    const expired = principal !== null && principal.expiresAt !== undefined && principal.expiresAt <= this.clock.now();
    if (principal !== null && !expired) return principal;
    const reason = expired ? 'token expired' : 'token refused';
    this.logger.info({ event: 'auth_failed', reason, sessionId: info.sessionId, address: info.address, client: info.client }, 'authentication failed');
    return null;
  }

  /** Starts a session on an open socket after an accepted upgrade. */
  open(socket: HeraldSocket, accepted: UpgradeAccepted): Connection {
    this.now = this.clock.now();
    const session = new Session(this, randomId(SESSION_ID_LENGTH));
    const connection = new Connection(socket, accepted.client, session, this.encoders.get(accepted.protocol));
    connection.address = accepted.address;
    const metrics = this.metrics;
    if (metrics !== undefined) {
      const transport = socket.transport ?? 'websocket';
      connection.metrics = metrics.transport(transport);
      metrics.connectionOpened(transport);
    }
    session.attach(connection);
    this.sessions.set(session.id, session);
    this.startSweep();
    if (this.closing) {
      session.close(CloseCode.ShuttingDown, 'server shutting down');
      return connection;
    }
    const address = accepted.address;
    if (address !== undefined) {
      // Upgrades decided at the same time can all pass `upgrade`'s check; the count holds here.
      if (!this.connectionsPerAddress.admits(address)) {
        const refused = this.tooManyConnections(connection.client, accepted.protocol);
        session.close(CloseCode.TooManyRequests, truncateReason(refused.body.message), CAP_RETRY_AFTER_MS);
        return connection;
      }
      connection.address = this.connectionsPerAddress.add(address);
      connection.counted = this.connectionsPerAddress;
    }
    const principal = accepted.principal ?? (this.options.authenticate === undefined ? ANONYMOUS : null);
    const welcome: WelcomeBody = {
      sessionId: session.id,
      protocol: PROTOCOL_NAME,
      authenticated: principal !== null,
      ...(principal === null ? {} : { userId: principal.userId }),
      ...(principal?.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
      limits: this.limits,
      ...(this.broker.retention === undefined ? {} : { topicHistory: this.broker.retention }),
    };
    session.sendSystem(SystemType.Welcome, welcome);
    // `now` was read as the session opened: its times hold one number rather than one each.
    if (principal !== null) this.authenticated(session, principal, this.now);
    return connection;
  }

  /**
   * The browser half of the upgrade-error strategy: on a socket accepted only to deliver the
   * refusal, sends `herald.Goodbye` and closes with 4000 + status.
   */
  reject(socket: HeraldSocket, rejected: UpgradeRejected): void {
    const code = closeCodeForStatus(rejected.status);
    const reason = truncateReason(rejected.body.message);
    const retryAfterMs = rejected.body.retryAfterMs;
    // `error` is the refusal's, as a native client reads it in the HTTP body (and a gateway passes on to long-poll clients).
    const error = rejected.body.error;
    const goodbye = encodeSystemNotification(SystemType.Goodbye, retryAfterMs === undefined ? { code, reason, error } : { code, reason, retryAfterMs, error });
    const encoder = rejected.protocol === undefined ? undefined : this.encoders.get(rejected.protocol);
    socket.send(encoder === undefined ? goodbye : encoder.encode(goodbye));
    socket.close(code, reason);
  }

  /**
   * Publishes to a topic: encoded once per node, delivered to every subscriber on every node.
   * With `{ idempotencyKey }`, a publish the broker saw with that key for this topic within its
   * idempotency window (default 5 minutes) is not published again: it resolves with the first
   * one's position, so a producer may retry after any failure.
   */
  publish<P extends Topic<C>, T extends TopicNotificationType<C, P, NotificationType<C>>>(
    topic: P,
    type: T,
    body: NotificationBody<C, T>,
    options?: PublishOptions,
  ): Promise<StreamPosition> {
    return this.publishTo(topic, type, body, options);
  }

  /** Publishes to `$all`, which every session joins on authentication (unless disabled). */
  broadcast<T extends NotificationType<C>>(type: T, body: NotificationBody<C, T>, options?: PublishOptions): Promise<StreamPosition> {
    return this.publishTo(BROADCAST_TOPIC, type, body, options);
  }

  private publishTo(topic: string, type: string, body: unknown, options: PublishOptions | undefined): Promise<StreamPosition> {
    assertName(TOPIC_PATTERN, topic, 'topic');
    assertName(TYPE_PATTERN, type, 'notification type');
    this.checkPublish(topic, type);
    const key = options?.idempotencyKey;
    assertIdempotencyKey(key);
    return this.broker.publish(topic, type, encodeBody(body), key);
  }

  /**
   * A private notification to every session of a user, on every node, with confirmation. With
   * `{ idempotencyKey }`, it is sent once per key and user within the idempotency window: across
   * nodes by the session store; without one, by this node (other nodes do not know the key).
   */
  sendToUser<T extends NotificationType<C>>(userId: string, type: T, body: NotificationBody<C, T>, options?: PublishOptions): Promise<void> {
    assertName(TYPE_PATTERN, type, 'notification type');
    const key = options?.idempotencyKey;
    assertIdempotencyKey(key);
    const encoded = encodeBody(body);
    if (this.sessionStore !== undefined) return this.sessionStore.notifyUser(userId, type, encoded, key);
    if (key === undefined) return this.users.sendToUser(userId, type, encoded);
    const first = this.sentToUser.get(userId, key);
    if (first !== undefined) return first;
    const sent = this.users.sendToUser(userId, type, encoded);
    this.sentToUser.remember(userId, key, sent);
    // A send that failed did not happen: its retry must go out.
    sent.catch(() => this.sentToUser.forget(userId, key));
    return sent;
  }

  /**
   * Subscribes a session from the server side; the client is told with `herald.Subscribed`.
   * Past `maxSubscriptions` it rejects with a `HeraldError` (429 `subscription_limit`), which
   * answers the request of a handler that lets it through.
   */
  async subscribe(session: SessionHandle, topic: string): Promise<StreamPosition> {
    assertName(TOPIC_PATTERN, topic, 'topic');
    if (this.patterns.declared && topic !== BROADCAST_TOPIC && this.patterns.match(topic) === null) {
      throw new TypeError(`topic ${topic} matches no topic pattern of the contract`);
    }
    const target = this.sessions.get(session.id);
    if (target === undefined || target.state !== SessionState.Open) throw new Error(`session ${session.id} is not open`);
    const refusal = this.overLimit(target, topic);
    if (refusal !== undefined) throw new HeraldError(refusal[0], refusal[1].error, refusal[1].message);
    const subscribed = await this.join(target, topic, undefined, (body) => target.sendSystem(SystemType.Subscribed, body));
    return { epoch: subscribed.epoch, offset: subscribed.offset };
  }

  /**
   * Who is on a topic with presence (its pattern's `presence`), on every node sharing the
   * presence store: a page of members in `userId` order (count-only topics: the count alone).
   * Throws a `TypeError` for a topic without presence.
   *
   * @example
   * const { count, members } = await herald.members('skill/billing');
   */
  members(topic: string, options: { readonly after?: string; readonly limit?: number } = {}): Promise<PresencePage> {
    const presence = this.presence;
    if (presence === undefined || presence.modeOf(topic) === undefined) throw new TypeError(`topic ${topic} has no presence`);
    return presence.page(topic, options.after, options.limit);
  }

  /** Ends a subscription from the server side; the client is told with `herald.Unsubscribed`. */
  unsubscribe(session: SessionHandle, topic: string, reason = 'unsubscribed by the server'): void {
    const target = this.sessions.get(session.id);
    if (target?.removeTopic(topic) !== true) return;
    this.topics.unsubscribe(target, topic);
    this.presence?.left(target, topic);
    target.sendSystem(SystemType.Unsubscribed, { topic, reason });
  }

  /**
   * Graceful shutdown: new upgrades get 503, every connected client gets `herald.Goodbye`
   * and close code 4503 (reconnect elsewhere), and the sweep stops.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const session of [...this.sessions.values()]) {
      if (session.connection !== null) session.close(CloseCode.ShuttingDown, 'server shutting down');
      // With a session store the session stays resumable on the other nodes.
      this.destroy(session, false);
    }
    this.stopSweep();
  }

  // ---- SessionHost -------------------------------------------------------------------------

  closingSession(session: Session, code: number, reason: string): void {
    const connection = session.connection;
    if (connection === null || this.closeLogged.has(connection)) return;
    this.closeLogged.add(connection);
    this.inspecting?.closed(session, code, reason);
    const address = connection.address;
    const fields = { event: 'session_closed', code, reason, sessionId: session.id, userId: session.userId, address };
    if (code === CloseCode.ShuttingDown) this.logger.debug?.(fields, 'session closed');
    else this.logger.info(fields, 'session closed');
  }

  handleRequest(session: Session, request: RequestMessage): void {
    // Anything but authenticating or resuming tells that the client is not resuming another session.
    if (request.type !== SystemType.Authenticate && request.type !== SystemType.Resume) session.settle();
    // Before authentication nothing but herald.Authenticate is read, system types included (§8).
    if (session.state !== SessionState.Open && request.type !== SystemType.Authenticate) {
      session.sendError(request.id, request.type, Status.Unauthorized, {
        error: ErrorReason.NotAuthenticated,
        message: `send ${SystemType.Authenticate} first`,
      });
      return;
    }
    if (request.type.startsWith(SYSTEM_TYPE_PREFIX)) {
      void this.handleSystem(session, request).catch((error: unknown) => this.fail(session, request, error));
      return;
    }
    this.requests.run(session, request);
  }

  private fail(session: Session, request: RequestMessage, error: unknown): void {
    session.sendError(request.id, request.type, ...this.requests.describe(error, session, request));
  }

  private async handleSystem(session: Session, request: RequestMessage): Promise<void> {
    const parsed = readSystemBody(request.type, request.body);
    if (!parsed.ok) {
      session.sendError(request.id, request.type, parsed.status, parsed.body);
      return;
    }
    const { type, body } = parsed;
    if (type === SystemType.Authenticate) return this.authenticate(session, request, body.token);
    switch (type) {
      case SystemType.Subscribe: {
        session.hasClientState = true;
        const connection = session.connection;
        const refusal = (await this.refuseSubscription(session, body.topic)) ?? this.overLimit(session, body.topic);
        // The connection changed while the application decided (a resume elsewhere): drop the request.
        if (session.connection !== connection) return;
        if (refusal !== undefined) {
          session.sendError(request.id, request.type, ...refusal);
          return;
        }
        await this.join(
          session,
          body.topic,
          body.since,
          (subscribed) => session.respond(request.id, request.type, Status.OK, subscribed),
          body.delta,
        );
        return;
      }
      case SystemType.Unsubscribe:
        if (session.removeTopic(body.topic)) this.topics.unsubscribe(session, body.topic);
        this.presence?.left(session, body.topic);
        session.respond(request.id, request.type, Status.OK, { topic: body.topic });
        return;
      case SystemType.Resume:
        return this.resume(session, request, body);
      case SystemType.Presence:
      case SystemType.SetPresence: {
        const presence = this.presence;
        const [status, answer] =
          presence === undefined
            ? [Status.Forbidden, { error: ErrorReason.Forbidden, message: `${body.topic} has no presence` }]
            : type === SystemType.Presence
              ? await presence.list(session, body.topic, body.after, body.limit)
              : await presence.set(session, body.topic, body.state);
        if (status === Status.OK) session.respond(request.id, request.type, status, answer);
        else session.sendError(request.id, request.type, status, answer as ErrorBody);
        return;
      }
    }
  }

  private async authenticate(session: Session, request: RequestMessage, token: string): Promise<void> {
    const connection = session.connection;
    const address = connection?.address;
    const info = { sessionId: session.id, client: connection?.client ?? 'native', ...(address === undefined ? {} : { address }) };
    const principal = await this.checkToken(token, info);
    if (session.state === SessionState.Closed || session.connection !== connection) return;
    if (principal === null) {
      session.sendError(request.id, request.type, Status.Unauthorized, { error: ErrorReason.InvalidToken, message: 'invalid token' });
      return;
    }
    if (session.principal !== null && session.principal.userId !== principal.userId) {
      session.sendError(request.id, request.type, Status.Forbidden, {
        error: ErrorReason.PrincipalChanged,
        message: 'a session cannot change user',
      });
      return;
    }
    const first = session.state === SessionState.Authenticating;
    if (first && this.sessionsFull(principal.userId)) {
      const refused: ErrorBody = { error: ErrorReason.TooManySessions, message: this.sessionCapMessage(), retryAfterMs: CAP_RETRY_AFTER_MS };
      session.sendError(request.id, request.type, Status.TooManyRequests, refused);
      session.close(CloseCode.TooManyRequests, truncateReason(refused.message), CAP_RETRY_AFTER_MS);
      return;
    }
    session.principal = principal;
    const body = principal.expiresAt === undefined ? { userId: principal.userId } : { userId: principal.userId, expiresAt: principal.expiresAt };
    session.respond(request.id, request.type, Status.OK, body);
    if (first) this.authenticated(session, principal, this.clock.now());
  }

  private authenticated(session: Session, principal: Principal, at: number): void {
    // Authenticated at the upgrade, and other sessions of the user opened since.
    if (this.sessionsFull(principal.userId)) {
      session.close(CloseCode.TooManyRequests, truncateReason(this.sessionCapMessage()), CAP_RETRY_AFTER_MS);
      return;
    }
    session.principal = principal;
    session.state = SessionState.Open;
    session.authenticatedAt = at;
    this.metrics?.authenticated.add(1);
    this.users.add(session);
    if (!session.holding) this.capSessions(session);
    this.sessionStore?.create(session.id, principal.userId).catch((error: unknown) => this.reportError(error, session));
    if (this.options.subscribeToBroadcast !== false) {
      void this.subscribe(session, BROADCAST_TOPIC).catch((error: unknown) => this.reportError(error, session));
    }
    const hook = this.options.onAuthenticated;
    if (hook !== undefined) {
      void Promise.resolve()
        .then(() => hook(session))
        .catch((error: unknown) => this.reportError(error, session));
    }
  }

  /** Whether `maxSessionsPerPrincipal` applies: with an `authenticate` hook; without, every session is `anonymous`. */
  private capsSessions(userId: string | undefined): userId is string {
    return userId !== undefined && this.options.authenticate !== undefined;
  }

  /** True when the user has `maxSessionsPerPrincipal` sessions here and none of them is detached (to make room). */
  private sessionsFull(userId: string): boolean {
    if (!this.capsSessions(userId)) return false;
    const sessions = this.users.sessionsOf(userId);
    return sessions.length >= this.limits.maxSessionsPerPrincipal && sessions.every((s) => s.state !== SessionState.Detached);
  }

  /**
   * Holds `maxSessionsPerPrincipal` once a session settled as one of its own (not a resume of
   * another, which would have taken that one's place): the user's longest-detached sessions
   * end to make room; should none be detached any more, this one is refused.
   */
  private capSessions(session: Session): void {
    const userId = session.userId;
    if (!this.capsSessions(userId)) return;
    const sessions = this.users.sessionsOf(userId);
    let excess = sessions.length - this.limits.maxSessionsPerPrincipal;
    if (excess <= 0) return;
    const detached = sessions.filter((s) => s !== session && s.state === SessionState.Detached).sort((a, b) => (a.detachedAt as number) - (b.detachedAt as number));
    for (const old of detached.slice(0, excess)) {
      this.destroy(old);
      excess--;
    }
    if (excess <= 0) return;
    session.close(CloseCode.TooManyRequests, truncateReason(this.sessionCapMessage()), CAP_RETRY_AFTER_MS);
    this.destroy(session);
  }

  settled(session: Session): void {
    if (session.state === SessionState.Open) this.capSessions(session);
  }

  private reportError(error: unknown, session: Session): void {
    this.inspecting?.failed('internal_error', error, session.id, undefined);
    if (this.options.onError !== undefined) this.options.onError(error, { type: '', sessionId: session.id });
    else this.logger.error({ event: 'internal_error', sessionId: session.id, err: error }, 'store, broker or hook failed');
  }

  /**
   * Whether the application lets the session subscribe itself to `topic` (`$all` always): by
   * the rule of the topic's pattern, else by `canSubscribe`. With declared patterns, a topic
   * that matches none is refused.
   */
  private async refuseSubscription(session: Session, topic: string): Promise<[number, ErrorBody] | undefined> {
    if (topic === BROADCAST_TOPIC) return undefined;
    const refused = (message: string): [number, ErrorBody] => {
      this.inspecting?.refusedSubscription(session, topic, Status.Forbidden, message);
      return [Status.Forbidden, { error: ErrorReason.Forbidden, message }];
    };
    if (topic.startsWith('$')) return refused(`not allowed to subscribe to ${topic}`);
    const match = this.patterns.declared ? this.patterns.match(topic) : null;
    if (this.patterns.declared && match === null) return refused(`${topic} matches no topic pattern of the contract`);
    const rule = match === null ? undefined : (this.options.topics as Readonly<Record<string, TopicRule<string>>> | undefined)?.[match.pattern.pattern];
    let answer: boolean | string = false;
    if (rule?.canSubscribe !== undefined && match !== null) answer = await rule.canSubscribe(match.params, session);
    else if (this.options.canSubscribe !== undefined) answer = await this.options.canSubscribe(topic, session);
    if (answer === true) return undefined;
    return refused(typeof answer === 'string' && answer !== '' ? answer : `not allowed to subscribe to ${topic}`);
  }

  /** Checked right before joining, after any await, so concurrent subscribes cannot overshoot. */
  private overLimit(session: Session, topic: string): [number, ErrorBody] | undefined {
    if (session.hasTopic(topic) || session.topicCount < this.limits.maxSubscriptions) return undefined;
    return [Status.TooManyRequests, { error: ErrorReason.SubscriptionLimit, message: `at most ${this.limits.maxSubscriptions} subscriptions` }];
  }

  private join(
    session: Session,
    topic: string,
    since: StreamPosition | undefined,
    announce: (subscribed: SubscribedBody) => void,
    /** The delta format the client asked for: granted when it is the server's and the topic's pattern allows deltas. */
    delta?: string,
  ): Promise<SubscribedBody> {
    if (session.connection === null) return Promise.reject(new Error(`session ${session.id} is not connected`));
    session.addTopic(topic);
    const history = this.patterns.retentionOf(topic);
    const granted = delta !== undefined && delta === this.options.delta?.name && this.patterns.deltaOf(topic) ? delta : undefined;
    const extra = { ...(history === undefined ? {} : { history }), ...(granted === undefined ? {} : { delta: granted }) };
    const plain = history === undefined && granted === undefined;
    const subscribing = this.topics.subscribe(session, topic, since, plain ? announce : (subscribed) => announce({ ...subscribed, ...extra }), granted !== undefined);
    const joined = granted === undefined ? subscribing : subscribing.then((subscribed): SubscribedBody => ({ ...subscribed, delta: granted }));
    const presence = this.presence;
    if (presence === undefined) return joined;
    return joined.then((subscribed) => {
      if (session.hasTopic(topic)) presence.joined(session, topic);
      return subscribed;
    });
  }

  private async resume(session: Session, request: RequestMessage, body: ResumeBody): Promise<void> {
    if (session.sentSeq > 0 || session.hasClientState) {
      session.sendError(request.id, request.type, Status.Conflict, {
        error: ErrorReason.Conflict,
        message: `${SystemType.Resume} must come before any other request`,
      });
      return;
    }
    session.hasClientState = true;
    // Private notifications stay held until the resume completes, however long the store
    // takes: settling on the way would send this connection's fresh stream, then swap it.
    session.resuming = true;
    try {
      await this.resumeHeld(session, request, body);
    } finally {
      session.resuming = false;
    }
  }

  private async resumeHeld(session: Session, request: RequestMessage, body: ResumeBody): Promise<void> {
    const previous = this.sessions.get(body.sessionId);
    const adoptable =
      previous !== undefined && previous !== session && previous.state !== SessionState.Closed && previous.userId === session.userId;
    let target = session;
    // Why the private stream was not recovered (undefined: it was).
    let lost: RecoveryReason | undefined = RecoveryReason.UnknownSession;
    if (adoptable) {
      target = previous;
      const connection = session.connection as Connection;
      if (previous.connection !== null) previous.takeOver();
      this.destroy(session);
      target.principal = session.principal;
      target.state = SessionState.Open;
      target.hasClientState = true;
      target.attach(connection);
      const reaches = target.replay === null || body.seq + 1 >= target.replay.oldestSeq || target.replay.size === 0;
      // A client ahead of what the session sent holds another stream than this one.
      lost = body.seq > target.seq ? RecoveryReason.UnknownSession : reaches ? undefined : RecoveryReason.TooFarBehind;
      target.replay?.ack(body.seq);
      target.resumeAt(body.seq);
      target.flushReplay();
      if (this.options.subscribeToBroadcast !== false && body.topics?.[BROADCAST_TOPIC] === undefined) {
        void this.subscribe(target, BROADCAST_TOPIC).catch((error: unknown) => this.reportError(error, target));
      }
      if (this.stored !== undefined) await this.stored.reclaim(target);
    } else if (previous === undefined && this.stored !== undefined && session.userId !== undefined) {
      const claimed = await this.stored.claim(session, body.sessionId, body.seq);
      lost = claimed === true ? undefined : claimed;
    }
    const joined: SubscribedBody[] = [];
    for (const [topic, since] of Object.entries(body.topics ?? {})) {
      const refusal = (await this.refuseSubscription(target, topic)) ?? this.overLimit(target, topic);
      if (refusal !== undefined) {
        target.sendSystem(SystemType.Unsubscribed, { topic, reason: refusal[1].error });
        continue;
      }
      const position = { epoch: since.epoch, offset: since.offset };
      joined.push(await this.join(target, topic, position, ignore, since.delta));
    }
    // A fresh session's own notifications follow the answer, which tells the client to count
    // from seq 0 again; a resumed session's replay precedes it (step 7 of herald.Resume).
    const fresh = target.id !== body.sessionId;
    session.resuming = false;
    if (!fresh) target.settle();
    // Topics the client no longer lists are left; the ones it does were re-joined without a flap.
    if (!fresh) this.presence?.settle(target);
    // A topic joined early went live while later ones replayed: the answer gives the offset each
    // stream has reached now, so that every frame after it follows it and none before is undone.
    const topics = new Map<string, ResumedBody['topics'][string]>();
    for (const subscribed of joined) {
      const { epoch, offset } = this.topics.positionOf(target, subscribed);
      const delta = subscribed.delta === undefined ? {} : { delta: subscribed.delta };
      topics.set(
        subscribed.topic,
        subscribed.recovered === true
          ? { epoch, offset, recovered: true, ...delta }
          : { epoch, offset, recovered: false, reason: subscribed.reason ?? RecoveryReason.HistoryExpired, ...delta },
      );
    }
    const all = lost === undefined && [...topics.values()].every((t) => t.recovered);
    const reason = lost ?? (all ? undefined : RecoveryReason.TopicNotRecovered);
    const resumed: ResumedBody = { sessionId: target.id, recovered: all, ...(reason === undefined ? {} : { reason }), topics: Object.fromEntries(topics) };
    target.respond(request.id, request.type, Status.OK, resumed);
    this.metrics?.sessionResumed(all, reason);
    if (fresh) target.settle();
    if (reason !== undefined && this.options.onRecoveryFailed !== undefined) {
      const failed: Record<string, RecoveryReason> = {};
      for (const [topic, result] of topics) if (result.reason !== undefined) failed[topic] = result.reason;
      try {
        this.options.onRecoveryFailed({ sessionId: target.id, resumed: body.sessionId, userId: target.userId, reason, topics: failed });
      } catch (error) {
        this.reportError(error, target);
      }
    }
  }

  /** A session resumed here takes the id of the one it resumes (`StoredDelivery.claim`); its own id is let go. */
  private rename(store: SessionStore, session: Session, sessionId: string): void {
    this.sessions.delete(session.id);
    store.release(session.id).catch((error: unknown) => this.reportError(error, session));
    session.id = sessionId;
    this.sessions.set(sessionId, session);
  }

  notifyStored(session: Session, type: string, bodyJson: string | undefined): void {
    this.stored?.notify(session, type, bodyJson);
  }

  /**
   * The store lost a session this node holds: what it would have stored is gone, so the session
   * ends; the client reconnects, its resume fails, and it is told `recovered: false`.
   */
  private lose(session: Session): void {
    if (session.connection !== null) session.close(CloseCode.InternalError, 'session state lost: resume');
    this.destroy(session);
  }

  catchUpLagging(session: Session): void {
    if (session.topicCount === 0) return;
    const reset = (subscribed: SubscribedBody): void => {
      if (subscribed.recovered === false) {
        session.sendSystem(SystemType.TopicReset, {
          topic: subscribed.topic,
          epoch: subscribed.epoch,
          offset: subscribed.offset,
          ...(subscribed.reason === undefined ? {} : { reason: subscribed.reason }),
        });
      }
    };
    for (const [topic, since] of this.topics.lagOf(session, session.topics())) {
      this.topics.subscribe(session, topic, since, reset).catch((error: unknown) => this.reportError(error, session));
    }
  }

  leaveTopics(session: Session): void {
    for (const topic of session.topics()) {
      this.topics.unsubscribe(session, topic);
      session.removeTopic(topic);
    }
  }

  /** Ends a session here; `ended` false keeps it resumable on other nodes (with a session store). */
  destroy(session: Session, ended = true): void {
    if (session.state === SessionState.Closed) return;
    if (ended) this.presence?.ended(session);
    else this.presence?.handedOver(session);
    this.leaveTopics(session);
    session.state = SessionState.Closed;
    session.connection = null;
    this.sessions.delete(session.id);
    this.users.remove(session);
    this.stored?.forget(session);
    this.inspecting?.ended(session);
    const store = this.sessionStore;
    if (store === undefined || session.principal === null) return;
    if (ended) store.release(session.id).catch((error: unknown) => this.reportError(error, session));
    else store.forget(session.id);
  }

  // ---- sweep -------------------------------------------------------------------------------

  private startSweep(): void {
    if (this.sweepHandle !== undefined) return;
    this.sweepHandle = this.clock.setInterval(() => this.sweep(), this.sweepIntervalMs);
  }

  private stopSweep(): void {
    if (this.sweepHandle === undefined) return;
    this.clock.clearInterval(this.sweepHandle);
    this.sweepHandle = undefined;
  }

  private sweep(): void {
    const now = (this.now = this.clock.now());
    for (const session of this.sessions.values()) session.tick(now);
    this.presence?.sweep();
    this.upgradeLimiter?.prune(now);
    if (this.sessions.size === 0 && (this.upgradeLimiter?.size ?? 0) === 0) this.stopSweep();
  }
}

const ignore = (): void => {};


/**
 * Creates a Herald server for a contract. Hand it to an adapter (`@herald/uws`,
 * `@herald/hono`, `@herald/long-poll`), or drive it directly through `upgrade`/`open`.
 *
 * @example
 * const herald = createHerald({
 *   contract: chat,
 *   handlers: {
 *     'chat.Send': async ({ room, text }, ctx) => {
 *       await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId });
 *       return { id: crypto.randomUUID() };
 *     },
 *   },
 *   authenticate: async (token) => verifyJwt(token), // → { userId, expiresAt } or null
 *   canSubscribe: (topic, session) => topic.startsWith('room/'),
 * });
 */
export function createHerald<C extends ContractDefinition>(options: HeraldOptions<C>): Herald<C> {
  return new Herald(options);
}
