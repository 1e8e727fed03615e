/**
 * Bytes on a raw TCP connection, for what no well-behaved client sends: malformed upgrades,
 * unmasked frames, HTTP/1.0, a request after a HEAD on one connection. `rawExchange` writes the
 * bytes and collects everything the server sends until it closes the connection or `until` holds.
 */
import { connect, type Socket } from 'node:net';

export interface RawExchangeOptions {
  /** Resolves as soon as this holds for what has arrived (default: only when the server closes). */
  readonly until?: (received: Buffer) => boolean;
  /** Fails after this long without `until` holding or the server closing (default 10 s). */
  readonly timeoutMs?: number;
}

export interface RawExchange {
  /** Everything received so far. */
  readonly received: Buffer;
  /** True once the server closed (FIN or reset). */
  readonly closed: boolean;
  /** `received` as latin1 text: status lines and headers readable, bytes preserved. */
  readonly text: string;
}

/** A raw TCP connection to a server: write bytes, wait for what comes back. */
export class RawConnection implements RawExchange {
  received: Buffer = Buffer.alloc(0);
  closed = false;
  private readonly socket: Socket;
  private changed: () => void = () => {};

  constructor(port: number, host = '127.0.0.1') {
    this.socket = connect(port, host);
    this.socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.changed();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.changed();
    });
  }

  get text(): string {
    return this.received.toString('latin1');
  }

  write(bytes: string | Uint8Array): this {
    this.socket.write(bytes);
    return this;
  }

  /** Resolves once `until` holds for what has arrived, or the server has closed. */
  wait(options: RawExchangeOptions = {}): Promise<this> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.changed = () => {};
        reject(new Error(`raw connection: no close and no match within ${timeoutMs} ms; received ${JSON.stringify(this.text)}`));
      }, timeoutMs);
      this.changed = () => {
        if (!this.closed && options.until?.(this.received) !== true) return;
        clearTimeout(timer);
        this.changed = () => {};
        resolve(this);
      };
      this.changed();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Connects to `127.0.0.1:port`, writes `bytes` and collects the answer, then disconnects.
 *
 * @example
 * const { text } = await rawExchange(port, 'GET /health HTTP/1.0\r\n\r\n');
 * expect(text).toMatch(/^HTTP\/1\.[01] 200 /);
 */
export async function rawExchange(port: number, bytes: string | Uint8Array, options: RawExchangeOptions = {}): Promise<RawExchange> {
  const connection = new RawConnection(port).write(bytes);
  try {
    await connection.wait(options);
    return { received: connection.received, closed: connection.closed, text: connection.text };
  } finally {
    connection.close();
  }
}

/** The bytes of a WebSocket upgrade request for `path`, with `headers` (an entry set to `null` is left out). */
export function upgradeRequest(path: string, host: string, headers: Readonly<Record<string, string | null>> = {}): string {
  const all: Record<string, string | null> = {
    host,
    upgrade: 'websocket',
    connection: 'Upgrade',
    'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'sec-websocket-version': '13',
    'sec-websocket-protocol': 'herald.v1',
    ...headers,
  };
  let text = `GET ${path} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(all)) if (value !== null) text += `${name}: ${value}\r\n`;
  return `${text}\r\n`;
}

/** A single-frame client message: masked unless `mask` is false (which RFC 6455 forbids). */
export function clientFrame(opcode: number, payload: Uint8Array, mask = true): Buffer {
  if (payload.length > 125) throw new RangeError('clientFrame: payloads up to 125 bytes');
  const key = [0x37, 0xfa, 0x21, 0x3d];
  const head = Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | payload.length, ...(mask ? key : [])]);
  const body = Buffer.from(payload.map((byte, index) => (mask ? byte ^ (key[index % 4] as number) : byte)));
  return Buffer.concat([head, body]);
}

export interface RawAnswer {
  readonly status: number;
  /** By lower-case name. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The complete HTTP answers in `text`, read as a client on a keep-alive connection reads them:
 * bodies by `Content-Length` or chunked, none for the answers whose index is in `headOnly`
 * (answers to HEAD). Bytes where an answer should start but does not are `stray`: an answer
 * that carried more than it said.
 */
export function parseAnswers(text: string, headOnly: ReadonlySet<number> = new Set()): { answers: RawAnswer[]; stray: string } {
  const answers: RawAnswer[] = [];
  let stray = '';
  let at = 0;
  while (at < text.length) {
    const start = text.indexOf('HTTP/1.', at);
    if (start === -1) break;
    stray += text.slice(at, start);
    const end = text.indexOf('\r\n\r\n', start);
    if (end === -1) break;
    const [statusLine = '', ...lines] = text.slice(start, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let bodyEnd = end + 4;
    let body = '';
    if (!headOnly.has(answers.length)) {
      if (headers['transfer-encoding'] === 'chunked') {
        for (;;) {
          const sizeEnd = text.indexOf('\r\n', bodyEnd);
          if (sizeEnd === -1) return { answers, stray };
          const size = parseInt(text.slice(bodyEnd, sizeEnd), 16);
          if (text.length < sizeEnd + 2 + size + 2) return { answers, stray };
          body += text.slice(sizeEnd + 2, sizeEnd + 2 + size);
          bodyEnd = sizeEnd + 2 + size + 2;
          if (size === 0) break;
        }
      } else {
        const length = Number(headers['content-length'] ?? '0');
        if (text.length < bodyEnd + length) break;
        body = text.slice(bodyEnd, bodyEnd + length);
        bodyEnd += length;
      }
    }
    answers.push({ status: Number(statusLine.split(' ')[1]), headers, body });
    at = bodyEnd;
  }
  return { answers, stray };
}

export interface RawFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** The complete server frames (unmasked, as servers send them) in `data` from `start`. */
export function serverFrames(data: Buffer, start = 0): RawFrame[] {
  const frames: RawFrame[] = [];
  let at = start;
  while (at + 2 <= data.length) {
    let length = (data[at + 1] as number) & 0x7f;
    let head = 2;
    if (length === 126) {
      if (at + 4 > data.length) break;
      length = data.readUInt16BE(at + 2);
      head = 4;
    } else if (length === 127) {
      if (at + 10 > data.length) break;
      length = Number(data.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (at + head + length > data.length) break;
    frames.push({ opcode: (data[at] as number) & 0x0f, payload: data.subarray(at + head, at + head + length) });
    at += head + length;
  }
  return frames;
}

/** The close code of the first close frame in `frames`, if there is one. */
export function closeCode(frames: readonly RawFrame[]): number | undefined {
  const close = frames.find((frame) => frame.opcode === 0x8);
  return close === undefined || close.payload.length < 2 ? undefined : close.payload.readUInt16BE(0);
}
