/**
 * A keep-alive HTTP/1.1 client on a raw `net` socket, one request at a time, for the
 * long-poll scenario: requests are strings written whole, responses are parsed by hand
 * (Content-Length or chunked).
 */
import { connect as netConnect, type Socket } from 'node:net';

export interface HttpResponse {
  readonly status: number;
  /** The header block as received. */
  readonly headers: string;
  readonly body: Buffer;
}

const HEADER_END = Buffer.from('\r\n\r\n');
const CRLF = Buffer.from('\r\n');

export class HttpConnection {
  /** Requests answered, over every connection (for requests per second). */
  static answered = 0;

  private readonly socket: Socket;
  private buf: Buffer | null = null;
  private waiting: { resolve: (response: HttpResponse) => void; reject: (error: Error) => void } | null = null;
  closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    const socket = (this.socket = netConnect({ host, port }));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.reject(new Error('connection closed'));
    });
  }

  /** Header lines (`name: value\r\n`…) rendered once, for headers a client sends on every request. */
  static headerLines(headers: Readonly<Record<string, string>>): string {
    let lines = '';
    for (const name in headers) lines += `${name}: ${headers[name]}\r\n`;
    return lines;
  }

  /**
   * Sends one request and resolves with the response; `headers` is an object or lines from
   * `headerLines`. The request leaves as one string in one write.
   */
  request(method: string, path: string, headers: Readonly<Record<string, string>> | string, body?: string): Promise<HttpResponse> {
    if (this.waiting !== null) return Promise.reject(new Error('one request at a time'));
    if (this.closed) return Promise.reject(new Error('connection closed'));
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\n` + (typeof headers === 'string' ? headers : HttpConnection.headerLines(headers));
    if (body !== undefined || method === 'POST') head += `content-length: ${body === undefined ? 0 : Buffer.byteLength(body)}\r\n`;
    head += '\r\n';
    return new Promise<HttpResponse>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(body === undefined ? head : head + body);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    const buf = this.buf;
    if (buf === null || this.waiting === null) return;
    const end = buf.indexOf(HEADER_END);
    if (end < 0) return;
    const headers = buf.toString('latin1', 0, end);
    const status = Number(headers.slice(9, 12));
    let bodyStart = end + 4;
    let body: Buffer;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(headers);
    if (length !== null) {
      const size = Number(length[1]);
      if (buf.length < bodyStart + size) return;
      body = buf.subarray(bodyStart, bodyStart + size);
      bodyStart += size;
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(headers)) {
      const parts: Buffer[] = [];
      let at = bodyStart;
      for (;;) {
        const line = buf.indexOf(CRLF, at);
        if (line < 0) return;
        const size = parseInt(buf.toString('latin1', at, line), 16);
        if (buf.length < line + 2 + size + 2) return;
        if (size === 0) {
          at = line + 4;
          break;
        }
        parts.push(buf.subarray(line + 2, line + 2 + size));
        at = line + 2 + size + 2;
      }
      body = Buffer.concat(parts);
      bodyStart = at;
    } else {
      body = Buffer.alloc(0);
    }
    this.buf = bodyStart < buf.length ? buf.subarray(bodyStart) : null;
    const waiting = this.waiting;
    this.waiting = null;
    HttpConnection.answered++;
    waiting.resolve({ status, headers, body });
  }
}
