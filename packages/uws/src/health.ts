/**
 * `/healthz` and `/readyz` on the uWS app, and a health listener of Node's own for checkers
 * that speak HTTP/1.0 (haproxy's default `option httpchk`), which uWS leaves unanswered.
 */
import { createServer, type Server } from 'node:http';
import { HEALTH_PATHS, healthAnswer, type HealthAnswer, type HealthProbe, type Herald } from '@herald/core';
import type { HttpResponse, TemplatedApp } from 'uWebSockets.js';

function write(res: HttpResponse, answer: HealthAnswer, head: boolean): void {
  res.cork(() => {
    res.writeStatus(answer.status === 200 ? '200 OK' : '503 Service Unavailable').writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store');
    // HEAD: the length of the body a GET would get, and no body (RFC 9110 §9.3.2). uWS sends
    // `end`'s body even to HEAD, and this build's `endWithoutBody(length)` does not count as an answer.
    if (head) res.writeHeader('content-length', String(Buffer.byteLength(answer.body))).endWithoutBody();
    else res.end(answer.body);
  });
}

/** Answers `/healthz` (alive) and `/readyz` (ready for traffic) on `app`. */
export function attachHealth(app: TemplatedApp, herald: Herald<any>): void {
  for (const probe of Object.keys(HEALTH_PATHS) as HealthProbe[]) {
    app.any(HEALTH_PATHS[probe], (res, req) => write(res, healthAnswer(probe, () => herald.health()), req.getMethod() === 'head'));
  }
}

/** Options of the health listener (`serveHerald`'s `health`). */
export interface HealthListenerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default: the server's host. */
  readonly host?: string;
}

/**
 * A plain Node HTTP listener that answers `/healthz` with liveness and every other path
 * (haproxy's default check is `OPTIONS / HTTP/1.0`) with readiness, over HTTP/1.0 and 1.1.
 */
export async function listenHealth(herald: Herald<any>, host: string, port: number): Promise<Server> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    const answer = healthAnswer(path === HEALTH_PATHS.live ? 'live' : 'ready', () => herald.health());
    response.writeHead(answer.status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(answer.body) });
    response.end(request.method === 'HEAD' ? undefined : answer.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
