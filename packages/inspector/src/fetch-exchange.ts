/** A fetch `Request` as an `HttpExchange`, so that one handler serves Hono (any runtime) and uWS alike. */
import { readRequestBody, type HttpExchange } from '@herald/core';

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
    readRequestBody(this.request, limit).then(done, () => done(undefined));
  }

  onAbort(listener: () => void): void {
    this.request.signal.addEventListener('abort', listener, { once: true });
  }

  respond(status: number, headers: Readonly<Record<string, string>>, body: string): void {
    this.resolve(new Response(body === '' ? null : body, { status, headers }));
  }
}
