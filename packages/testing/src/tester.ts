/**
 * The WsTester of the seed, for Herald: connect, send, wait for a message matching a matcher.
 * It speaks the protocol just enough to be convenient (answers pings, can authenticate and
 * acknowledge) and otherwise sends exactly what a test tells it to, malformed input included.
 * It imports no test framework, so it works under vitest, `bun test` and `deno test`.
 */
import { PROTOCOL_NAME, SystemType, type Envelope, type ResponseMessage, type WelcomeBody, type WireCodec } from '@herald/core';
import { responseTo, toMatcher, withType, type MatcherLike } from './matchers.ts';

/** The subset of the WHATWG WebSocket the tester uses (`ws` and every runtime's global fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}

/** A WebSocket constructor; `options` carries headers where the implementation supports them. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: { headers?: Record<string, string> }) => WebSocketLike;

export interface ConnectOptions {
  /** Authenticates in session (`herald.Authenticate`) right after the Welcome. */
  readonly token?: string;
  /** Upgrade headers (e.g. `authorization`, `origin`); needs an implementation that sends them, like `ws`. */
  readonly headers?: Record<string, string>;
  /** Subprotocols to offer (default `herald.v1`; `[]` offers none). */
  readonly protocols?: string | string[];
  /** Default wait for `connect`, `request` and `waitFor` (default 2000 ms). */
  readonly timeoutMs?: number;
  /** Answer the server's `ping` with `pong` (default true). */
  readonly autoPong?: boolean;
  /** Do not wait for the Welcome (for refused upgrades, whose first message is a Goodbye). */
  readonly skipWelcome?: boolean;
  /** The WebSocket implementation (default: `ws` on Node, else the global one). */
  readonly WebSocket?: WebSocketConstructor;
  /**
   * Speak a binary subprotocol (`msgpack()` from `@herald/core/msgpack`): offered instead of
   * `herald.v1` unless `protocols` says otherwise, envelopes sent and read as its binary frames.
   */
  readonly codec?: WireCodec;
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
}

export interface WaitOptions {
  readonly timeoutMs?: number;
  /** Only consider messages received after this call (default: the whole log). */
  readonly fresh?: boolean;
}

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (global !== undefined && !isNode) return global;
  const ws = (await import('ws')) as unknown as { default: WebSocketConstructor };
  return ws.default;
}

function describe(messages: readonly Envelope[]): string {
  if (messages.length === 0) return 'nothing was received';
  return 'last received:\n  ' + messages.slice(-5).map((m) => JSON.stringify(m)).join('\n  ');
}

export class Tester {
  /** Every envelope received, in order. */
  readonly log: Envelope[] = [];
  /** Frames that were not JSON (a conforming server never sends one), or not the codec's. */
  readonly invalid: string[] = [];
  /** The frame type of each of `log`. */
  readonly frameTypes: Array<'text' | 'binary'> = [];
  /** Resolves when the connection closes. */
  readonly closed: Promise<CloseInfo>;
  closeInfo: CloseInfo | undefined;
  private readonly waiters = new Set<() => void>();
  private nextId = 0;

  constructor(
    readonly socket: WebSocketLike,
    private readonly timeoutMs: number,
    autoPong: boolean,
    private readonly codec: WireCodec | undefined = undefined,
  ) {
    if ((socket as { binaryType?: string }).binaryType === 'blob') (socket as { binaryType?: string }).binaryType = 'arraybuffer';
    socket.addEventListener('message', (event: { data: unknown }) => {
      const binary = typeof event.data !== 'string';
      const bytes = binary ? (event.data instanceof ArrayBuffer ? new Uint8Array(event.data) : (event.data as Uint8Array)) : undefined;
      let message: Envelope;
      try {
        message = (bytes !== undefined && codec !== undefined ? codec.decode(bytes) : JSON.parse(bytes === undefined ? (event.data as string) : new TextDecoder().decode(bytes))) as Envelope;
      } catch {
        this.invalid.push(bytes === undefined ? (event.data as string) : new TextDecoder().decode(bytes));
        return;
      }
      this.log.push(message);
      this.frameTypes.push(binary ? 'binary' : 'text');
      if (autoPong && message.kind === 'ping') this.send({ kind: 'pong' });
      for (const wake of this.waiters) wake();
    });
    this.closed = new Promise((resolve) => {
      socket.addEventListener('close', (event: { code: number; reason: string }) => {
        this.closeInfo = { code: event.code, reason: String(event.reason) };
        for (const wake of this.waiters) wake();
        resolve(this.closeInfo);
      });
    });
  }

  /**
   * Resolves to the close as PROTOCOL.md tells a client to read it: the code of the
   * `herald.Goodbye` that preceded the close if one did (a transport may lose the close frame,
   * e.g. when it resets a connection with unread input), else the close frame's.
   */
  async effectiveClose(): Promise<CloseInfo> {
    const closed = await this.closed;
    const goodbye = [...this.log].reverse().find((m) => m.kind === 'notification' && m.type === SystemType.Goodbye);
    if (goodbye === undefined || goodbye.kind !== 'notification') return closed;
    const body = goodbye.body as { code: number; reason: string };
    return { code: body.code, reason: body.reason };
  }

  /** The `herald.Welcome` body of this session. */
  get welcome(): WelcomeBody {
    const welcome = this.log.find((m) => m.kind === 'notification' && m.type === SystemType.Welcome);
    if (welcome === undefined || welcome.kind !== 'notification') throw new Error('no herald.Welcome received');
    return welcome.body as WelcomeBody;
  }

  /** Sends an envelope (stringified, or encoded with the codec), a raw string, or bytes (a binary frame). */
  send(message: Envelope | Record<string, unknown> | string | Uint8Array): void {
    if (typeof message === 'string' || message instanceof Uint8Array) this.socket.send(message);
    else this.socket.send(this.codec === undefined ? JSON.stringify(message) : this.codec.encode(message));
  }

  /** Sends a request and resolves to its response (whatever its code). */
  async request(type: string, body?: unknown, options: { id?: string; timeoutMs?: number } = {}): Promise<ResponseMessage> {
    const id = options.id ?? `t${++this.nextId}`;
    this.send(body === undefined ? { kind: 'req', id, type } : { kind: 'req', id, type, body });
    return (await this.waitFor(responseTo(id), { fresh: true, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) })) as ResponseMessage;
  }

  /** Acknowledges private notifications up to `seq`. */
  ack(seq: number): void {
    this.send({ kind: 'ack', seq });
  }

  /**
   * Resolves to the first message matching `matcher` (already received, unless `fresh`),
   * or rejects after the timeout saying what was expected and what arrived.
   */
  waitFor<T extends Envelope = Envelope>(matcher: MatcherLike, options: WaitOptions = {}): Promise<T> {
    const match = toMatcher(matcher);
    const start = options.fresh === true ? this.log.length : 0;
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        for (let i = start; i < this.log.length; i++) {
          const message = this.log[i] as Envelope;
          if (match(message)) {
            done();
            resolve(message as T);
            return true;
          }
        }
        if (this.closeInfo !== undefined) {
          done();
          reject(new Error(`waitFor: closed (${this.closeInfo.code} ${this.closeInfo.reason}) while waiting for ${match.description}; ${describe(this.log)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`waitFor: no ${match.description} within ${timeoutMs} ms; ${describe(this.log)}`));
      }, timeoutMs);
      const wake = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      if (!check()) this.waiters.add(wake);
    });
  }

  /** Waits `ms` and rejects if a message matching `matcher` (default: any) arrived meanwhile. */
  async expectNothing(ms: number, matcher: MatcherLike = () => true): Promise<void> {
    const match = toMatcher(matcher);
    const start = this.log.length;
    await new Promise((resolve) => setTimeout(resolve, ms));
    const unexpected = this.log.slice(start).find((m) => match(m));
    if (unexpected !== undefined) throw new Error(`expectNothing: received ${JSON.stringify(unexpected)} within ${ms} ms`);
  }

  /**
   * Drops the connection without a close handshake, as a broken network would (`ws`'s
   * `terminate`; elsewhere a close with 4000, which the server also treats as resumable).
   */
  drop(): Promise<CloseInfo> {
    const terminate = (this.socket as { terminate?: () => void }).terminate;
    if (terminate !== undefined) terminate.call(this.socket);
    else this.socket.close(4000, 'drop');
    return this.closed;
  }

  /** Closes the connection (1000 by default) and resolves once closed. */
  close(code = 1000, reason = ''): Promise<CloseInfo> {
    if (this.closeInfo === undefined) this.socket.close(code, reason);
    return this.closed;
  }
}

/**
 * Opens a WebSocket to a Herald server and resolves once the Welcome (and, with `token`, the
 * authentication) has arrived.
 *
 * @example
 * const alice = await connect('ws://127.0.0.1:9090/ws', { token: 'demo-alice' });
 * await alice.request('chat.Join', { room: 'lobby' });
 * const message = await alice.waitFor(and(withType('chat.Message'), withProperty('body.from', 'bob')));
 */
export async function connect(url: string, options: ConnectOptions = {}): Promise<Tester> {
  const WebSocketImpl = options.WebSocket ?? (await defaultWebSocket());
  const protocols = options.protocols ?? options.codec?.protocol ?? PROTOCOL_NAME;
  const socket = new WebSocketImpl(url, protocols, options.headers === undefined ? {} : { headers: options.headers });
  const timeoutMs = options.timeoutMs ?? 2000;
  const tester = new Tester(socket, timeoutMs, options.autoPong ?? true, options.codec);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve());
    socket.addEventListener('error', (event: { message?: string }) => reject(new Error(`connect ${url}: ${event.message ?? 'failed'}`)));
  });
  if (options.skipWelcome === true) return tester;
  await tester.waitFor(withType(SystemType.Welcome));
  if (options.token !== undefined) {
    const response = await tester.request(SystemType.Authenticate, { token: options.token });
    if (response.code !== 200) throw new Error(`connect: authentication failed: ${JSON.stringify(response.body)}`);
  }
  return tester;
}
