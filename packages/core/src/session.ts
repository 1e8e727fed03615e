/**
 * One session: the state that outlives a connection (id, principal, private stream, replay
 * buffer, de-duplication cache) and the connection it is on now, if any. The server's
 * single sweep drives every deadline through `tick`; nothing here owns a timer.
 */
import type { AddressConnections } from './address-connections.ts';
import type { Clock } from './clock.ts';
import { DEFAULT_DEDUP_BYTES, DedupCache, SendLog, dedupEntry, responseHead, type DedupEntry, type SendLogOwner } from './dedup-cache.ts';
import {
  PING_FRAME,
  PONG_FRAME,
  decodeBinaryFrame,
  decodeClientFrame,
  encodeBody,
  encodeResponse,
  unparsedRequestId,
  unparsedRequestType,
  encodePrivateNotification,
  encodeSystemNotification,
  type DecodeResult,
} from './codec.ts';
import { CloseCode, ErrorReason, Kind, Status, SystemType, closeCodeRetry, type CloseCode as CloseCodeValue } from './constants.ts';
import type { ErrorBody, Limits, RequestMessage } from './envelope.ts';
import { ReplayBuffer } from './replay-buffer.ts';
import type { ServerMetrics, TransportMetrics } from './server-metrics.ts';
import type { SessionStore } from './session-store.ts';
import type { Inspection } from './inspection.ts';
import type { HeraldSocket } from './socket.ts';
import type { TopicSubscriber } from './topics.ts';
import type { ClientClass, Principal } from './upgrade.ts';
import type { FrameEncoder } from './wire-codec.ts';

/** A new session that neither resumes nor sends a request settles on its own after this long. */
export const SETTLE_AFTER_MS = 1000;

/** Protocol errors in a row after which a session is closed with 4400. */
export const MAX_PROTOCOL_ERRORS = 10;

/** The response `type` used when a request's own type could not be read. */
const UNKNOWN_TYPE = SystemType.Error;

/** The lifecycle of a session. */
export const SessionState = {
  Authenticating: 0,
  Open: 1,
  /** The connection dropped; the session waits `resumeWindowMs` for a `herald.Resume`. */
  Detached: 2,
  Closed: 3,
} as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/**
 * Processing time a session may use: `msPerSecond` sustained, after `burstMs` at once. What
 * counts is the synchronous work of each application request (validation, middleware and
 * handler up to its first await, encoding the answer), which blocks every other session.
 */
export interface ProcessingBudget {
  readonly msPerSecond: number;
  readonly burstMs: number;
}

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly limits: Limits;
  /** Unset: requests are not timed. */
  readonly processingBudget: ProcessingBudget | undefined;
  /** The time of the last sweep tick: coarse, and free to read on the hot path. */
  readonly now: number;
  readonly highWaterMark: number;
  readonly clock: Clock;
  /** Set when sessions are shared between nodes: private notifications then go through it. */
  readonly sessionStore: SessionStore | undefined;
  /** Set when the server has a `meter`. */
  readonly metrics: ServerMetrics | undefined;
  /** Set once `herald.inspection()` was called. */
  readonly inspecting: Inspection | undefined;
  handleRequest(session: Session, request: RequestMessage): void;
  /** Stores a private notification for a session (`sessionStore` set); the store numbers it, and it comes back queued. */
  notifyStored(session: Session, type: string, bodyJson: string | undefined): void;
  /** The session settled (see `Session.settle`): from now on it counts as a session of its own. */
  settled(session: Session): void;
  /** Re-sends, from history, what a drained session missed on topics it fell behind on. */
  catchUpLagging(session: Session): void;
  leaveTopics(session: Session): void;
  destroy(session: Session): void;
  /** The server closes the session's connection (for the log), or the transport did for a slow consumer. */
  closingSession(session: Session, code: number, reason: string): void;
}

/**
 * The handle an adapter holds for one socket. It forwards what the transport observes; calls
 * from a connection that no longer carries its session (taken over by a resume) are ignored.
 */
export class Connection implements SendLogOwner {
  /** @internal The session this connection carries; changes when a resume adopts another. */
  session: Session;
  /** @internal `resp` frames written to this connection: what the client's `resp` counts. */
  responses = 0;
  /** @internal Answers written here and not confirmed yet; from the client's first `resp` on. */
  sendLog: SendLog | null = null;
  /** @internal Its place in `maxConnectionsPerAddress`, freed once when it ends (a field, not a closure: one per connection adds up). */
  counted: AddressConnections | undefined = undefined;
  /** @internal The client's address, when the transport knows it (for the log and `authenticate`). */
  address: string | undefined = undefined;
  /** @internal Its transport's counters, when the server has a `meter`, until its close is counted. */
  metrics: TransportMetrics | undefined = undefined;

  constructor(
    readonly socket: HeraldSocket,
    readonly client: ClientClass,
    session: Session,
    /** Set on a connection of a binary subprotocol: its frames are encoded on the way out. */
    readonly encoder: FrameEncoder | undefined = undefined,
  ) {
    this.session = session;
  }

  /** @internal Writes a frame the core built; `shared` when other connections get the same one (a topic frame). */
  write(frame: string, shared: boolean): number {
    const encoder = this.encoder;
    if (encoder === undefined) {
      this.socket.send(frame);
      return frame.length;
    }
    return this.writePacked(shared ? encoder.encodeShared(frame) : encoder.encode(frame));
  }

  /** @internal Writes a frame its encoder already packed. */
  writePacked(bytes: Uint8Array): number {
    this.socket.send(bytes);
    return bytes.byteLength;
  }

  /**
   * A frame arrived: text, or binary (answered as PROTOCOL.md says). Binary data is read before
   * this returns and not kept, so an adapter may pass a buffer its transport reuses afterwards.
   */
  receive(data: string | ArrayBuffer | ArrayBufferView): void {
    this.session.receive(this, data);
  }

  /** @internal SendLogOwner: an unconfirmed answer left the send log; the session keeps it for a retry. */
  spilled(frame: string): void {
    this.session.spilled(frame);
  }

  /** The transport closed, for any reason. */
  closed(code?: number): void {
    this.reportClose(code);
    this.ended();
    this.session.transportClosed(this, code);
  }

  /**
   * @internal Counts the connection's close once, with the first code known (the server's, or
   * else the transport's). Nothing is counted for the connection after it.
   */
  reportClose(code: number | undefined): void {
    const metrics = this.metrics;
    this.metrics = undefined;
    metrics?.connectionClosed(code);
  }

  /** @internal The connection is over: closed by the transport, or by the server. */
  ended(): void {
    const counted = this.counted;
    this.counted = undefined;
    if (counted !== undefined) counted.remove(this.address as string);
  }

  /** The socket's send buffer drained below the high-water mark. */
  drained(): void {
    if (this.session.connection === this) this.session.drained();
  }

  /** The transport saw life from the peer (an RFC 6455 pong, say). */
  alive(): void {
    if (this.session.connection === this) this.session.touch();
  }
}

/** The bits of `Session.flags`. */
const Flag = {
  HasClientState: 1,
  Holding: 2,
  Resuming: 4,
  HeldBack: 8,
  Overdrawn: 16,
  Tapped: 32,
} as const;
type Flag = (typeof Flag)[keyof typeof Flag];

export class Session implements TopicSubscriber {
  state: SessionState = SessionState.Authenticating;
  connection: Connection | null = null;
  principal: Principal | null = null;
  /** Last private `seq` assigned, and last one written to the current connection. */
  seq = 0;
  sentSeq = 0;
  replay: ReplayBuffer | null = null;
  dedup: DedupCache | null = null;
  /**
   * The topics subscribed to here. Most sessions hold one (`$all`, or the one topic of their
   * page), and a `Set` costs about 180 bytes of heap even for one entry: so one topic is kept as
   * its string, and a `Set` is made only for a second one.
   */
  private subscribed: string | Set<string> | null = null;
  /*
   * Times that are only set later start undefined, not 0: once any session has stored a time
   * (not a small integer) in a field that started at 0, V8 gives that field a number box of its
   * own on every session made afterwards, 16 bytes each, even while it holds 0.
   */
  /** When the session was authenticated: a client resumes right after, so the settle time counts from here. */
  authenticatedAt: number | undefined = undefined;
  readonly openedAt: number;
  private lastInboundAt: number;
  private lastOutboundAt: number;
  /** When the unanswered ping went out. */
  private pingSentAt: number | undefined = undefined;
  /** When the connection dropped, while `Detached`. */
  detachedAt: number | undefined = undefined;
  private tokens: number;
  /** When the token bucket and the processing budget were last refilled. */
  private refilledAt: number;
  private strikes = 0;
  private refused = 0;
  /** Processing time left (ms; below 0 when overdrawn), as of `refilledAt`. */
  private budget: number;
  /** The booleans below, as bits (`Flag`): one field rather than six on every session. */
  private flags: number = Flag.Holding;

  constructor(
    private readonly host: SessionHost,
    public id: string,
  ) {
    const now = host.now;
    this.openedAt = this.lastInboundAt = this.lastOutboundAt = this.refilledAt = now;
    this.tokens = host.limits.rateLimit.burst;
    this.budget = host.processingBudget?.burstMs ?? 0;
  }

  /** The client subscribed, resumed or made a request: it has state of its own and cannot resume another session. */
  get hasClientState(): boolean {
    return (this.flags & Flag.HasClientState) !== 0;
  }
  set hasClientState(on: boolean) {
    this.setFlag(Flag.HasClientState, on);
  }

  /** Private notifications wait unsent until the session settles (see `settle`). */
  get holding(): boolean {
    return (this.flags & Flag.Holding) !== 0;
  }
  set holding(on: boolean) {
    this.setFlag(Flag.Holding, on);
  }

  /** A `herald.Resume` is in progress: the session does not settle before it completes. */
  get resuming(): boolean {
    return (this.flags & Flag.Resuming) !== 0;
  }
  set resuming(on: boolean) {
    this.setFlag(Flag.Resuming, on);
  }

  /** Something was held back by a full send buffer since the last drain. */
  private get heldBack(): boolean {
    return (this.flags & Flag.HeldBack) !== 0;
  }
  private set heldBack(on: boolean) {
    this.setFlag(Flag.HeldBack, on);
  }

  /** Overdrew the processing budget, and the budget has not been full since. */
  private get overdrawn(): boolean {
    return (this.flags & Flag.Overdrawn) !== 0;
  }
  private set overdrawn(on: boolean) {
    this.setFlag(Flag.Overdrawn, on);
  }

  /** @internal Set while an inspector taps the session's frames (`Inspection.tap`). */
  get tapped(): boolean {
    return (this.flags & Flag.Tapped) !== 0;
  }
  set tapped(on: boolean) {
    this.setFlag(Flag.Tapped, on);
  }

  /** @internal TopicSubscriber: shows a frame to the inspector tapping the session, if one is. */
  tap(direction: 'in' | 'out', frame: string): void {
    if (this.tapped) this.host.inspecting?.tapFrame(this, direction, frame);
  }

  private setFlag(flag: Flag, on: boolean): void {
    this.flags = on ? this.flags | flag : this.flags & ~flag;
  }

  hasTopic(topic: string): boolean {
    const subscribed = this.subscribed;
    return typeof subscribed === 'string' ? subscribed === topic : subscribed !== null && subscribed.has(topic);
  }

  get topicCount(): number {
    const subscribed = this.subscribed;
    return typeof subscribed === 'string' ? 1 : subscribed === null ? 0 : subscribed.size;
  }

  /** The topics subscribed to, as a copy: the caller may remove them on the way. */
  topics(): string[] {
    const subscribed = this.subscribed;
    return typeof subscribed === 'string' ? [subscribed] : subscribed === null ? [] : [...subscribed];
  }

  addTopic(topic: string): void {
    const subscribed = this.subscribed;
    if (subscribed === null) this.subscribed = topic;
    else if (typeof subscribed !== 'string') subscribed.add(topic);
    else if (subscribed !== topic) this.subscribed = new Set([subscribed, topic]);
  }

  /** True when the session was subscribed to `topic`. */
  removeTopic(topic: string): boolean {
    const subscribed = this.subscribed;
    if (typeof subscribed !== 'string') return subscribed !== null && subscribed.delete(topic);
    if (subscribed !== topic) return false;
    this.subscribed = null;
    return true;
  }

  /** The authenticated user, or undefined before authentication. */
  get userId(): string | undefined {
    return this.principal?.userId;
  }

  /**
   * True while the send buffer is above the high-water mark. Every hold-back decision asks
   * this, so it also remembers that something was held back: the sweep then calls `drained`
   * once the buffer has room, for transports that report no drain event of their own.
   */
  get backpressured(): boolean {
    const connection = this.connection;
    const full = connection !== null && connection.socket.bufferedAmount > this.host.highWaterMark;
    if (full && !this.heldBack) {
      this.heldBack = true;
      this.host.metrics?.highWater.add(1);
    }
    return full;
  }

  sendFrame(frame: string, shared = false): void {
    const connection = this.connection;
    if (connection === null) return;
    const length = connection.write(frame, shared);
    this.tap('out', frame);
    this.lastOutboundAt = this.host.now;
    const metrics = connection.metrics;
    if (metrics !== undefined) {
      metrics.framesOut.add(1);
      metrics.bytesOut.add(length);
    }
  }

  sendSystem(type: SystemType, body: unknown): void {
    this.sendFrame(encodeSystemNotification(type, body));
  }

  /**
   * Sends a `resp` frame, counted per connection: the client confirms responses by that count.
   * `packed` is the same frame packed by the connection's encoder (see `packResponse`), sent in
   * place of encoding `frame`; `frame` may then be left out.
   */
  sendResponse(frame: string | undefined, packed?: Uint8Array): void {
    const connection = this.connection;
    if (connection === null) return;
    const length = packed === undefined ? connection.write(frame as string, false) : connection.writePacked(packed);
    if (frame !== undefined) this.tap('out', frame);
    this.lastOutboundAt = this.host.now;
    connection.responses++;
    const metrics = connection.metrics;
    if (metrics !== undefined) {
      metrics.framesOut.add(1);
      metrics.bytesOut.add(length);
    }
  }

  sendError(reqId: string, type: string, status: number, body: ErrorBody): void {
    this.respond(reqId, type, status, body);
  }

  /** Sends a response built by the server (an error, a confirmation), packed from `body` on a binary connection. */
  respond(reqId: string, type: string, code: number, body: unknown): void {
    const packed = this.packResponse(reqId, type, code, body);
    this.sendResponse(packed === undefined ? encodeResponse(reqId, type, code, encodeBody(body)) : undefined, packed);
  }

  /**
   * The response frame packed from `body` for the current connection, when it speaks a binary
   * encoding and `body` is plain data: no JSON text is built for it. Undefined otherwise, and
   * while an inspector taps the session (its tap shows JSON text).
   */
  packResponse(reqId: string, type: string, code: number, body: unknown): Uint8Array | undefined {
    const encoder = this.connection?.encoder;
    return encoder === undefined || this.tapped ? undefined : encoder.response(reqId, type, code, body);
  }

  /** Whether `answer` keeps its frame as sent (in a send log) rather than as JSON text (in the retry cache). */
  get logsAnswers(): boolean {
    return this.connection?.sendLog != null;
  }

  /** The retry cache, made when the first answer or long-running request needs it. */
  retryCache(): DedupCache {
    return (this.dedup ??= new DedupCache(this.host.limits.dedupWindow));
  }

  /**
   * Sends the answer of an application request and keeps it for a retry: in the connection's
   * send log until its client confirms it, or in the retry cache when the client does not
   * confirm answers (or no connection is attached). `packed` is the frame `packResponse` made
   * for this connection: sent and logged as it is. The JSON text `frame` is needed unless
   * `logsAnswers`.
   */
  answer(entry: DedupEntry, frame: string | undefined, packed?: Uint8Array): void {
    const connection = this.connection;
    if (connection?.sendLog == null) {
      this.retryCache().finish(entry, frame as string);
      this.sendResponse(frame, packed);
      return;
    }
    this.dedup?.drop(entry);
    entry.frame = frame;
    this.sendResponse(frame, packed);
    if (packed === undefined) connection.sendLog.push(connection.responses, frame as string);
    else connection.sendLog.pushPacked(connection.responses, packed);
  }

  /** @internal An unconfirmed answer leaving its connection's send log: kept for a retry after resume. */
  spilled(frame: string): void {
    const head = responseHead(frame);
    if (head === undefined) return;
    const cache = this.retryCache();
    if (cache.get(head.id) === undefined) cache.finish(dedupEntry(head.id, head.type), frame);
  }

  /** @internal TopicSubscriber: false when the frame was held back by a full send buffer. */
  sendTopicFrame(frame: string): boolean {
    if (this.backpressured) return false;
    this.sendFrame(frame, true);
    return true;
  }

  /** @internal TopicSubscriber */
  nativeSubscribe(topic: string, join: boolean): boolean {
    const socket = this.connection?.socket;
    if (socket?.subscribe === undefined || socket.unsubscribe === undefined) return false;
    // The socket's adapter joins the native topic of its connection's encoding (see `herald.useNativePublish`).
    if (join) socket.subscribe(topic);
    else socket.unsubscribe(topic);
    return true;
  }

  isSubscribedTo(topic: string): boolean {
    return this.connection !== null && this.hasTopic(topic);
  }

  /** Queues a private notification (body already JSON text) under the next `seq`. */
  notifyEncoded(type: string, bodyJson: string | undefined): void {
    if (this.state === SessionState.Closed) return;
    if (this.host.sessionStore !== undefined) {
      this.host.notifyStored(this, type, bodyJson);
      return;
    }
    const seq = ++this.seq;
    this.queuePrivate(seq, encodePrivateNotification(type, seq, bodyJson));
  }

  /** @internal Keeps the frame of `seq` for replay and sends it when the connection is ready for it. */
  queuePrivate(seq: number, frame: string): void {
    this.host.metrics?.notificationsSent.add(1);
    const replay = (this.replay ??= new ReplayBuffer());
    const full = replay.size >= this.host.limits.replayWindow;
    if (full && this.connection === null) replay.dropOldest();
    replay.push(seq, frame);
    if (full && this.connection !== null && !this.holding) {
      this.close(CloseCode.SlowConsumer, 'slow consumer: replay buffer full');
      return;
    }
    if (!this.holding && this.sentSeq === seq - 1 && !this.backpressured) {
      this.sendFrame(frame);
      if (this.connection !== null) this.sentSeq = seq;
    }
  }

  /** Sends unsent private notifications and catches up lagging topics, while the buffer allows. */
  drained(): void {
    this.heldBack = false;
    this.flushReplay();
    this.host.catchUpLagging(this);
  }

  /**
   * A new session keeps its private notifications unsent until it settles: its client may be
   * about to resume another session, whose own copies of them are then the ones delivered
   * (PROTOCOL.md, herald.Resume). It settles on its first request other than Authenticate and
   * Resume, when a Resume completes, or `SETTLE_AFTER_MS` after it was authenticated if no
   * Resume is in progress then.
   */
  settle(): void {
    if (!this.holding || this.resuming) return;
    this.holding = false;
    this.flushReplay();
    this.host.settled(this);
  }

  /**
   * A resume from the client's `seq`: what follows it is sent again, from the replay buffer.
   * When the buffer lost the start (the answer says `recovered: false`), from its oldest.
   */
  resumeAt(clientSeq: number): void {
    const replay = this.replay;
    const firstHeld = replay !== null && replay.size > 0 ? replay.oldestSeq : this.seq + 1;
    this.sentSeq = Math.max(Math.min(clientSeq, this.seq), firstHeld - 1);
  }

  /** Sends private notifications after `sentSeq` until the send buffer fills. */
  flushReplay(): void {
    const replay = this.replay;
    if (replay === null || this.connection === null || this.holding) return;
    const metrics = this.host.metrics;
    replay.forEachAfter(this.sentSeq, (frame, seq) => {
      if (this.backpressured) return false;
      this.sendFrame(frame);
      this.sentSeq = seq;
      metrics?.notificationsReplayed.add(1);
      return true;
    });
  }

  touch(): void {
    this.lastInboundAt = this.host.now;
    this.pingSentAt = undefined;
  }

  receive(connection: Connection, data: string | ArrayBuffer | ArrayBufferView): void {
    if (connection !== this.connection || this.state === SessionState.Closed) return;
    this.touch();
    const metrics = connection.metrics;
    if (metrics !== undefined) {
      metrics.framesIn.add(1);
      metrics.bytesIn.add(typeof data === 'string' ? data.length : data.byteLength);
    }
    const allowed = this.takeToken();
    // The inspector's tail shows text frames; a MessagePack session's frames are binary.
    if (typeof data === 'string') this.tap('in', data);
    if (typeof data !== 'string' || connection.encoder !== undefined) {
      this.receiveBinary(connection, data, allowed);
      return;
    }
    if (!allowed) {
      // Refused frames are not parsed: the id, if readable, is enough to answer.
      const reqId = unparsedRequestId(data);
      if (reqId !== undefined) this.refuseRateLimited(reqId, unparsedRequestType(data) ?? UNKNOWN_TYPE);
      return;
    }
    this.dispatch(connection, decodeClientFrame(data, this.host.limits));
  }

  /** A frame on a connection of a binary subprotocol, or a binary frame on a `herald.v1` one. */
  private receiveBinary(connection: Connection, data: string | ArrayBuffer | ArrayBufferView, allowed: boolean): void {
    const encoder = connection.encoder;
    if (encoder === undefined) {
      if (allowed) this.protocolError(Status.BadRequest, ErrorReason.BinaryFrame, 'binary frames are not part of herald.v1');
      return;
    }
    if (typeof data === 'string') {
      if (allowed) this.protocolError(Status.BadRequest, ErrorReason.TextFrame, `text frames are not part of ${encoder.codec.protocol}`);
      return;
    }
    const bytes = data instanceof Uint8Array ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
    const result = decodeBinaryFrame(bytes, encoder.codec, this.host.limits);
    if (allowed) this.dispatch(connection, result);
    // A refused frame is decoded only to find the id to answer (a binary frame has no readable head).
    else if (result.ok && result.message.kind === Kind.Request) this.refuseRateLimited(result.message.id, result.message.type);
    else if (!result.ok && result.reqId !== undefined) this.refuseRateLimited(result.reqId, result.reqType ?? UNKNOWN_TYPE);
  }

  private refuseRateLimited(reqId: string, type: string): void {
    const body: ErrorBody = { error: ErrorReason.RateLimited, message: 'rate limit exceeded', retryAfterMs: this.retryAfterMs() };
    this.sendError(reqId, type, Status.TooManyRequests, body);
  }

  private dispatch(connection: Connection, result: DecodeResult): void {
    if (!result.ok) {
      const body: ErrorBody = { error: result.error, message: result.message };
      if (result.reqId !== undefined) {
        this.sendError(result.reqId, result.reqType ?? UNKNOWN_TYPE, result.status, body);
        this.strike();
      } else this.protocolError(result.status, result.error, result.message);
      return;
    }
    this.strikes = 0;
    const message = result.message;
    switch (message.kind) {
      case Kind.Request:
        if (message.resp !== undefined) this.confirmResponses(connection, message.resp);
        this.host.handleRequest(this, message);
        return;
      case Kind.Ack:
        if (message.resp !== undefined) this.confirmResponses(connection, message.resp);
        if (this.state === SessionState.Open) this.ack(message.seq);
        return;
      case Kind.Ping:
        this.sendFrame(PONG_FRAME);
        return;
      case Kind.Pong:
        return;
    }
  }

  private ack(seq: number): void {
    const acked = Math.min(seq, this.sentSeq);
    const replay = this.replay;
    // Acks that only confirm responses repeat the last seq: the store is told only of progress.
    const advanced = replay !== null && acked >= replay.oldestSeq;
    const held = replay?.size ?? 0;
    replay?.ack(acked);
    const metrics = this.host.metrics;
    if (metrics !== undefined && replay !== null && held > replay.size) metrics.notificationsAcked.add(held - replay.size);
    if (this.host.sessionStore !== undefined && acked > 0 && advanced) {
      this.host.sessionStore.ack(this.id, acked).catch(() => {
        // A lost ack only keeps a few notifications in the mailbox longer; the next one covers it.
      });
    }
  }

  /**
   * The client received the first `count` responses of this connection: their answers are let
   * go. From its first confirmation on, a connection keeps its answers in a send log.
   */
  private confirmResponses(connection: Connection, count: number): void {
    // With no retry cache there is nothing to keep: answers are not held either way.
    if (this.host.limits.dedupWindow === 0) return;
    const log = (connection.sendLog ??= new SendLog(2 * this.host.limits.dedupWindow, DEFAULT_DEDUP_BYTES, connection));
    log.confirm(Math.min(count, connection.responses));
  }

  /** How long until the bucket holds a token again, and an overdrawn budget is paid back. */
  private retryAfterMs(): number {
    const tokenMs = ((1 - this.tokens) * 1000) / this.host.limits.rateLimit.messagesPerSecond;
    const budget = this.host.processingBudget;
    const debtMs = budget === undefined || this.budget >= 0 ? 0 : (-this.budget * 1000) / budget.msPerSecond;
    return Math.max(1, Math.ceil(Math.max(tokenMs, debtMs)));
  }

  /**
   * Charges the processing time of one request. The first overdraft throttles the session (its
   * frames are refused as over the rate limit until the debt is paid back); another before the
   * budget is full again closes it with 4429.
   */
  spend(ms: number): void {
    const budget = this.host.processingBudget;
    if (budget === undefined) return;
    // Refilled as of the request's frame (with the token bucket): no second clock read per request.
    this.budget -= ms;
    if (this.budget >= 0) return;
    if (!this.overdrawn) this.overdrawn = true;
    else if (this.connection !== null) this.close(CloseCode.TooManyRequests, 'too much processing time', this.retryAfterMs());
  }

  /**
   * Token bucket over every frame, refilled lazily from the clock with the processing budget;
   * an overdrawn budget empties it. An overdraft is forgiven once the budget is full again.
   */
  private takeToken(): boolean {
    const now = this.host.clock.now();
    const { messagesPerSecond, burst } = this.host.limits.rateLimit;
    if (now !== this.refilledAt) {
      const elapsed = now - this.refilledAt;
      this.tokens = Math.min(burst, this.tokens + (elapsed * messagesPerSecond) / 1000);
      this.refilledAt = now;
      // Over the limit until the bucket is whole again: the tokens a sustained flood wins back
      // one by one do not forgive what it was refused.
      if (this.tokens === burst) this.refused = 0;
      const budget = this.host.processingBudget;
      if (budget !== undefined) {
        this.budget = Math.min(budget.burstMs, this.budget + (elapsed * budget.msPerSecond) / 1000);
        if (this.budget === budget.burstMs) this.overdrawn = false;
      }
    }
    const throttled = this.overdrawn && this.budget < 0;
    if (this.tokens >= 1 && !throttled) {
      this.tokens--;
      return true;
    }
    this.host.metrics?.rateLimited.add(1);
    if (++this.refused > burst) {
      this.close(CloseCode.TooManyRequests, 'too many messages', Math.ceil((burst * 1000) / messagesPerSecond));
    }
    return false;
  }

  private protocolError(status: number, error: ErrorReason, message: string): void {
    this.sendSystem(SystemType.Error, { code: status, error, message });
    this.strike();
  }

  private strike(): void {
    if (++this.strikes >= MAX_PROTOCOL_ERRORS) this.close(CloseCode.BadRequest, 'too many invalid frames');
  }

  /** Runs every sweep: deadlines, expiry, keep-alive and the resume window. */
  tick(now: number): void {
    const limits = this.host.limits;
    switch (this.state) {
      case SessionState.Detached:
        if (now - (this.detachedAt as number) >= limits.resumeWindowMs) this.host.destroy(this);
        return;
      case SessionState.Authenticating:
        if (now - this.openedAt >= limits.authDeadlineMs) {
          this.close(CloseCode.Unauthorized, 'authentication deadline passed');
          return;
        }
        break;
      case SessionState.Open: {
        const expiresAt = this.principal?.expiresAt;
        if (expiresAt !== undefined && now >= expiresAt) {
          this.close(CloseCode.Unauthorized, 'token expired');
          return;
        }
        break;
      }
      case SessionState.Closed:
        return;
    }
    if (this.heldBack && !this.backpressured) this.drained();
    // Whatever was numbered and not written yet (a race on the way in) goes out now: never a silent gap.
    else if (this.sentSeq < this.seq && !this.holding) this.flushReplay();
    this.connection?.sendLog?.trim();
    if (this.holding && this.state === SessionState.Open && now - (this.authenticatedAt as number) >= SETTLE_AFTER_MS) this.settle();
    if (this.pingSentAt !== undefined) {
      if (now - this.pingSentAt >= limits.pingTimeoutMs) this.close(CloseCode.KeepAliveTimeout, 'keep-alive timeout');
    } else if (now - this.lastOutboundAt >= limits.pingIntervalMs) {
      // The client must see traffic to know the server lives: an envelope it can observe.
      this.ping(now, false);
    } else if (now - this.lastInboundAt >= limits.pingIntervalMs) {
      // Only the client's liveness is in question: an RFC ping does, where the transport has one.
      this.ping(now, true);
    }
  }

  /** Probes the peer: an RFC ping for a native client when allowed and available, else `ping`. */
  private ping(now: number, rfcAllowed: boolean): void {
    const connection = this.connection;
    if (connection === null) return;
    if (rfcAllowed && connection.client === 'native' && connection.socket.ping !== undefined) {
      connection.socket.ping();
      this.lastOutboundAt = now;
    } else this.sendFrame(PING_FRAME);
    this.pingSentAt = now;
  }

  /** Attaches a connection (a new one, or the one a resume brings). */
  attach(connection: Connection): void {
    connection.session = this;
    this.connection = connection;
    this.touch();
    this.lastOutboundAt = this.host.now;
  }

  /**
   * Closes the connection with an application code, telling the client why first
   * (`herald.Goodbye`). Resumable codes keep the session for `resumeWindowMs`.
   */
  close(code: CloseCodeValue, reason: string, retryAfterMs?: number): void {
    if (this.connection !== null) this.host.closingSession(this, code, reason);
    this.goodbye(code, reason, retryAfterMs);
    if (closeCodeRetry[code] === 'fatal' || this.state === SessionState.Authenticating) this.host.destroy(this);
    else this.detach();
  }

  /** A resume on another connection adopted this session: the old connection goes (4409). */
  takeOver(): void {
    this.goodbye(CloseCode.SessionTakenOver, 'session resumed on another connection');
    this.detach();
  }

  private goodbye(code: CloseCodeValue, reason: string, retryAfterMs?: number): void {
    const connection = this.connection;
    if (connection === null) return;
    this.sendSystem(SystemType.Goodbye, retryAfterMs === undefined ? { code, reason } : { code, reason, retryAfterMs });
    connection.reportClose(code);
    connection.socket.close(code, reason);
    connection.ended();
  }

  transportClosed(connection: Connection, code: number | undefined): void {
    if (connection !== this.connection) return;
    this.host.inspecting?.closed(this, code, undefined);
    if (code === CloseCode.SlowConsumer) this.host.closingSession(this, code, 'slow consumer: send buffer full');
    if (code === CloseCode.Normal || this.state === SessionState.Authenticating) this.host.destroy(this);
    else this.detach();
  }

  /** Drops the connection but keeps what a resume needs. */
  detach(): void {
    if (this.state === SessionState.Closed) return;
    // Answers the client may not have received wait in the retry cache for its resume.
    this.connection?.sendLog?.close();
    this.connection = null;
    this.state = SessionState.Detached;
    this.host.metrics?.detached.add(1);
    this.detachedAt = this.host.now;
    this.sentSeq = 0;
    this.host.leaveTopics(this);
  }
}
