/**
 * One relayed session: the client leg (uWS) and the backend leg (`ws`), which live and die
 * together. Frames pass as bytes; the link reads only what it needs to resume the session on
 * another backend when its backend leg ends (see `relink`).
 */
import { CloseCode, SystemType } from '@herald/core';
import type { Socket } from 'node:net';
import type { Backend, BackendPool } from './backends.ts';
import { LegState, NO_LISTENER, type BackendLeg, type LegListener } from './backend-leg.ts';
import { FrameSort, jsonFrames, type FrameFormat, type RequestId, type Scan } from './frames.ts';
import type { LinkHost } from './link-host.ts';
import { SessionPosition } from './session-position.ts';

/**
 * What a link uses of its client leg: the uWS WebSocket of a client, or the long-poll connection
 * of one that cannot use WebSocket (`long-poll-edge.ts`), which has no ping of its own: it is
 * heard from at every poll.
 */
export interface ClientSocket {
  cork(write: () => void): unknown;
  /** 2: dropped, over the leg's limit (uWS's `maxBackpressure`). */
  send(frame: Buffer | string, isBinary: boolean): number;
  getBufferedAmount(): number;
  /** Closes the leg with `code`. */
  end(code: number, reason: string): void;
  /** Cuts the leg without a closing handshake: it went half-open. */
  close(): void;
  ping(): unknown;
}

/** What the gateway keeps on each uWS socket. */
export interface ClientData {
  link?: Link;
  /** A refusal to pass on to a browser once its upgrade is accepted. */
  refusal?: { readonly code: number; readonly reason: string; readonly retryAfterMs?: number; readonly error?: string };
}

/** uWS `send` result when the frame was dropped for exceeding `maxBackpressure`. */
const DROPPED = 2;
const RESUME_ID = 'herald-gateway-resume';
const AUTHENTICATE_ID = 'herald-gateway-auth';

/** Close codes a leg may be closed with by an application (RFC 6455 §7.4), passed on as they are. */
export function passable(code: number): boolean {
  return code === 1000 || code === 1001 || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

/** `error`: the refusal's, on the Goodbye of a refused browser upgrade. */
export function goodbyeMessage(code: number, reason: string, retryAfterMs?: number, error?: string): object {
  const body = retryAfterMs === undefined ? { code, reason } : { code, reason, retryAfterMs };
  return { kind: 'notification', type: SystemType.Goodbye, body: error === undefined ? body : { ...body, error } };
}

/** What every link's last scan found: a frame is scanned and read before the next one is, so one will do. */
const scan: Scan = { sort: FrameSort.Other, topicStart: 0, topicEnd: 0, position: 0, response: false, reqIdStart: 0, reqIdEnd: 0 };

let pending = new Set<Link>();
let scheduled = false;
/** Backend sockets corked this turn of the event loop, uncorked together once uWS has delivered what it read. */
let corked: Socket[] = [];
/**
 * The empty list every idle link shares, instead of four of its own (32 bytes each, on every
 * session). Frozen, so a push to it throws; `own` gives a link a list at its first entry.
 */
const NONE = Object.freeze([]) as never[];
function own<T>(list: T[]): T[] {
  return list === NONE ? [] : list;
}
/** What a client closed for sending faster than its backend reads is told to wait before it resumes. */
const FAST_SENDER_RETRY_MS = 1000;

function uncorkAll(): void {
  const sockets = corked;
  corked = [];
  for (const socket of sockets) socket.uncork();
}

/** Corks a backend leg's socket until the check phase of this loop turn: the frames uWS hands over meanwhile go in one write. */
function corkUntilLater(backend: BackendLeg): void {
  const socket = backend.socket;
  if (socket.writableCorked > 0) return;
  socket.cork();
  if (corked.push(socket) === 1) setImmediate(uncorkAll);
}

/** Writes what every link queued for its client this tick, each in one cork. */
function flushPending(): void {
  scheduled = false;
  const links = pending;
  pending = new Set();
  for (const link of links) link.flush();
}

type LinkState = 'open' | 'relinking' | 'closed';

/** A request of the client's the backend has not answered yet. */
interface InFlight {
  readonly frame: Buffer;
  /** Its id, compared with a response's `reqId` bytes. */
  readonly id: RequestId;
}

export class Link implements LegListener {
  client: ClientSocket | undefined;
  backend: BackendLeg;
  target: Backend;
  state: LinkState = 'open';
  readonly position: SessionPosition = new SessionPosition();
  /** False for a long-poll client on a shared store, whose polls other gateways answer: the store's idle timeout watches it. */
  clientKeepAlive = true;
  /** Keep-alive, read and reset by the gateway's sweep. */
  clientHeard = true;
  backendHeard = true;
  clientQuietSince = 0;
  backendQuietSince = 0;
  clientPingAt = 0;
  backendPingAt = 0;
  /** The client's requests not answered yet, oldest first: sent again, with their ids, to the backend a session moves to. */
  private requests: InFlight[] = NONE;
  /** While relinking: the requests the lost backend had not answered. */
  private retry: readonly InFlight[] = NONE;
  private out: Buffer[] | null = null;
  private outBytes = 0;
  /** When the link stopped reading from the backend for a client above the high-water mark (0: reading). */
  pausedAt = 0;
  /** When the link began holding the client's frames for a backend leg above the high-water mark (0: relaying). */
  holdingSince = 0;
  /** The backend's Goodbye, held until its close says whether the gateway relinks instead. */
  private goodbye: Buffer | undefined;
  /** While relinking: frames from the client, and from the new backend before its resume is answered. */
  private fromClientHeld: { frame: Buffer; binary: boolean }[] = NONE;
  private heldBytes = 0;
  private staged: Buffer[] = NONE;
  private relinkStartedAt = 0;

  constructor(
    private readonly host: LinkHost,
    backend: BackendLeg,
    target: Backend,
    /** The pool the client was routed to: a session moves only within it. */
    readonly pool: BackendPool,
    /** The upgrade headers, to dial another backend with. */
    readonly headers: Readonly<Record<string, string>>,
    readonly protocols: readonly string[],
    readonly routeKey: string | undefined,
    takeEarly: () => readonly Buffer[],
    /** How the session's frames are read and written (its subprotocol's encoding). */
    private readonly format: FrameFormat = jsonFrames,
  ) {
    this.backend = backend;
    this.target = target;
    target.links++;
    this.listen(backend);
    for (const frame of takeEarly()) this.fromBackend(frame, format.binary);
  }

  private listen(backend: BackendLeg): void {
    backend.listener = this;
  }

  // A leg this link moved away from is heard no more.
  legMessage(leg: BackendLeg, data: Buffer, isBinary: boolean): void {
    if (leg === this.backend) this.fromBackend(data, isBinary);
  }

  legPong(leg: BackendLeg): void {
    if (leg === this.backend) this.backendHeard = true;
  }

  legClosed(leg: BackendLeg, code: number, reason: string): void {
    if (leg === this.backend) this.backendClosed(code, reason);
  }

  /** The client leg opened (a uWS socket, or a long-poll connection). */
  attach(client: ClientSocket): void {
    this.client = client;
    if (this.out !== null) this.flush();
  }

  // Backend → client

  private fromBackend(frame: Buffer, isBinary: boolean): void {
    this.backendHeard = true;
    if (this.state === 'relinking') return this.stage(frame);
    if (isBinary === this.format.binary) {
      this.format.scanBackend(frame, scan);
      // The client's own rule (PROTOCOL.md §4.6): an offset or seq at or below the one it holds is a duplicate.
      // A backend that resumed a session can send one live just after its answer; it stops here.
      if (scan.sort === FrameSort.Topic) {
        if (!this.position.topicSent(frame, scan.topicStart, scan.topicEnd, scan.position)) return this.duplicate();
      } else if (scan.sort === FrameSort.Private) {
        if (!this.position.privateSent(scan.position)) return this.duplicate();
      } else {
        if (scan.reqIdEnd !== 0) this.answered(frame, scan.reqIdStart, scan.reqIdEnd);
        if (scan.sort === FrameSort.System && this.system(frame)) return;
      }
    }
    this.toClient(frame);
  }

  /** A response: its request is no longer in flight. */
  private answered(frame: Buffer, start: number, end: number): void {
    const requests = this.requests;
    for (let i = 0; i < requests.length; i++) {
      const { source, start: idStart, end: idEnd } = (requests[i] as InFlight).id;
      if (idEnd - idStart === end - start && source.compare(frame, start, end, idStart, idEnd) === 0) {
        if (requests.length === 1) this.requests = NONE;
        else requests.splice(i, 1);
        return;
      }
    }
  }

  private duplicate(): void {
    this.host.stats.duplicatesDropped++;
  }

  /** Reads a `herald.*` frame from the backend; true when it is held back (a Goodbye). */
  private system(frame: Buffer): boolean {
    const message = this.format.parse(frame);
    if (message === undefined) return false;
    this.position.fromBackend(message);
    if (message['type'] === SystemType.Goodbye) {
      this.goodbye = frame;
      return true;
    }
    return false;
  }

  /** The gateway's own Goodbye, in the session's encoding. */
  private goodbyeOf(code: number, reason: string, retryAfterMs?: number): Buffer | string {
    return this.format.encode(goodbyeMessage(code, reason, retryAfterMs));
  }

  private toClient(frame: Buffer | string): void {
    const bytes = typeof frame === 'string' ? Buffer.from(frame) : frame;
    this.host.stats.framesToClient++;
    this.host.stats.bytesToClient += bytes.length;
    (this.out ??= []).push(bytes);
    this.outBytes += bytes.length;
    pending.add(this);
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(flushPending);
    }
  }

  /** Writes the frames queued for the client in one cork; past `maxBackpressure` the client is closed 4507. */
  flush(): void {
    const out = this.out;
    const client = this.client;
    if (out === null || client === undefined || this.state === 'closed') return;
    this.out = null;
    this.outBytes = 0;
    client.cork(() => {
      for (const frame of out) {
        if (client.getBufferedAmount() + frame.length > this.host.closeAbove || client.send(frame, this.format.binary) === DROPPED) {
          this.slowConsumer();
          return;
        }
      }
    });
    if (this.pausedAt === 0 && client.getBufferedAmount() > this.host.highWaterMark) {
      // Stop reading from the backend until the client drains, so the gateway holds about one
      // high-water mark per link; a client that does not drain in time is a slow consumer (`slowConsumer`).
      this.pausedAt = Date.now();
      this.backend.pause();
    }
  }

  /** uWS drained the client's buffer. */
  drained(): void {
    if (this.pausedAt !== 0 && this.client !== undefined && this.client.getBufferedAmount() <= this.host.highWaterMark / 2) {
      this.pausedAt = 0;
      this.backend.resume();
    }
  }

  /** The client did not drain for the keep-alive grace: closed 4507 as a Herald server would, the session detached for its resume. */
  slowConsumer(): void {
    this.host.stats.slowConsumers++;
    this.close(CloseCode.SlowConsumer, 'slow consumer: send buffer full', CloseCode.ClientLost, 'client is a slow consumer');
  }

  /** Bytes queued for the client (in the gateway and in uWS). */
  get clientBuffered(): number {
    return this.outBytes + (this.client !== undefined && this.state !== 'closed' ? this.client.getBufferedAmount() : 0);
  }

  // Client → backend

  fromClient(frame: Buffer, isBinary: boolean): void {
    this.clientHeard = true;
    const format = this.format;
    if (isBinary === format.binary && format.isClientRequest(frame)) {
      const id = format.requestId(frame);
      if (id !== undefined) (this.requests = own(this.requests)).push({ frame, id });
      if (format.isSystemRequest(frame)) this.position.fromClient(format.parse(frame));
    }
    if (this.state === 'relinking' || this.holdingSince !== 0) return this.hold(frame, isBinary);
    this.toBackend(frame, isBinary);
  }

  /** Keeps a client frame for later: while relinking, or while the backend leg is above the high-water mark. */
  private hold(frame: Buffer, binary: boolean): void {
    (this.fromClientHeld = own(this.fromClientHeld)).push({ frame, binary });
    this.heldBytes += frame.length;
    if (this.heldBytes <= this.host.closeAbove) return;
    if (this.state === 'relinking') return this.relinkFailed('too much sent while the backend was relinked');
    this.host.stats.fastSenders++;
    this.close(CloseCode.TooManyRequests, 'sent faster than the backend reads', CloseCode.ClientLost, 'client sent faster than the backend reads', FAST_SENDER_RETRY_MS);
  }

  private toBackend(frame: Buffer | string, binary: boolean): void {
    const backend = this.backend;
    if (backend.readyState !== LegState.Open) return;
    this.host.stats.framesToBackend++;
    this.host.stats.bytesToBackend += frame.length;
    if (backend.bufferedAmount + frame.length <= this.host.highWaterMark) {
      corkUntilLater(backend);
      backend.send(frame, binary);
      return;
    }
    // uWS 20.30 cannot stop reading a WebSocket, so the client's next frames wait in the link
    // (bounded, see `hold`) until this one is written out to the backend's socket.
    this.holdingSince = Date.now();
    this.host.stats.backendPauses++;
    backend.send(frame, binary, () => {
      if (backend === this.backend && this.state === 'open') this.releaseHeld();
    });
  }

  /** Relays the frames held for the backend, in order, until the backend leg is above the mark again. */
  private releaseHeld(): void {
    this.holdingSince = 0;
    const held = this.fromClientHeld;
    this.fromClientHeld = NONE;
    this.heldBytes = 0;
    for (let i = 0; i < held.length; i++) {
      const { frame, binary } = held[i] as { frame: Buffer; binary: boolean };
      if (this.holdingSince === 0) {
        this.toBackend(frame, binary);
        continue;
      }
      (this.fromClientHeld = own(this.fromClientHeld)).push({ frame, binary });
      this.heldBytes += frame.length;
    }
  }

  /** Bytes on their way to the backend (held in the link, and in the backend leg's socket). */
  get backendBuffered(): number {
    return this.heldBytes + (this.state !== 'closed' ? this.backend.bufferedAmount : 0);
  }

  // Ends

  /** The client leg closed (uWS's close callback). */
  clientClosed(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.client = undefined;
    this.end();
    if (passable(code)) this.backend.close(code, reason);
    else this.backend.close(CloseCode.ClientLost, 'client lost');
  }

  /** The client leg went half-open: cut it and tell the backend. */
  clientLost(why: string): void {
    if (this.state === 'closed') return;
    const client = this.client;
    this.client = undefined;
    this.end();
    client?.close();
    this.backend.close(CloseCode.ClientLost, why);
    this.host.logger.info({ event: 'client_lost', backend: this.target.url, why }, 'gateway: client leg lost');
  }

  /** The backend leg went half-open. */
  backendLost(why: string): void {
    if (this.state !== 'open') return;
    const backend = this.backend;
    backend.listener = NO_LISTENER;
    backend.terminate();
    this.backendEnded(undefined, why);
  }

  private backendClosed(code: number, reason: string): void {
    if (this.state !== 'open') {
      if (this.state === 'relinking') this.relinkFailed(`backend closed with ${code} during the resume`);
      return;
    }
    this.backendEnded(code, reason);
  }

  /** The backend leg ended: relink where the client could not tell, else close the client with the code that fits. */
  private backendEnded(code: number | undefined, reason: string): void {
    const goodbye = this.goodbye;
    this.goodbye = undefined;
    const goodbyeCode = goodbye === undefined ? undefined : (this.format.parse(goodbye)?.['body'] as { code?: unknown } | undefined)?.code;
    // A Goodbye with another code (4409 taken over, 4401 expired, 4429 …) means something to the client: pass it on.
    if (goodbyeCode !== undefined && goodbyeCode !== CloseCode.ShuttingDown) return this.forwardClose(goodbye, code, reason);
    const movable = code === undefined || !passable(code) || code === 1001 || code === 1011 || code === CloseCode.ShuttingDown;
    if (movable && this.host.relink && this.relink()) return;
    this.forwardClose(goodbye, code, reason);
  }

  private forwardClose(goodbye: Buffer | undefined, code: number | undefined, reason: string): void {
    if (code !== undefined && passable(code) && code !== 1001 && code !== 1011) {
      if (goodbye !== undefined) this.toClient(goodbye);
      this.closeClient(code, reason, false);
    } else {
      this.closeClient(CloseCode.BackendLost, 'backend lost', true);
    }
  }

  /** Says goodbye (unless the backend's Goodbye was relayed) and closes the client leg. */
  private closeClient(code: number, reason: string, sayGoodbye: boolean): void {
    if (this.state === 'closed') return;
    if (sayGoodbye) this.toClient(this.goodbyeOf(code, reason));
    this.flush();
    const client = this.client;
    this.client = undefined;
    this.end();
    client?.end(code, reason);
  }

  /** Closes both legs: the client with Goodbye + `clientCode`, the backend with `backendCode`. */
  close(clientCode: number, clientReason: string, backendCode: number, backendReason: string, retryAfterMs?: number): void {
    if (this.state === 'closed') return;
    const client = this.client;
    this.out = null;
    this.client = undefined;
    this.end();
    if (client !== undefined) {
      client.cork(() => {
        client.send(this.goodbyeOf(clientCode, clientReason, retryAfterMs), this.format.binary);
        client.end(clientCode, clientReason);
      });
    }
    this.backend.close(backendCode, backendReason);
  }

  private end(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.target.links--;
    pending.delete(this);
    this.host.ended(this);
  }

  // Relink

  /**
   * Starts resuming the session on another backend; false when that cannot be done safely (no
   * position to resume from, or the client's own `herald.Resume` unanswered).
   */
  private relink(): boolean {
    if (this.client === undefined || this.requests.some((request) => this.isResume(request))) return false;
    const body = this.position.resumeBody();
    if (body === undefined) return false;
    this.state = 'relinking';
    this.holdingSince = 0;
    // Held frames never reached the lost backend: they follow the retries, as they followed them here.
    const held = new Set(this.fromClientHeld.map(({ frame }) => frame));
    this.retry = this.requests.filter(({ frame }) => !held.has(frame));
    this.relinkStartedAt = Date.now();
    this.relinkTimer = setTimeout(() => this.relinkFailed('timed out'), this.host.relinkTimeoutMs);
    this.host.logger.info({ event: 'relink_started', backend: this.target.url }, 'gateway: relinking a session to another backend');
    void this.host.dial(this, this.target).then(
      ({ backend, target, takeEarly }) => this.relinked(backend, target, takeEarly),
      (error: unknown) => this.relinkFailed(error instanceof Error ? error.message : String(error)),
    );
    return true;
  }

  private relinked(backend: BackendLeg, target: Backend, takeEarly: () => readonly Buffer[]): void {
    if (this.state !== 'relinking') {
      backend.close(CloseCode.ClientLost, 'client lost');
      return;
    }
    this.target.links--;
    this.target = target;
    target.links++;
    this.backend = backend;
    this.backendHeard = true;
    this.backendPingAt = 0;
    this.staged = NONE;
    this.listen(backend);
    for (const frame of takeEarly()) this.stage(frame);
  }

  /** A frame of the new backend before the resume is answered. */
  private stage(frame: Buffer): void {
    const message = this.scanSystem(frame);
    if (message === undefined) {
      (this.staged = own(this.staged)).push(frame);
      return;
    }
    const type = message['type'];
    if (message['kind'] === 'notification') {
      if (type === SystemType.Welcome) {
        const body = message['body'] as { authenticated?: unknown } | undefined;
        if (body?.authenticated === true) this.sendResume();
        else if (this.position.token !== undefined) this.sendRaw({ kind: 'req', id: AUTHENTICATE_ID, type: SystemType.Authenticate, body: { token: this.position.token } });
        else this.relinkFailed('the new backend leg is not authenticated');
      } else if (type === SystemType.Goodbye) this.relinkFailed('the new backend said goodbye');
      else if (type === SystemType.Subscribed && this.listedInResume(message['body'])) return; // the fresh session's own ($all), which the resume replaces
      else (this.staged = own(this.staged)).push(frame);
      return;
    }
    if (message['reqId'] === AUTHENTICATE_ID) {
      if (message['code'] === 200) this.sendResume();
      else this.relinkFailed(`the new backend refused the session's token (${String(message['code'])})`);
    } else if (message['reqId'] === RESUME_ID) this.resumeAnswered(message);
    else (this.staged = own(this.staged)).push(frame);
  }

  /** The topics the gateway's `herald.Resume` listed, once sent. */
  private resumeTopics: Readonly<Record<string, unknown>> | undefined;
  private relinkTimer: ReturnType<typeof setTimeout> | undefined;

  private isResume(request: InFlight): boolean {
    return this.format.isSystemRequest(request.frame) && this.format.parse(request.frame)?.['type'] === SystemType.Resume;
  }

  private scanSystem(frame: Buffer): Record<string, unknown> | undefined {
    this.format.scanBackend(frame, scan);
    return scan.sort === FrameSort.System ? this.format.parse(frame) : undefined;
  }

  private sendRaw(message: unknown): void {
    this.backend.send(this.format.encode(message), this.format.binary);
  }

  private listedInResume(body: unknown): boolean {
    const topic = (body as { topic?: unknown } | undefined)?.topic;
    return typeof topic === 'string' && (this.resumeTopics === undefined || topic in this.resumeTopics);
  }

  private sendResume(): void {
    const body = this.position.resumeBody();
    if (body === undefined) return this.relinkFailed('no position to resume from');
    this.resumeTopics = body.topics;
    this.sendRaw({ kind: 'req', id: RESUME_ID, type: SystemType.Resume, body });
  }

  private resumeAnswered(message: Record<string, unknown>): void {
    const body = message['body'] as { sessionId?: unknown; recovered?: unknown; reason?: unknown } | undefined;
    if (message['code'] !== 200 || body?.recovered !== true || body.sessionId !== this.position.sessionId) {
      this.relinkFailed(`resume not recovered (${String(message['code'])} ${String(body?.reason ?? '')})`);
      return;
    }
    for (const frame of this.staged) {
      this.format.scanBackend(frame, scan);
      if (scan.sort === FrameSort.Topic && !this.position.topicSent(frame, scan.topicStart, scan.topicEnd, scan.position)) continue;
      if (scan.sort === FrameSort.Private && !this.position.privateSent(scan.position)) continue;
      if (scan.sort === FrameSort.System) {
        const system = this.format.parse(frame);
        if (system !== undefined) this.position.fromBackend(system);
      }
      this.toClient(frame);
    }
    this.staged = NONE;
    this.resumeTopics = undefined;
    clearTimeout(this.relinkTimer);
    this.state = 'open';
    // The lost backend's unanswered requests, with their ids: the session's de-duplication answers
    // each once (its stored answer, the answer of one still running elsewhere, or 409 outcome_unknown).
    const retry = this.retry.filter((request) => this.requests.includes(request));
    this.retry = NONE;
    this.host.stats.requestsRetried += retry.length;
    this.fromClientHeld = [...retry.map(({ frame }) => ({ frame, binary: this.format.binary })), ...this.fromClientHeld];
    this.releaseHeld();
    const ms = Date.now() - this.relinkStartedAt;
    this.host.relinked(this, ms);
  }

  private relinkFailed(why: string): void {
    if (this.state !== 'relinking') return;
    clearTimeout(this.relinkTimer);
    this.state = 'open';
    this.staged = NONE;
    this.fromClientHeld = NONE;
    this.retry = NONE;
    this.resumeTopics = undefined;
    this.host.stats.relinkFailures++;
    this.host.logger.warn({ event: 'relink_failed', why }, 'gateway: could not relink a session; the client resumes itself');
    if (this.backend.readyState === LegState.Open || this.backend.readyState === LegState.Connecting) {
      this.backend.listener = NO_LISTENER;
      this.backend.close(CloseCode.ClientLost, 'relink abandoned');
    }
    this.closeClient(CloseCode.BackendLost, 'backend lost', true);
  }
}
