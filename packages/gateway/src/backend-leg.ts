/**
 * The backend leg: a WebSocket client (RFC 6455) on a bare `net.Socket`, to a Herald node.
 *
 * Why not `ws`, which the gateway used before: a relayed session holds one backend leg for its
 * whole life, and a `ws` client costs about 2.9 KB of heap and 13 KB of RSS per connection (its
 * `http.ClientRequest` handshake, a `Writable` receiver, a sender, their listeners), against
 * 1.1 KB and 4.3 KB for the socket alone (measured with 2,000 connections to uWS). That put an
 * idle relayed session at 3–4× a node's session. The leg needs little of a general client: it
 * talks to Herald nodes the gateway was configured with, sends whole frames, reads whole or
 * fragmented ones, answers pings, and closes; no extensions, no redirects, no proxies.
 *
 * Frames toward the node are masked with a zero key (RFC 6455 §5.3 requires a mask; it exists
 * to scramble a browser script's bytes for caching proxies, §10.3, and the gateway relays no
 * script's bytes to anyone but the node), so payloads are written as they are, without a copy.
 * Frames from the node are handed over as views of the bytes read (no copy either), and their
 * UTF-8 is not checked here: the client leg's WebSocket checks what reaches the client.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const MAX_HEAD_BYTES = 16 * 1024;
const ZERO_MASK = Buffer.alloc(4);

const Opcode = { Continuation: 0, Text: 1, Binary: 2, Close: 8, Ping: 9, Pong: 10 } as const;

/** The leg's states, numbered as the WebSocket API's `readyState`. */
export const LegState = { Connecting: 0, Open: 1, Closing: 2, Closed: 3 } as const;
export type LegState = (typeof LegState)[keyof typeof LegState];

/** What dialing a node gave: an open leg, the node's refusal (an HTTP answer), or a failure. */
export type LegDialed =
  | { readonly kind: 'open'; readonly leg: BackendLeg; readonly early: Buffer }
  | { readonly kind: 'refused'; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: string }
  | { readonly kind: 'failed'; readonly error: string };

export interface LegDialOptions {
  /** The upgrade's headers, beside the handshake's own (`host` among them replaces the URL's). */
  readonly headers: Readonly<Record<string, string>>;
  readonly protocols: readonly string[];
  /** The longest the TCP connect and the handshake may take. */
  readonly timeoutMs: number;
  /** Larger frames from the node close the leg with 1009. */
  readonly maxPayload: number;
}

/**
 * Who hears a leg: its messages (payload, isBinary), its pongs, and its end, once, after which
 * the leg is closed (1006: the connection ended without a close frame). One object with the leg
 * passed in, not an emitter's listeners: a link holds its legs for the session's life, and
 * closures and listener lists per leg were a tenth of a relayed session's memory.
 */
export interface LegListener {
  legMessage(leg: BackendLeg, data: Buffer, isBinary: boolean): void;
  legPong(leg: BackendLeg): void;
  legClosed(leg: BackendLeg, code: number, reason: string): void;
}

/** A leg's listener before anyone listens, and after its link let go of it. */
export const NO_LISTENER: LegListener = { legMessage() {}, legPong() {}, legClosed() {} };

/** The leg of a socket, for the socket's listeners, which are shared by every leg. */
const LEG = Symbol('backend leg');
type LegSocket = Socket & { [LEG]: BackendLeg };

function onSocketData(this: LegSocket, chunk: Buffer): void {
  this[LEG].feed(chunk);
}

// An error is followed by `close`, which is what the leg reports (1006).
function onSocketError(): void {}

function onSocketClose(this: LegSocket): void {
  this[LEG].socketClosed();
}

/** An open backend leg; `listener` hears it. */
export class BackendLeg {
  readyState: LegState = LegState.Open;
  listener: LegListener = NO_LISTENER;
  /** Bytes read but not yet a whole frame. */
  private partial: Buffer | undefined;
  /** A fragmented message being read, and its opcode. */
  private fragments: Buffer[] | undefined;
  private fragmentsBinary = false;
  private closeSent = false;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The TCP socket, for the gateway to cork around a loop turn's writes. */
    readonly socket: Socket,
    /** The subprotocol the node selected. */
    readonly protocol: string,
    private readonly maxPayload: number,
  ) {
    (socket as LegSocket)[LEG] = this;
    socket.on('data', onSocketData);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  /** The TCP connection ended. */
  socketClosed(): void {
    this.ended(1006, '');
  }

  /** Bytes written to the leg but not yet to the kernel. */
  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** Sends one message; `done` once it is written to the kernel. */
  send(data: Buffer | string, binary = false, done?: () => void): void {
    if (this.readyState !== LegState.Open) return;
    this.frame(binary ? Opcode.Binary : Opcode.Text, typeof data === 'string' ? Buffer.from(data) : data, done);
  }

  ping(): void {
    if (this.readyState === LegState.Open) this.frame(Opcode.Ping, Buffer.alloc(0));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Starts the closing handshake; the node's close frame (or 1 s) ends the leg. */
  close(code = 1000, reason = ''): void {
    if (this.readyState !== LegState.Open) return;
    this.readyState = LegState.Closing;
    this.sendClose(code, reason);
    this.closeTimer = setTimeout(() => this.socket.destroy(), 1000);
    this.closeTimer.unref?.();
  }

  /** Ends the leg at once, without a closing handshake. */
  terminate(): void {
    this.socket.destroy();
    this.ended(1006, '');
  }

  private sendClose(code: number, reason: string): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const text = Buffer.from(reason).subarray(0, 123);
    const payload = Buffer.allocUnsafe(2 + text.length);
    payload.writeUInt16BE(code, 0);
    text.copy(payload, 2);
    this.frame(Opcode.Close, payload);
  }

  private frame(opcode: number, payload: Buffer, done?: () => void): void {
    const length = payload.length;
    const size = length < 126 ? 2 : length < 65536 ? 4 : 10;
    const head = Buffer.allocUnsafe(size + 4);
    head[0] = 0x80 | opcode;
    if (size === 2) head[1] = 0x80 | length;
    else if (size === 4) {
      head[1] = 0x80 | 126;
      head.writeUInt16BE(length, 2);
    } else {
      head[1] = 0x80 | 127;
      head.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
      head.writeUInt32BE(length >>> 0, 6);
    }
    ZERO_MASK.copy(head, size);
    const socket = this.socket;
    if (length === 0) {
      socket.write(head, done);
      return;
    }
    socket.cork();
    socket.write(head);
    socket.write(payload, done);
    socket.uncork();
  }

  /** Reads bytes from the node (the socket's, and those that came with the handshake's answer). */
  feed(chunk: Buffer): void {
    const bytes = this.partial === undefined ? chunk : Buffer.concat([this.partial, chunk]);
    this.partial = undefined;
    let at = 0;
    while (this.readyState !== LegState.Closed) {
      if (bytes.length - at < 2) break;
      const first = bytes[at] as number;
      const second = bytes[at + 1] as number;
      let length = second & 0x7f;
      let start = at + 2;
      if (length === 126) {
        if (bytes.length - at < 4) break;
        length = bytes.readUInt16BE(at + 2);
        start = at + 4;
      } else if (length === 127) {
        if (bytes.length - at < 10) break;
        length = bytes.readUInt32BE(at + 2) * 2 ** 32 + bytes.readUInt32BE(at + 6);
        start = at + 10;
      }
      if ((second & 0x80) !== 0) return this.fail(1002, 'masked frame from the server');
      if ((first & 0x70) !== 0) return this.fail(1002, 'reserved bits set');
      if (length > this.maxPayload) return this.fail(1009, 'frame too large');
      if (bytes.length - start < length) break;
      const payload = bytes.subarray(start, start + length);
      at = start + length;
      this.frameRead((first & 0x80) !== 0, first & 0x0f, payload);
    }
    if (at < bytes.length && this.readyState !== LegState.Closed) this.partial = at === 0 ? bytes : bytes.subarray(at);
  }

  private frameRead(fin: boolean, opcode: number, payload: Buffer): void {
    switch (opcode) {
      case Opcode.Text:
      case Opcode.Binary:
        if (this.fragments !== undefined) return this.fail(1002, 'a new message inside a fragmented one');
        if (fin) return this.listener.legMessage(this, payload, opcode === Opcode.Binary);
        this.fragments = [payload];
        this.fragmentsBinary = opcode === Opcode.Binary;
        return;
      case Opcode.Continuation: {
        const fragments = this.fragments;
        if (fragments === undefined) return this.fail(1002, 'a continuation with nothing to continue');
        fragments.push(payload);
        let total = 0;
        for (const fragment of fragments) total += fragment.length;
        if (total > this.maxPayload) return this.fail(1009, 'message too large');
        if (!fin) return;
        this.fragments = undefined;
        return this.listener.legMessage(this, Buffer.concat(fragments, total), this.fragmentsBinary);
      }
      case Opcode.Ping:
        if (this.readyState === LegState.Open) this.frame(Opcode.Pong, Buffer.from(payload));
        return;
      case Opcode.Pong:
        return this.listener.legPong(this);
      case Opcode.Close: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        const reason = payload.length > 2 ? payload.toString('utf8', 2) : '';
        // Echo the close (RFC 6455 §5.5.1), then the node closes the TCP connection.
        if (code !== 1005) this.sendClose(code, '');
        else this.sendClose(1000, '');
        this.socket.end();
        return this.ended(code, reason);
      }
      default:
        return this.fail(1002, `unknown opcode ${opcode}`);
    }
  }

  private fail(code: number, reason: string): void {
    if (this.readyState === LegState.Open) this.sendClose(code, reason);
    this.socket.end();
    this.ended(code, reason);
  }

  private ended(code: number, reason: string): void {
    if (this.readyState === LegState.Closed) return;
    this.readyState = LegState.Closed;
    this.partial = undefined;
    this.fragments = undefined;
    clearTimeout(this.closeTimer);
    // After this turn's callbacks: a close read with the handshake's answer (a refusal's Goodbye
    // then close) reaches the link that takes the leg over in them, as `ws` reported it late too.
    setImmediate(() => this.listener.legClosed(this, code, reason));
  }
}

/** Splits an HTTP answer's head into its status and lower-cased headers. */
function parseHead(head: string): { status: number; headers: Record<string, string> } | undefined {
  const lines = head.split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (match === null) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return { status: Number(match[1]), headers };
}

/** Opens a backend leg to `url` (`ws://host:port/path`): the handshake, then an open leg or the node's answer. */
export function dialLeg(url: string, options: LegDialOptions): Promise<LegDialed> {
  return new Promise((resolve) => {
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return resolve({ kind: 'failed', error: `not a URL: ${url}` });
    }
    if (target.protocol !== 'ws:') return resolve({ kind: 'failed', error: `the gateway dials ws: URLs only, not ${target.protocol}` });
    const port = Number(target.port || 80);
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const key = randomBytes(16).toString('base64');
    const socket = connect({ host, port, noDelay: true });
    let settled = false;
    const settle = (result: LegDialed): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off('end', refuse);
      if (result.kind !== 'open') socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle({ kind: 'failed', error: `no handshake within ${options.timeoutMs} ms` }), options.timeoutMs);
    const onError = (error: Error): void => settle({ kind: 'failed', error: error.message });
    const onClose = (): void => settle({ kind: 'failed', error: 'the node closed the connection during the handshake' });
    socket.on('error', onError);
    socket.on('close', onClose);

    const lines = [`GET ${target.pathname}${target.search} HTTP/1.1`];
    const headers: Record<string, string> = { host: target.host, ...options.headers };
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    lines.push('upgrade: websocket', 'connection: Upgrade', `sec-websocket-key: ${key}`, 'sec-websocket-version: 13');
    if (options.protocols.length > 0) lines.push(`sec-websocket-protocol: ${options.protocols.join(', ')}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');

    let received: Buffer = Buffer.alloc(0);
    let answer: { status: number; headers: Record<string, string>; bodyAt: number } | undefined;
    const onData = (chunk: Buffer): void => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (answer === undefined) {
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) {
          if (received.length > MAX_HEAD_BYTES) settle({ kind: 'failed', error: 'the handshake answer is too long' });
          return;
        }
        const parsed = parseHead(received.toString('latin1', 0, end));
        if (parsed === undefined) return settle({ kind: 'failed', error: 'not an HTTP answer' });
        answer = { ...parsed, bodyAt: end + 4 };
        if (parsed.status === 101) {
          const accept = createHash('sha1').update(key + GUID).digest('base64');
          if (parsed.headers['sec-websocket-accept'] !== accept) return settle({ kind: 'failed', error: 'wrong Sec-WebSocket-Accept' });
          const selected = parsed.headers['sec-websocket-protocol'] ?? '';
          // The offered string, not the answer's copy: every leg of one offer holds the same one.
          const protocol = selected === '' ? '' : options.protocols.find((offered) => offered === selected);
          if (protocol === undefined) return settle({ kind: 'failed', error: `the node selected a subprotocol not offered: ${selected}` });
          const leg = new BackendLeg(socket, protocol, options.maxPayload);
          // What came with the answer is the leg's first bytes (the Welcome, often): the caller reads it once it listens.
          return settle({ kind: 'open', leg, early: received.subarray(answer.bodyAt) });
        }
      }
      const length = Number(answer.headers['content-length'] ?? NaN);
      const body = received.subarray(answer.bodyAt);
      if (Number.isFinite(length) ? body.length >= length : body.length >= MAX_HEAD_BYTES) refuse();
    };
    function refuse(): void {
      if (answer === undefined) return;
      const body = received.subarray(answer.bodyAt).toString('utf8').slice(0, MAX_HEAD_BYTES);
      settle({ kind: 'refused', status: answer.status, headers: answer.headers, body });
    }
    socket.on('data', onData);
    // A refusal without Content-Length ends with the connection.
    socket.once('end', refuse);
  });
}
