/**
 * A WebSocket client on a raw `net` socket, for the load generator: the HTTP upgrade written
 * by hand, server frames parsed in place (no copy, no string unless the caller asks for one),
 * RFC pings answered. Callers write pre-built masked frames with `write`, batched per read.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { CLOSE_FRAME, maskedFrame } from './frames.ts';

export interface WsOptions {
  readonly host?: string;
  readonly port: number;
  readonly path?: string;
  readonly protocol?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Source address (several are used beyond ~28k connections to one port). */
  readonly localAddress?: string;
}

/**
 * Called for every complete message: the payload is `buf[start, end)` and valid only during the
 * call. Messages arriving in one read are delivered in one go, then `onBatchEnd` runs, which is
 * where callers write the frames the batch asked for.
 */
export interface WsHandler {
  onMessage(ws: RawWs, buf: Buffer, start: number, end: number): void;
  onBatchEnd?(ws: RawWs): void;
  onClose?(ws: RawWs): void;
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const HEADER_END = Buffer.from('\r\n\r\n');

export class RawWs {
  readonly socket: Socket;
  open = false;
  closed = false;
  /** Free for the caller: counters per connection. */
  index = 0;
  /** Frames sent so far by the load (the next request id). */
  sent = 0;
  /** Frames the current read asked for, written at the end of the batch. */
  queued = 0;
  /** Private notifications received (the ack cursor). */
  seq = 0;
  /** Herald responses received on this connection (what its requests confirm with `resp`). */
  responses = 0;
  /** The code of the server's close frame (0 before one, 1005 when it had none). */
  closeCode = 0;
  private pending: Buffer | null = null;
  private readonly opened: Promise<void>;
  private readonly startedAt = performance.now();

  constructor(
    options: WsOptions,
    public handler: WsHandler,
  ) {
    const host = options.host ?? '127.0.0.1';
    const socket = (this.socket = netConnect({ host, port: options.port, ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }) }));
    socket.setNoDelay(true);
    const lines = [
      `GET ${options.path ?? '/'} HTTP/1.1`,
      `Host: ${host}:${options.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      `Sec-WebSocket-Key: ${KEY}`,
      'Sec-WebSocket-Version: 13',
    ];
    if (options.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${options.protocol}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) lines.push(`${name}: ${value}`);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
    this.opened = new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        if (!this.open) reject(error);
      };
      socket.once('error', fail);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.closed = true;
        if (!this.open) reject(new Error(`closed during the upgrade, ${Math.round(performance.now() - this.startedAt)} ms after the connect`));
        this.handler.onClose?.(this);
      });
      socket.on('data', (chunk: Buffer) => {
        if (this.open) return this.receive(chunk);
        const buf = this.pending === null ? chunk : Buffer.concat([this.pending, chunk]);
        const end = buf.indexOf(HEADER_END);
        if (end < 0) {
          this.pending = buf;
          return;
        }
        const status = buf.toString('latin1', 0, Math.min(end, 200));
        this.pending = null;
        if (!status.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          reject(new Error(`upgrade refused: ${status.split('\r\n')[0]}`));
          return;
        }
        this.open = true;
        resolve();
        if (end + 4 < buf.length) this.receive(buf.subarray(end + 4));
      });
    });
  }

  ready(): Promise<this> {
    return this.opened.then(() => this);
  }

  write(data: Buffer | string): void {
    if (!this.closed) this.socket.write(data);
  }

  /** Sends a text frame built on the spot (setup and control paths, not the hot path). */
  sendText(text: string): void {
    this.write(maskedFrame(text));
  }

  /**
   * Stops reading (a slow consumer): what the server sends fills the kernel's socket buffers,
   * then the server's own, until `resume`. A message split across reads waits for the rest.
   */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Ends the session cleanly: close frame 1000, then the TCP close. */
  close(): void {
    if (this.closed) return;
    this.socket.end(CLOSE_FRAME);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private receive(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const length = buf.length;
    let i = 0;
    while (i + 2 <= length) {
      const b0 = buf[i] as number;
      let size = (buf[i + 1] as number) & 0x7f;
      let head = 2;
      if (size === 126) {
        if (i + 4 > length) break;
        size = buf.readUInt16BE(i + 2);
        head = 4;
      } else if (size === 127) {
        if (i + 10 > length) break;
        size = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6);
        head = 10;
      }
      const end = i + head + size;
      if (end > length) break;
      const opcode = b0 & 0x0f;
      if (opcode <= 2) {
        // Text, binary or the last continuation: a message (fragments before FIN are skipped).
        if ((b0 & 0x80) !== 0) this.handler.onMessage(this, buf, i + head, end);
      } else if (opcode === 9) {
        this.write(maskedFrame(buf.subarray(i + head, end), 10));
      } else if (opcode === 8) {
        this.closeCode = size >= 2 ? buf.readUInt16BE(i + head) : 1005;
        this.socket.end();
      }
      i = end;
    }
    if (i < length) this.pending = buf.subarray(i);
    this.handler.onBatchEnd?.(this);
  }
}

/** Source address for connection `i` of `total`: one address up to 25,000, then 127.0.0.2, .3, … */
export function sourceAddress(i: number, total: number): string | undefined {
  if (total <= 25_000) return undefined;
  return `127.0.0.${2 + (i % Math.ceil(total / 20_000))}`;
}
