/** A fetch `Request` as an `HttpExchange`, so that one handler serves Hono (any runtime) and uWS alike. */
import type { HttpExchange } from '@herald/core';

/** The body as text, or undefined once it passes `limit` bytes (the rest is not read). */
async function readLimited(request: Request, limit: number): Promise<string | undefined> {
  if (Number(request.headers.get('content-length') ?? '0') > limit) return undefined;
  const reader = request.body?.getReader();
  if (reader === undefined) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

export class FetchExchange implements HttpExchange {
  readonly method: string;
  readonly path: string;
  readonly query: string;

  constructor(
    private readonly request: Request,
    private readonly resolve: (response: Response) => void,
  ) {
    const url = new URL(request.url);
    this.method = request.method;
    this.path = url.pathname;
    this.query = url.search.slice(1);
  }

  header(name: string): string | null {
    return this.request.headers.get(name);
  }

  readBody(limit: number, done: (text: string | undefined) => void): void {
    readLimited(this.request, limit).then(done, () => done(undefined));
  }

  onAbort(listener: () => void): void {
    this.request.signal.addEventListener('abort', listener, { once: true });
  }

  respond(status: number, headers: Readonly<Record<string, string>>, body: string): void {
    this.resolve(new Response(body === '' ? null : body, { status, headers }));
  }
}
