/**
 * The Herald client: the client's half of every guarantee in PROTOCOL.md. It authenticates in
 * session, keeps requests until they are answered (retrying with the same id after a
 * reconnect, so the server de-duplicates), resumes the session with its last positions,
 * delivers each notification once and in order, acknowledges in batches, watches the server's
 * liveness without trusting throttled timers, and reconnects with jittered backoff unless a
 * close code says not to.
 */
import {
  Kind,
  PROTOCOL_NAME,
  SystemType,
  base64ToBytes,
  closeCodeRetry,
  utf8Length,
  type DeltaCodec,
  type AuthenticatedBody,
  type ContractDefinition,
  type GoodbyeBody,
  type Limits,
  type NotificationBody,
  type NotificationType,
  type RequestInput,
  type RequestType,
  type ResponseBody,
  type ResumedBody,
  type RetryAdvice,
  type ServerMessage,
  type StreamPosition,
  type SubscribedBody,
  type Topic,
  type TopicNotificationType,
  type TopicPattern,
  type TopicPresenceState,
  type PresenceDiffBody,
  type PresenceCountBody,
  type TopicResetBody,
  type WelcomeBody,
  type WireCodec,
} from '@herald/core';
import type { ConnectFailure } from './connect-failure.ts';
import { ClientErrorReason, HeraldRequestError, type ErrorDetails } from './errors.ts';
import { TopicPresence } from './presence.ts';
import { webSocketTransport, type Transport, type TransportConnection, type WebSocketConstructor } from './transport.ts';

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What a notification handler gets besides the body. */
export interface NotificationMeta {
  readonly type: string;
  readonly topic?: string;
  readonly offset?: number;
  /** The topic is latest-only, and offsets before this one were left out on purpose (superseded). */
  readonly conflated?: true;
  readonly seq?: number;
}

/** Told when a resume or a subscription could not recover everything: refetch this state. */
export interface RecoveryFailure {
  /** The session itself was gone: private notifications may be missing, and requests in flight have an unknown outcome. */
  readonly sessionReset: boolean;
  /** Topics whose history no longer reached the client's position. */
  readonly topics: readonly string[];
  /**
   * Why, as the server said (`RecoveryReason` in `@herald/core`): `unknown_session` or
   * `too_far_behind` for the session, `topic_not_recovered` when only topics were lost,
   * `history_expired` or `epoch_changed` for a topic. Undefined from a server that does not say.
   */
  readonly reason?: string;
  /** Per topic of `topics` the server gave a reason for, that reason. */
  readonly topicReasons: Readonly<Record<string, string>>;
}

/** A failure for one topic, with the server's reason when it gave one. */
const topicFailure = (topic: string, reason: string | undefined): RecoveryFailure =>
  reason === undefined ? { sessionReset: false, topics: [topic], topicReasons: {} } : { sessionReset: false, topics: [topic], reason, topicReasons: { [topic]: reason } };

export interface ClientOptions {
  /** The server's WebSocket URL (ignored when `transport` is given). */
  readonly url?: string;
  readonly transport?: Transport;
  /** For the default transport: the WebSocket implementation (`ws` on Node 20). */
  readonly WebSocket?: WebSocketConstructor;
  /** For the default transport: upgrade headers, where the runtime can send them. */
  readonly headers?: Record<string, string>;
  /**
   * For the default transport: speak a binary subprotocol, `msgpack()` from
   * `@herald/client/msgpack` (`herald.v1.msgpack`; the server must offer it).
   *
   * @example
   * import { msgpack } from '@herald/client/msgpack';
   * const client = createClient<typeof chat>({ url, token, codec: msgpack() });
   */
  readonly codec?: WireCodec;
  /**
   * Ask for deltas on every topic the client subscribes to, in this format: `fossilDelta()` from
   * `@herald/client/delta`. Topics whose pattern allows deltas then send each publication after
   * a full one as a delta of the previous; a delta that cannot be applied is never delivered, the
   * client re-subscribes from its position and gets the publication in full. Handlers always get
   * whole bodies.
   *
   * @example
   * import { fossilDelta } from '@herald/client/delta';
   * const client = createClient<typeof docs>({ url, token, delta: fossilDelta() });
   */
  readonly delta?: DeltaCodec;
  /** A token, or a provider called for every (re)authentication and refresh. */
  readonly token?: string | (() => string | Promise<string>);
  /** Per-request timeout (default 10 s). */
  readonly requestTimeoutMs?: number;
  /**
   * Until the client has connected once: how long a request waits for the first connection
   * (default 3 s) before it rejects with the cause (`connection_refused`, `connect_timeout`, …).
   * The client keeps reconnecting; later requests get a new wait. Refusals no retry can fix
   * (`not_found`, `invalid_url`, `no_websocket`, …) reject at once and stop the client.
   */
  readonly connectTimeoutMs?: number;
  /** Requests kept while offline (default 100). */
  readonly maxQueued?: number;
  /** First reconnect delay cap (default 500 ms), doubling up to `maxReconnectDelayMs` (default 30 s). */
  readonly reconnectDelayMs?: number;
  readonly maxReconnectDelayMs?: number;
  /** Refresh the token this long before it expires (default 30 s). */
  readonly refreshBeforeMs?: number;
  readonly onStateChange?: (state: ClientState) => void;
  readonly onRecoveryFailed?: (failure: RecoveryFailure) => void;
  /**
   * A gap the client saw in a stream and is repairing, not skipping: a private `seq` or topic
   * offset more than one above the last delivered, outside a resume. The client resumes or
   * re-subscribes from its position, so nothing is lost; a gap means a defect somewhere between
   * the publisher and this client, worth logging.
   */
  readonly onGap?: (gap: StreamGap) => void;
  /** Handler exceptions, refused subscriptions, `herald.Error` notices. */
  readonly onError?: (error: unknown) => void;
  /**
   * The W3C `traceparent` of the caller's active span, read as each application request is made
   * and sent with it, so that the server's span for the request continues the caller's trace.
   * Undefined sends none. The client depends on no tracing library; with OpenTelemetry:
   *
   * @example
   * import { context, propagation } from '@opentelemetry/api';
   * createClient({ url, traceContext: () => {
   *   const carrier: Record<string, string> = {};
   *   propagation.inject(context.active(), carrier);
   *   return carrier['traceparent'];
   * } });
   */
  readonly traceContext?: () => string | undefined;
  /** Source of randomness for the backoff jitter (tests). */
  readonly random?: () => number;
}

interface Pending {
  readonly type: string;
  /** The request's JSON after `{"kind":"req",`: each send puts the count of responses received in front. */
  readonly rest: string;
  readonly idempotent: boolean;
  readonly system: boolean;
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Applies a 200 answer the moment it arrives, before any frame after it (positions, seq). */
  readonly apply: ((body: unknown) => void) | undefined;
  resolve(body: unknown): void;
  reject(error: Error): void;
}

type Handler = (body: any, meta: NotificationMeta) => void;

/**
 * The handler of a topic's notifications: typed by the topic's pattern when the contract
 * declares topics (its body is one of the pattern's notification types, told by `meta.type`).
 */
export type TopicHandler<C extends ContractDefinition, T extends string> = [TopicPattern<C>] extends [never]
  ? Handler
  : (
      body: NotificationBody<C, TopicNotificationType<C, T, NotificationType<C>>>,
      meta: NotificationMeta & { readonly type: TopicNotificationType<C, T, NotificationType<C>> },
    ) => void;

interface TopicState {
  position: StreamPosition | undefined;
  readonly handlers: Set<Handler>;
  /** The client asked for it (as opposed to the server subscribing the session). */
  requested: boolean;
  /** Answers in flight that will set its position (`herald.Subscribe`, `herald.Resume`): a gap meanwhile is theirs to fill or report. */
  awaiting: number;
  /** Its presence, when `client.presence(topic)` tracks it. */
  presence?: TopicPresence<any>;
  /** The server granted deltas: `base` is the body (JSON text) of the publication at `baseOffset`, what the next delta applies to. */
  delta?: boolean;
  base?: string | undefined;
  baseOffset?: number;
}

/** What `onGap` is told: where a stream jumped. */
export interface StreamGap {
  /** The topic, or undefined for the private stream. */
  readonly topic: string | undefined;
  /** The last offset (or seq) delivered, and the one that arrived. */
  readonly last: number;
  readonly received: number;
}

/** A topic subscription made with `client.subscribe`. */
export interface Subscription {
  /** Resolves once the server confirmed it (rejects if it refused). */
  readonly ready: Promise<SubscribedBody>;
  unsubscribe(): void;
}

const ACK_EVERY = 32;
const ACK_DELAY_MS = 100;
/** Responses left unconfirmed this long, with no request to carry `resp`, are confirmed by an `ack`. */
const CONFIRM_DELAY_MS = 1000;
const TICK_MS = 1000;
/** A connection that brings no Welcome within this long is given up and retried. */
const HELLO_TIMEOUT_MS = 10_000;

const utf8 = new TextEncoder();
/** A delta that yields bytes that are not UTF-8 did not apply: it must fail, not become U+FFFD. */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function isPrivate(message: ServerMessage): boolean {
  return message.kind === Kind.Notification && message.seq !== undefined;
}

/**
 * A Herald client, typed by the contract it shares with the server.
 *
 * @example
 * import { chat } from './contract.ts';
 * const client = createClient<typeof chat>({ url: 'wss://example.com/ws', token: () => fetchTicket() });
 * const { offset } = await client.request('chat.Send', { room: 'lobby', text: 'hi' });
 * client.subscribe('room/lobby', (message) => render(message));
 */
export class HeraldClient<C extends ContractDefinition = ContractDefinition> {
  /** The session this client holds (set after the first Welcome). */
  sessionId: string | undefined;
  /** The limits the server announced. */
  limits: Limits | undefined;
  /** The last close, and its code (after `herald.Goodbye`, the code it announced). */
  lastClose: { readonly code: number; readonly reason: string } | undefined;
  private currentState: ClientState = 'connecting';
  private readonly transport: Transport;
  private connection: TransportConnection | null = null;
  private ready = false;
  /**
   * A resume is under way (from the Welcome to its answer). Private notifications wait in
   * `heldPrivate` meanwhile: only the answer tells whose stream they are (the resumed session's
   * replay, or the new connection's own session when the resume is refused).
   */
  private resuming = false;
  private heldPrivate: Array<ServerMessage & { kind: 'notification' }> = [];
  private stopped = false;
  private readonly pending = new Map<string, Pending>();
  private readonly topics = new Map<string, TopicState>();
  private readonly typeHandlers = new Map<string, Set<Handler>>();
  private nextId = 0;
  private lastSeq = 0;
  private ackedSeq = 0;
  /** Responses received on the current connection, and the count the server was last told (`resp`). */
  private responses = 0;
  private confirmed = 0;
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private ackDueAt = 0;
  private attempt = 0;
  private goodbye: GoodbyeBody | undefined;
  /** Why the server refused this connection's handshake (a `401 invalid_token` answer), for the errors of a stop that follows. */
  private refusal: HeraldRequestError | undefined;
  /** A Welcome came once: from then on a failed attempt is a drop to reconnect from, not a mistake to report. */
  private welcomedOnce = false;
  /** Before the first Welcome: why the last attempt failed, when its transport could tell. */
  private connectFailure: ConnectFailure | undefined;
  /** What requests made after a stop for a fatal connect failure are told. */
  private stopError: HeraldRequestError | undefined;
  private lastReceivedAt = 0;
  private lastTickAt = 0;
  private probeDeadline = 0;
  private welcomed = false;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly onVisible = (): void => {
    if ((globalThis as { document?: { visibilityState?: string } }).document?.visibilityState === 'visible') this.probe();
  };

  constructor(private readonly options: ClientOptions) {
    if (options.transport === undefined && options.url === undefined) throw new TypeError('@herald/client: give `url` or `transport`');
    this.transport =
      options.transport ??
      webSocketTransport({
        url: options.url as string,
        ...(options.WebSocket === undefined ? {} : { WebSocket: options.WebSocket }),
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        ...(options.codec === undefined ? {} : { codec: options.codec }),
      });
    (globalThis as { document?: EventTarget }).document?.addEventListener('visibilitychange', this.onVisible);
    // Opened once the constructor has returned, so that callbacks (a transport that fails at
    // once calls `onStateChange` and `onError`) can already use the client.
    queueMicrotask(() => {
      if (!this.stopped) this.open();
    });
  }

  get state(): ClientState {
    return this.currentState;
  }

  private setState(state: ClientState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.options.onStateChange?.(state);
  }

  // ---- requests ------------------------------------------------------------------------------

  /**
   * Sends a request and resolves to the response body, or rejects with `HeraldRequestError`.
   * Kept across reconnects and resent with the same id, so it runs once. `idempotent: true`
   * lets it be resent even when the session was lost with it in flight.
   */
  request<T extends RequestType<C>>(
    type: T,
    body: RequestInput<C, T>,
    options: { readonly timeoutMs?: number; readonly idempotent?: boolean } = {},
  ): Promise<ResponseBody<C, T>> {
    return this.enqueue(type, body, false, options.idempotent ?? false, options.timeoutMs, undefined, true) as Promise<ResponseBody<C, T>>;
  }

  private enqueue(
    type: string,
    body: unknown,
    system: boolean,
    idempotent: boolean,
    timeoutMs = this.options.requestTimeoutMs ?? 10_000,
    apply?: (body: unknown) => void,
    /** Reject early, with the cause, if the client has not connected once within `connectTimeoutMs`. */
    awaitsFirstConnect = false,
  ): Promise<unknown> {
    if (this.stopped) return Promise.reject(this.stopError ?? this.failure(ClientErrorReason.Closed, 'the client is closed'));
    const id = String(++this.nextId);
    // JSON leaves out an undefined `traceparent`.
    const traceparent = system ? undefined : this.options.traceContext?.();
    const rest = JSON.stringify(body === undefined ? { id, type, traceparent } : { id, type, body, traceparent }).slice(1);
    const max = this.limits?.maxMessageBytes;
    // `{"kind":"req","resp":N,` in front: 40 bytes at most.
    if (max !== undefined && rest.length * 3 + 40 > max && utf8Length(rest) + 40 > max) {
      return Promise.reject(new HeraldRequestError(413, { error: ClientErrorReason.TooLarge, message: `request exceeds maxMessageBytes (${max})` }));
    }
    if (!system && !this.ready && this.queued() >= (this.options.maxQueued ?? 100)) {
      return Promise.reject(this.failure(ClientErrorReason.QueueFull, 'too many requests queued while offline'));
    }
    return new Promise((resolve, reject) => {
      const pending: Pending = { type, rest, idempotent, system, sent: false, timer: undefined, apply, resolve, reject };
      const expire = (): void => {
        this.pending.delete(id);
        reject(this.failure(ClientErrorReason.Timeout, `no response to ${type} within ${timeoutMs} ms`));
      };
      const connectTimeoutMs = this.options.connectTimeoutMs ?? 3000;
      if (awaitsFirstConnect && !this.welcomedOnce && connectTimeoutMs < timeoutMs) {
        pending.timer = setTimeout(() => {
          if (this.welcomedOnce) {
            pending.timer = setTimeout(expire, timeoutMs - connectTimeoutMs);
            return;
          }
          this.pending.delete(id);
          reject(this.connectError(connectTimeoutMs));
        }, connectTimeoutMs);
      } else pending.timer = setTimeout(expire, timeoutMs);
      this.pending.set(id, pending);
      if (this.ready || (system && this.connection !== null)) this.transmit(pending);
    });
  }

  private queued(): number {
    let count = 0;
    for (const pending of this.pending.values()) if (!pending.system) count++;
    return count;
  }

  /** Sends a request; it confirms the responses received so far on this connection (`resp`). */
  private transmit(pending: Pending): void {
    if (this.connection === null) return;
    pending.sent = true;
    this.confirmed = this.responses;
    this.connection.send(`{"kind":"req","resp":${this.responses},${pending.rest}`);
  }

  private failure(reason: string, message: string): HeraldRequestError {
    return new HeraldRequestError(0, { error: reason, message });
  }

  /** A request that waited `waitedMs` for a first connection that did not come. */
  private connectError(waitedMs: number): HeraldRequestError {
    if (this.connectFailure !== undefined) return failedToConnect(this.connectFailure);
    const where = this.options.url ?? 'the server';
    const message = `no answer from ${where} within ${waitedMs} ms: the server is not answering, or is not a Herald server; the client keeps retrying`;
    return new HeraldRequestError(0, { error: ClientErrorReason.ConnectTimeout, message }, { code: undefined, retry: 'resume' });
  }

  private settle(id: string, code: number, body: unknown): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (code === 200) {
      pending.apply?.(body);
      pending.resolve(body);
    } else pending.reject(new HeraldRequestError(code, body as ErrorDetails));
  }

  // ---- notifications -------------------------------------------------------------------------

  /** Calls `handler` for every notification of `type` (topic, private or server-subscribed). */
  on<T extends NotificationType<C>>(type: T, handler: (body: NotificationBody<C, T>, meta: NotificationMeta) => void): () => void {
    let handlers = this.typeHandlers.get(type);
    if (handlers === undefined) this.typeHandlers.set(type, (handlers = new Set()));
    handlers.add(handler);
    return () => void handlers.delete(handler);
  }

  /**
   * Subscribes to a topic; `handler` gets each of its notifications once, in offset order,
   * across reconnects. With topic patterns in the contract, only their topics (and `$all`) are
   * accepted, and the handler is typed by the pattern's notifications.
   *
   * @example
   * client.subscribe('room/lobby', (message, { type, offset }) => render(type, message));
   */
  subscribe<T extends Topic<C>>(topic: T, handler: TopicHandler<C, T>): Subscription {
    let state = this.topics.get(topic);
    const first = state === undefined || !state.requested;
    if (state === undefined) this.topics.set(topic, (state = { position: undefined, handlers: new Set(), requested: true, awaiting: 0 }));
    state.requested = true;
    state.handlers.add(handler as Handler);
    const ready = first ? this.sendSubscribe(topic) : Promise.resolve({ topic, ...(state.position ?? { epoch: '', offset: 0 }) });
    ready.catch((error: unknown) => this.options.onError?.(error));
    return {
      ready,
      unsubscribe: () => {
        const current = this.topics.get(topic);
        if (current === undefined || !current.handlers.delete(handler as Handler) || current.handlers.size > 0) return;
        this.topics.delete(topic);
        if (this.ready) this.enqueue(SystemType.Unsubscribe, { topic }, true, true).catch(() => {});
      },
    };
  }

  /**
   * The members of a topic whose pattern has presence, kept current across reconnects: it
   * subscribes to the topic, loads the member list, then applies every join, state change and
   * leave; on a count-only topic it keeps `count` alone.
   *
   * @example
   * const room = client.presence('room/lobby');
   * room.on('join', (member) => console.log(member?.userId, 'joined'));
   * await room.set({ status: 'online' });
   */
  presence<T extends Topic<C>>(topic: T): TopicPresence<TopicPresenceState<C, T>> {
    const known = this.topics.get(topic)?.presence;
    if (known !== undefined) return known as TopicPresence<TopicPresenceState<C, T>>;
    const subscription = this.subscribe(topic, (() => {}) as never);
    const state = this.topics.get(topic) as TopicState;
    const view = new TopicPresence<TopicPresenceState<C, T>>(
      topic,
      (type, body) => this.enqueue(type, body, false, true),
      () => {
        if (state.presence === view) delete state.presence;
        subscription.unsubscribe();
      },
      (error) => this.options.onError?.(error),
    );
    state.presence = view;
    subscription.ready.then(
      () => view.load(),
      () => {},
    );
    return view;
  }

  /** The topic's stream could not be recovered: its presence, if tracked, loads the member list again. */
  private reloadPresence(topic: string): void {
    void this.topics.get(topic)?.presence?.load();
  }

  private sendSubscribe(topic: string): Promise<SubscribedBody> {
    const state = this.topics.get(topic);
    const since = state?.position;
    const answered = this.awaitAnswer([topic]);
    const delta = this.options.delta?.name;
    const request = { topic, ...(since === undefined ? {} : { since }), ...(delta === undefined ? {} : { delta }) };
    const subscribed = this.enqueue(SystemType.Subscribe, request, false, true, undefined, (body) => {
      this.place(body as SubscribedBody);
      this.grant(topic, (body as SubscribedBody).delta);
      answered();
    }) as Promise<SubscribedBody>;
    return subscribed.then(
      (body) => {
        if (body.recovered === false) {
          this.reloadPresence(topic);
          this.options.onRecoveryFailed?.(topicFailure(topic, body.reason));
        }
        return body;
      },
      (error: unknown) => {
        answered();
        throw error;
      },
    );
  }

  /** Marks topics as awaiting an answer that sets their position; the returned function ends it, once. */
  private awaitAnswer(topics: Iterable<string>): () => void {
    const states = [...topics].map((topic) => this.topics.get(topic)).filter((state) => state !== undefined);
    for (const state of states) state.awaiting++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      for (const state of states) state.awaiting--;
    };
  }

  /** Re-subscribes from the position to fill a gap; notifications that do not continue it wait for the replay. */
  private resync(topic: string, state: TopicState, last: number, received: number): void {
    this.options.onGap?.({ topic, last, received });
    // A topic the server subscribed this session to may not be one the client can subscribe to itself: the resume lists it.
    if (!state.requested) this.connection?.close(4000, 'topic stream gap');
    else this.sendSubscribe(topic).catch((error: unknown) => this.options.onError?.(error));
  }

  /** Records whether the server granted deltas on a topic (the answer's `delta`). */
  private grant(topic: string, delta: string | undefined): void {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    state.delta = delta !== undefined && delta === this.options.delta?.name;
    if (!state.delta) state.base = undefined;
  }

  /**
   * The body a delta notification stands for, rebuilt from the body held at the offset before it;
   * undefined when it cannot be (no such base, a delta that does not apply, a result that is not
   * JSON): then nothing is delivered.
   */
  private rebuild(state: TopicState, message: { readonly offset: number; readonly delta: string | Uint8Array }): { text: string; body: unknown } | undefined {
    const codec = this.options.delta;
    if (codec === undefined || state.delta !== true || state.base === undefined || state.baseOffset !== message.offset - 1) return undefined;
    try {
      const delta = typeof message.delta === 'string' ? base64ToBytes(message.delta) : message.delta;
      const text = strictUtf8.decode(codec.apply(utf8.encode(state.base), delta));
      return { text, body: JSON.parse(text) };
    } catch {
      return undefined;
    }
  }

  /** Records a topic position announced by the server (subscribe, resume, reset). */
  private place(position: StreamPosition & { readonly topic: string }): void {
    const state = this.topics.get(position.topic);
    if (state?.position?.epoch === '') {
      // Delivered as they came before the first answer (epoch unknown then): the answer names the epoch.
      state.position = { epoch: position.epoch, offset: Math.max(state.position.offset, position.offset) };
      return;
    }
    if (state === undefined) {
      this.topics.set(position.topic, { position: { epoch: position.epoch, offset: position.offset }, handlers: new Set(), requested: false, awaiting: 0 });
    } else if (state.position === undefined || state.position.epoch !== position.epoch || state.position.offset < position.offset) {
      state.position = { epoch: position.epoch, offset: position.offset };
    }
  }

  private deliver(message: ServerMessage & { kind: 'notification' }): void {
    let meta: NotificationMeta = message;
    let body = message.body;
    if (message.topic !== undefined && message.offset !== undefined) {
      const state = this.topics.get(message.topic);
      const position = state?.position;
      if (position !== undefined && message.offset <= position.offset) return;
      // A conflated message supersedes the offsets before it on purpose: not a gap.
      if (state !== undefined && position !== undefined && message.offset > position.offset + 1 && message.conflated !== true) {
        // Never skipped: a pending subscribe or resume re-sends it or reports it; else re-sync now.
        if (state.awaiting === 0) this.resync(message.topic, state, position.offset, message.offset);
        return;
      }
      if (message.delta !== undefined) {
        // A delta of a topic the client no longer follows has no base here: nothing to deliver.
        if (state === undefined) return;
        const rebuilt = this.rebuild(state, { offset: message.offset, delta: message.delta });
        if (rebuilt === undefined) {
          // Never a state the server did not publish: the replay from the position brings it in full.
          if (state.awaiting === 0) this.resync(message.topic, state, position?.offset ?? 0, message.offset);
          return;
        }
        state.base = rebuilt.text;
        body = rebuilt.body;
        meta = { type: message.type, topic: message.topic, offset: message.offset };
      } else if (state?.delta === true) state.base = JSON.stringify(body);
      if (state !== undefined) {
        if (state.delta === true) state.baseOffset = message.offset;
        state.position = { epoch: position?.epoch ?? '', offset: message.offset };
        // Protocol notifications in a topic's stream are not the application's (unknown ones are ignored).
        if (message.type.startsWith('herald.')) {
          if (message.type === SystemType.PresenceDiff) state.presence?.diff(message.offset, body as PresenceDiffBody);
          return;
        }
        for (const handler of state.handlers) this.call(handler, body, meta);
      }
    } else if (message.seq !== undefined) {
      if (this.resuming) {
        this.heldPrivate.push(message);
        return;
      }
      if (message.seq <= this.lastSeq) return;
      if (message.seq > this.lastSeq + 1) {
        // A gap outside a resume is never skipped: resuming re-sends it or says recovered: false.
        this.options.onGap?.({ topic: undefined, last: this.lastSeq, received: message.seq });
        this.connection?.close(4000, 'private stream gap');
        return;
      }
      this.lastSeq = message.seq;
      if (this.lastSeq - this.ackedSeq >= ACK_EVERY) this.ack();
      else this.scheduleAck(ACK_DELAY_MS);
    }
    const handlers = this.typeHandlers.get(message.type);
    if (handlers !== undefined) for (const handler of handlers) this.call(handler, body, meta);
  }

  private call(handler: Handler, body: unknown, meta: NotificationMeta): void {
    try {
      handler(body, meta);
    } catch (error) {
      this.options.onError?.(error);
    }
  }

  /** Acks within `delayMs` (an earlier deadline already set stands). */
  private scheduleAck(delayMs: number): void {
    const due = Date.now() + delayMs;
    if (this.ackTimer !== undefined && this.ackDueAt <= due) return;
    clearTimeout(this.ackTimer);
    this.ackDueAt = due;
    this.ackTimer = setTimeout(() => this.ack(), delayMs);
  }

  /** Acks private notifications (`seq`) and confirms responses (`resp`), when either is new. */
  private ack(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if ((this.lastSeq <= this.ackedSeq && this.responses <= this.confirmed) || this.connection === null || !this.welcomed) return;
    this.ackedSeq = this.lastSeq;
    this.confirmed = this.responses;
    this.connection.send(`{"kind":"ack","seq":${this.lastSeq},"resp":${this.responses}}`);
  }

  // ---- connection ----------------------------------------------------------------------------

  private open(): void {
    this.goodbye = undefined;
    this.welcomed = false;
    // Responses are counted per connection.
    this.responses = this.confirmed = 0;
    this.startTicker();
    this.setState(this.sessionId === undefined && this.attempt === 0 ? 'connecting' : 'reconnecting');
    try {
      this.connection = this.transport({
        onOpen: () => {},
        onMessage: (text) => this.receive(text),
        onClose: (code, reason, failure) => this.closed(code, reason, failure),
      });
    } catch (error) {
      this.options.onError?.(error);
      this.closed(1006, 'transport failed to open');
    }
  }

  private receive(frame: string | object): void {
    this.lastReceivedAt = Date.now();
    this.probeDeadline = 0;
    let message: ServerMessage;
    try {
      message = (typeof frame === 'string' ? JSON.parse(frame) : frame) as ServerMessage;
    } catch {
      return;
    }
    switch (message.kind) {
      case Kind.Ping:
        this.connection?.send('{"kind":"pong"}');
        return;
      case Kind.Response:
        this.responses++;
        this.settle(message.reqId, message.code, message.body);
        // Confirmed by the next request, or by an ack if none comes soon.
        if (this.ackTimer === undefined) this.scheduleAck(CONFIRM_DELAY_MS);
        return;
      case Kind.Notification:
        if (message.type.startsWith('herald.') && message.topic === undefined && !isPrivate(message)) this.system(message.type, message.body);
        else this.deliver(message);
        return;
    }
  }

  private system(type: string, body: unknown): void {
    switch (type) {
      case SystemType.Welcome:
        this.welcomed = this.welcomedOnce = true;
        this.connectFailure = undefined;
        void this.handshake(body as WelcomeBody).catch((error: unknown) => {
          this.options.onError?.(error);
          // A refused credential follows the 4401 rule: retry with a fresh token, or stop.
          const refused = error instanceof HeraldRequestError && (error.code === 401 || error.code === 403);
          if (refused) this.refusal = error;
          this.connection?.close(refused ? 4401 : 4000, 'handshake failed');
        });
        return;
      case SystemType.Subscribed: {
        // While a subscribe or resume of the topic is pending, the client keeps its own position (PROTOCOL.md §5).
        const subscribed = body as SubscribedBody;
        if ((this.topics.get(subscribed.topic)?.awaiting ?? 0) === 0) this.place(subscribed);
        return;
      }
      case SystemType.TopicReset: {
        const reset = body as TopicResetBody;
        const state = this.topics.get(reset.topic);
        if (state !== undefined) state.position = { epoch: reset.epoch, offset: reset.offset };
        this.reloadPresence(reset.topic);
        this.options.onRecoveryFailed?.(topicFailure(reset.topic, reset.reason));
        return;
      }
      case SystemType.Unsubscribed:
        this.topics.delete((body as { topic: string }).topic);
        this.options.onError?.(new Error(`unsubscribed by the server: ${JSON.stringify(body)}`));
        return;
      case SystemType.Goodbye:
        this.goodbye = body as GoodbyeBody;
        return;
      case SystemType.PresenceCount: {
        const counted = body as PresenceCountBody;
        this.topics.get(counted.topic)?.presence?.counted(counted.count);
        return;
      }
      case SystemType.Error:
        this.options.onError?.(new HeraldRequestError((body as { code: number }).code, body as ErrorDetails));
        return;
    }
  }

  /** After the Welcome: authenticate, resume or subscribe, then release queued requests. */
  private async handshake(welcome: WelcomeBody): Promise<void> {
    this.limits = welcome.limits;
    this.resuming = this.sessionId !== undefined;
    if (!welcome.authenticated) {
      if (this.options.token === undefined) {
        throw new HeraldRequestError(401, { error: 'not_authenticated', message: `${PROTOCOL_NAME}: the server requires authentication and no token was given` });
      }
      await this.authenticate();
    }
    const previous = this.sessionId;
    if (previous === undefined) this.sessionId = welcome.sessionId;
    else await this.resume(previous);
    this.ready = true;
    this.attempt = 0;
    this.setState('open');
    for (const pending of this.pending.values()) if (!pending.system) this.transmit(pending);
  }

  private async authenticate(): Promise<void> {
    const token = this.options.token;
    const value = typeof token === 'function' ? await token() : (token as string);
    const body = (await this.enqueue(SystemType.Authenticate, { token: value }, true, true)) as AuthenticatedBody;
    clearTimeout(this.refreshTimer);
    if (body.expiresAt !== undefined && typeof token === 'function') {
      const lifetime = body.expiresAt - Date.now();
      const inMs = Math.max(lifetime - (this.options.refreshBeforeMs ?? 30_000), lifetime * 0.8, 0);
      this.refreshTimer = setTimeout(() => {
        this.authenticate().catch((error: unknown) => this.options.onError?.(error));
      }, inMs);
    }
  }

  private async resume(previous: string): Promise<void> {
    const topics: Record<string, StreamPosition & { delta?: string }> = {};
    const delta = this.options.delta?.name;
    for (const [topic, state] of this.topics) {
      if (state.position === undefined) continue;
      topics[topic] = delta !== undefined && state.requested ? { ...state.position, delta } : state.position;
    }
    const answered = this.awaitAnswer(Object.keys(topics));
    const apply = (body: unknown): void => {
      const resumed = body as ResumedBody;
      this.resuming = false;
      // Before any frame after the answer: a fresh session's notifications count from seq 1.
      if (resumed.sessionId !== previous) this.lastSeq = this.ackedSeq = 0;
      for (const [topic, result] of Object.entries(resumed.topics)) {
        this.place({ topic, ...result });
        this.grant(topic, result.delta);
      }
      answered();
      const held = this.heldPrivate;
      this.heldPrivate = [];
      // The replay starts after the last seq held, or, when the answer says history was lost, at the oldest kept.
      const first = held[0]?.seq;
      if (!resumed.recovered && first !== undefined && first > this.lastSeq + 1) this.lastSeq = first - 1;
      for (const message of held) this.deliver(message);
    };
    let resumed: ResumedBody;
    try {
      resumed = (await this.enqueue(SystemType.Resume, { sessionId: previous, seq: this.lastSeq, topics }, true, true, undefined, apply)) as ResumedBody;
    } finally {
      // A resume that failed: what it held is sent again by the next one (or was not this session's).
      this.resuming = false;
      this.heldPrivate = [];
      answered();
    }
    const sessionReset = resumed.sessionId !== previous;
    this.sessionId = resumed.sessionId;
    if (sessionReset) {
      for (const [id, pending] of this.pending) {
        if (pending.system || !pending.sent || pending.idempotent) continue;
        this.pending.delete(id);
        clearTimeout(pending.timer);
        pending.reject(this.failure(ClientErrorReason.UnknownOutcome, `the session was lost while ${pending.type} was in flight`));
      }
    }
    const lost = Object.entries(resumed.topics).filter(([, result]) => !result.recovered);
    const topicReasons: Record<string, string> = {};
    for (const [topic, result] of lost) if (result.reason !== undefined) topicReasons[topic] = result.reason;
    const lostTopics = lost.map(([topic]) => topic);
    for (const topic of lostTopics) this.reloadPresence(topic);
    // A new session is a new member: it sets the state the old one had.
    if (sessionReset) for (const state of this.topics.values()) state.presence?.rejoined();
    if (!resumed.recovered) {
      this.options.onRecoveryFailed?.(
        resumed.reason === undefined ? { sessionReset, topics: lostTopics, topicReasons } : { sessionReset, topics: lostTopics, reason: resumed.reason, topicReasons },
      );
    }
  }

  private startTicker(): void {
    this.lastReceivedAt = this.lastTickAt = Date.now();
    clearInterval(this.ticker);
    this.ticker = setInterval(() => this.tick(), TICK_MS);
  }

  /**
   * Declares the server dead after `pingIntervalMs + pingTimeoutMs` of silence. A tick that
   * comes far too late means this tab's timers were throttled (or the machine slept): the
   * silence is then not evidence, so the client probes with a ping instead of judging.
   */
  private tick(): void {
    const now = Date.now();
    const late = now - this.lastTickAt > 3 * TICK_MS;
    this.lastTickAt = now;
    const limits = this.limits;
    if (this.connection === null) return;
    if (!this.welcomed) {
      if (now - this.lastReceivedAt > HELLO_TIMEOUT_MS) this.declareDead();
      return;
    }
    if (limits === undefined) return;
    if (late) return this.probe();
    if (this.probeDeadline !== 0 && now > this.probeDeadline) return this.declareDead();
    if (this.probeDeadline === 0 && now - this.lastReceivedAt > limits.pingIntervalMs + limits.pingTimeoutMs) this.declareDead();
  }

  private probe(): void {
    if (this.connection === null || this.limits === undefined || this.probeDeadline !== 0) return;
    this.probeDeadline = Date.now() + this.limits.pingTimeoutMs;
    this.connection.send('{"kind":"ping"}');
  }

  private declareDead(): void {
    this.connection?.close(4408, 'server silent');
  }

  private closed(code: number, reason: string, failure?: ConnectFailure): void {
    this.connection = null;
    this.ready = false;
    this.resuming = false;
    this.heldPrivate = [];
    this.probeDeadline = 0;
    clearInterval(this.ticker);
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    const goodbye = this.goodbye;
    const effective = goodbye?.code ?? code;
    this.lastClose = { code: effective, reason: goodbye?.reason ?? reason };
    for (const [id, pending] of this.pending) {
      if (!pending.system) continue;
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(this.failure(ClientErrorReason.Closed, 'connection closed'));
    }
    if (this.stopped) return;
    if (failure !== undefined && !this.welcomedOnce) {
      this.connectFailure = failure;
      if (failure.fatal) {
        const error = failedToConnect(failure);
        this.options.onError?.(error);
        return this.stop(code, 'fatal', failure.message, error);
      }
    }
    const advice = (closeCodeRetry as Record<number, RetryAdvice>)[effective] ?? 'resume';
    if (advice === 'fatal' || (advice === 'reauthenticate' && typeof this.options.token !== 'function')) return this.stop(effective, advice, this.lastClose.reason);
    this.refusal = undefined;
    const cap = Math.min(this.options.maxReconnectDelayMs ?? 30_000, (this.options.reconnectDelayMs ?? 500) * 2 ** this.attempt++);
    const delay = Math.max(goodbye?.retryAfterMs ?? 0, (this.options.random ?? Math.random)() * cap);
    this.setState('reconnecting');
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  /** `cause`: the error every pending request gets, and every later one. */
  private stop(code: number, retry: RetryAdvice, why?: string, cause?: HeraldRequestError): void {
    this.stopped = true;
    this.stopError = cause;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    clearInterval(this.ticker);
    (globalThis as { document?: EventTarget }).document?.removeEventListener('visibilitychange', this.onVisible);
    const refusal = this.refusal;
    const message = `closed (${code})${refusal !== undefined ? `: ${refusal.reason}: ${refusal.message}` : why ? `: ${why}` : ''}`;
    const error = (): HeraldRequestError =>
      cause !== undefined
        ? cause
        : refusal === undefined
        ? new HeraldRequestError(code, { error: ClientErrorReason.Closed, message }, { code, retry })
        : new HeraldRequestError(refusal.code, { error: refusal.reason, message }, { code, retry });
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error());
    }
    this.pending.clear();
    this.setState('closed');
  }

  /** Closes for good: pending requests are rejected, no reconnect follows. */
  close(): void {
    if (this.stopped) return;
    this.ack();
    const connection = this.connection;
    this.refusal = undefined;
    this.stop(1000, 'fatal');
    connection?.close(1000, 'client closed');
  }
}

/**
 * The error for requests of a client that could not connect: the refused upgrade's status as
 * `code` and as `closeCode` (4000 + status, PROTOCOL.md §10), 1006 for a network failure, and
 * `retry` `fatal` when the client stopped (`reauthenticate` for a rejected credential), `resume`
 * when it keeps trying.
 */
function failedToConnect(failure: ConnectFailure): HeraldRequestError {
  const closeCode = failure.status === undefined ? (failure.fatal ? undefined : 1006) : 4000 + failure.status;
  const advice = closeCode === undefined ? undefined : (closeCodeRetry as Record<number, RetryAdvice>)[closeCode];
  const retry: RetryAdvice = !failure.fatal ? 'resume' : advice === 'reauthenticate' ? 'reauthenticate' : 'fatal';
  return new HeraldRequestError(failure.status ?? 0, { error: failure.reason, message: failure.message }, { code: closeCode, retry });
}

/**
 * Creates a client and starts connecting.
 *
 * @example
 * import WebSocket from 'ws'; // only on Node 20, which has no global WebSocket
 * const client = createClient<typeof chat>({ url: 'ws://localhost:9090/ws', WebSocket, token: 'demo-alice' });
 */
export function createClient<C extends ContractDefinition = ContractDefinition>(options: ClientOptions): HeraldClient<C> {
  return new HeraldClient<C>(options);
}
