/**
 * Herald on Hono: the upgrade decision (subprotocol, Origin, bearer auth) before Hono's
 * runtime-specific `upgradeWebSocket` runs, native refusals as HTTP, browsers refused after the
 * upgrade with a close code, and the socket events wired to the core's connection.
 */
import { HEALTH_PATHS, handshakeRefusal, healthAnswer, nativeTopic, type Connection, type HealthProbe, type Herald, type UpgradeDecision, type UpgradeRejected } from '@herald/core';
import type { Hono, MiddlewareHandler } from 'hono';
import type { UpgradeWebSocket, WSContext, WSEvents, WSMessageReceive } from 'hono/ws';
import { HonoSocket, isBunServer } from './hono-socket.ts';
import { remoteAddress } from './remote-address.ts';

/** Hono's `upgradeWebSocket` of the runtime: from `hono/bun`, `hono/deno` or `@hono/node-server`. */
export type AnyUpgradeWebSocket = UpgradeWebSocket<any, any, any>;

/** A fetch handler to mount beside the WebSocket route, such as `@herald/long-poll`'s. */
export interface FetchMount {
  readonly path: string;
  fetch(request: Request, peer?: { readonly remoteAddress?: string | undefined }): Promise<Response>;
}

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  406: 'Not Acceptable',
  426: 'Upgrade Required',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * On `@hono/node-server` the upgrade request's socket is reachable as `env.incoming.socket`:
 * answering there keeps the JSON body (the adapter would send the status alone). Elsewhere the
 * returned `Response` is sent as it is.
 */
function refuseOnNodeSocket(env: unknown, status: number, headers: Record<string, string>, body: string): boolean {
  const socket = (env as { incoming?: { socket?: { end(data: string): void; destroyed?: boolean } } } | undefined)?.incoming?.socket;
  if (socket === undefined || typeof socket.end !== 'function' || socket.destroyed === true) return false;
  const lines = Object.entries({ ...headers, 'content-length': String(new TextEncoder().encode(body).length), connection: 'close' })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\n${lines}\r\n${body}`);
  return true;
}

/** A refusal as the HTTP answer to the upgrade request. */
function refuseOverHttp(env: unknown, refused: UpgradeRejected): Response {
  const body = JSON.stringify(refused.body);
  const headers = { ...refused.headers, 'content-type': 'application/json' };
  // Node's adapter answers a refused upgrade with an empty body; write it on the socket instead.
  if (refuseOnNodeSocket(env, refused.status, headers, body)) return new Response(null, { status: refused.status });
  return new Response(body, { status: refused.status, headers });
}

/**
 * The WebSocket route handler for a Herald server.
 *
 * @example
 * import { upgradeWebSocket, websocket } from 'hono/bun';
 * app.get('/ws', heraldWebSocket(herald, upgradeWebSocket));
 * Bun.serve({ fetch: app.fetch, websocket });
 */
export function heraldWebSocket(herald: Herald<any>, upgradeWebSocket: AnyUpgradeWebSocket): MiddlewareHandler {
  let nativeTopics = false;
  return async (c, next) => {
    // On Bun the server publishes to a topic in one call: every subscriber gets the same bytes.
    const env: unknown = c.env;
    if (!nativeTopics && isBunServer(env)) {
      nativeTopics = true;
      const encoders = [...herald.encoders.values()];
      herald.useNativePublish((topic, frame) => {
        env.publish(topic, frame);
        // Encoded only for an encoding some socket subscribed in: once per publication, not per subscriber.
        for (const encoder of encoders) {
          const binaryTopic = nativeTopic(encoder.codec.protocol, topic);
          if ((env.subscriberCount?.(binaryTopic) ?? 1) > 0) env.publish(binaryTopic, encoder.encodeShared(frame));
        }
      });
    }
    if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
      return c.json({ error: 'upgrade_required', message: 'this endpoint speaks WebSocket (herald.v1)' }, 426);
    }
    // Checked here, not left to the runtime: Node's `ws` also completes version 8 handshakes.
    const invalid = handshakeRefusal(c.req.raw.headers);
    if (invalid !== undefined) return refuseOverHttp(c.env, invalid);
    const peer = remoteAddress(c.env, c.req.raw);
    const request = { url: c.req.url, headers: c.req.raw.headers };
    const decision: UpgradeDecision = await herald.upgrade(peer === undefined ? request : { ...request, remoteAddress: peer });
    if (!decision.ok && decision.client === 'native') return refuseOverHttp(c.env, decision);
    const upgrade = upgradeWebSocket((): WSEvents => {
      let connection: Connection | undefined;
      return {
        onOpen: (_event: Event, ws: WSContext) => {
          const binaryProtocol = decision.ok && herald.encoders.has(decision.protocol) ? decision.protocol : undefined;
          const socket = new HonoSocket(ws, nativeTopics, binaryProtocol);
          if (!decision.ok) return herald.reject(socket, decision);
          connection = herald.open(socket, decision);
          socket.observePongs(connection);
        },
        onMessage: (event: MessageEvent<WSMessageReceive>) => {
          const data = event.data;
          if (typeof data === 'string' || ArrayBuffer.isView(data) || data instanceof ArrayBuffer) connection?.receive(data);
          // A Blob despite `binaryType` (a runtime that ignores it): answered as an undecodable frame, never reordered.
          else connection?.receive(new Uint8Array(0));
        },
        onClose: (event: CloseEvent) => connection?.closed(event.code),
        onError: () => connection?.closed(1006),
      };
    });
    return upgrade(c, next);
  };
}

/**
 * Mounts Herald on a Hono app: the WebSocket route, `/healthz` and `/readyz` (unless `health`
 * is false; `herald.health()` decides readiness) and, when given, the long-poll endpoints.
 *
 * @example
 * const longPoll = createLongPollHandler(herald);
 * mountHerald(app, herald, { upgradeWebSocket, longPoll });
 */
export function mountHerald(
  app: Hono<any, any, any>,
  herald: Herald<any>,
  options: { readonly upgradeWebSocket: AnyUpgradeWebSocket; readonly path?: string; readonly longPoll?: FetchMount; readonly health?: boolean },
): void {
  app.get(options.path ?? '/ws', heraldWebSocket(herald, options.upgradeWebSocket));
  if (options.health !== false) {
    for (const probe of Object.keys(HEALTH_PATHS) as HealthProbe[]) {
      // Hono answers HEAD from the GET route, without the body.
      app.get(HEALTH_PATHS[probe], (c) => {
        const answer = healthAnswer(probe, () => herald.health());
        c.header('cache-control', 'no-store');
        return c.body(answer.body, answer.status, { 'content-type': 'application/json' });
      });
    }
  }
  const longPoll = options.longPoll;
  if (longPoll !== undefined) {
    app.all(longPoll.path, (c) => longPoll.fetch(c.req.raw, { remoteAddress: remoteAddress(c.env, c.req.raw) }));
    app.all(`${longPoll.path}/*`, (c) => longPoll.fetch(c.req.raw, { remoteAddress: remoteAddress(c.env, c.req.raw) }));
  }
}
