/**
 * The tester without a network, for fast unit tests of an application's handlers (as
 * Phoenix's ChannelTest does): the same `Tester` API over an in-memory socket pair that goes
 * through the server's real upgrade and session code. Frames cross in a microtask, so
 * ordering and asynchrony are as over a socket, minus the latency.
 */
import { PROTOCOL_NAME, type Herald, type HeraldSocket, type UpgradeDecision } from '@herald/core';
import { connect, type ConnectOptions, type Tester, type WebSocketConstructor, type WebSocketLike } from './tester.ts';

type Listener = (event: any) => void;

/** The client end: a WebSocketLike whose server end is a HeraldSocket. */
class InProcessSocket implements WebSocketLike {
  readyState = 0;
  private readonly listeners = new Map<string, Listener[]>();
  private connection: ReturnType<Herald['open']> | undefined;

  constructor(herald: Herald<any>, url: string, protocols: string | string[] | undefined, headers: Record<string, string>) {
    const offered = protocols === undefined ? [] : Array.isArray(protocols) ? protocols : [protocols];
    const all = new Headers({ host: new URL(url).host, ...headers });
    if (offered.length > 0) all.set('sec-websocket-protocol', offered.join(', '));
    void herald.upgrade({ url, headers: all, remoteAddress: '127.0.0.1' }).then((decision) => this.accept(herald, decision));
  }

  private accept(herald: Herald<any>, decision: UpgradeDecision): void {
    if (!decision.ok && decision.client === 'native') {
      this.readyState = 3;
      this.emit('error', { message: `upgrade refused with HTTP ${decision.status}: ${JSON.stringify(decision.body)}` });
      return;
    }
    const server: HeraldSocket = {
      send: (frame) => {
        if (this.readyState === 1) queueMicrotask(() => this.emit('message', { data: frame }));
      },
      close: (code, reason) => this.finish(code, reason),
      bufferedAmount: 0,
    };
    this.readyState = 1;
    this.emit('open', {});
    if (decision.ok) this.connection = herald.open(server, decision);
    else herald.reject(server, decision);
  }

  private finish(code: number, reason: string): void {
    if (this.readyState >= 2) return;
    this.readyState = 2;
    queueMicrotask(() => {
      this.readyState = 3;
      this.connection?.closed(code);
      this.emit('close', { code, reason });
    });
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string | Uint8Array): void {
    if (this.readyState !== 1) throw new Error('in-process socket is not open');
    const copy = typeof data === 'string' ? data : data.slice();
    queueMicrotask(() => this.connection?.receive(copy));
  }

  close(code = 1000, reason = ''): void {
    this.finish(code, reason);
  }

  /** Like `ws`'s terminate: the server sees an abnormal closure. */
  terminate(): void {
    this.finish(1006, '');
  }
}

/**
 * Connects a `Tester` to a Herald server in this process, without sockets.
 *
 * @example
 * const herald = createHerald({ contract, handlers, authenticate });
 * const alice = await connectInProcess(herald, { token: 'alice-token' });
 * expect(await alice.request('chat.Send', { room: 'r', text: 'hi' })).toMatchObject({ code: 200 });
 */
export function connectInProcess(herald: Herald<any>, options: Omit<ConnectOptions, 'WebSocket'> = {}): Promise<Tester> {
  const InProcess = function (url: string, protocols?: string | string[], init?: { headers?: Record<string, string> }) {
    return new InProcessSocket(herald, url, protocols ?? PROTOCOL_NAME, init?.headers ?? {});
  } as unknown as WebSocketConstructor;
  return connect('ws://in-process/ws', { ...options, WebSocket: InProcess });
}
