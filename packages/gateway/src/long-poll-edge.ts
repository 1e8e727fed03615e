/**
 * Long-poll at the edge: clients that cannot use WebSocket poll the gateway, which holds a
 * WebSocket leg to a backend for each of them, so backends may speak WebSocket only. The
 * endpoints are `@herald/long-poll`'s own (same requests, answers and errors as on a Herald
 * server); what they run on is a `Link` whose client leg is the long-poll connection.
 */
import { CloseCode, ErrorReason, PROTOCOL_NAME, SystemType, type HeraldSocket, type UpgradeRequest } from '@herald/core';
import { createLongPollEndpoints, type LongPollHandler, type LongPollRefusal, type LongPollServer, type SharedLongPollStore } from '@herald/long-poll';
import type { Dialed } from './dial.ts';
import { parseFrame } from './frames.ts';
import type { ClientSocket, Link } from './link.ts';

/** Options of the gateway's long-poll endpoints (`GatewayOptions.longPoll`). */
export interface GatewayLongPollOptions {
  /** Where the endpoints live (default `/lp`). */
  readonly path?: string;
  /** The pool long-poll clients go to, unless `route` names another (default: the pool of the first WebSocket path). */
  readonly pool?: string;
  /** How long an empty poll is held (default 25 s, and never above the keep-alive interval). */
  readonly pollTimeoutMs?: number;
  /**
   * A client silent this long (no poll, no send) has its backend leg closed with 4499 (default
   * the keep-alive's `intervalMs + graceMs`, which bounds it too when the store is in memory).
   */
  readonly idleTimeoutMs?: number;
  /** Frames per send (default 64). */
  readonly maxBatch?: number;
  /**
   * Long-poll connections shared by every gateway (`RedisLongPollStore` of `@herald/redis`): a
   * poll or send may reach any gateway, none sticky; the one holding the backend leg relays.
   * Default: in this gateway's memory, so a load balancer must send a `Herald-Session` to the
   * gateway that opened it (elsewhere it gets 404 and opens a new connection, resuming its session).
   */
  readonly store?: SharedLongPollStore;
}

/** A dial that got through. */
export type OpenDialed = Extract<Dialed, { kind: 'open' }>;

/** What the edge needs from its gateway. */
export interface Edge<Route> {
  readonly closing: () => boolean;
  /** Where the client goes (undefined: the route names no pool, 503). */
  route(request: UpgradeRequest, protocols: readonly string[]): Route | undefined;
  dial(route: Route, protocols: readonly string[]): Promise<Dialed | undefined>;
  openLink(dialed: OpenDialed, route: Route, protocols: readonly string[]): Link;
  readonly highWaterMark: number;
  readonly maxBackpressure: number;
  readonly maxFrameBytes: number;
  readonly keepAliveIntervalMs: number;
  readonly keepAliveGraceMs: number;
  readonly dialTimeoutMs: number;
}

/** A long-poll connection as a link's client leg: it writes into the poll buffer and is heard from at every poll. */
class LongPollClient implements ClientSocket {
  constructor(private readonly socket: HeraldSocket) {}

  cork(write: () => void): void {
    write();
  }

  send(frame: Buffer | string): number {
    // Long-poll legs are opened in herald.v1 only, so every frame is text.
    this.socket.send(typeof frame === 'string' ? frame : frame.toString('utf8'));
    return 1;
  }

  getBufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  end(code: number, reason: string): void {
    this.socket.close(code, reason);
  }

  close(): void {
    this.socket.close(CloseCode.ClientLost, 'client lost');
  }

  ping(): void {
    // A long-poll client answers no ping; its next poll says it is there.
  }
}

const REASON_OF_STATUS: Readonly<Record<number, ErrorReason>> = {
  400: ErrorReason.ValidationFailed,
  401: ErrorReason.InvalidToken,
  403: ErrorReason.Forbidden,
  429: ErrorReason.RateLimited,
  503: ErrorReason.ShuttingDown,
};

function refusal(status: number, error: ErrorReason, message: string, retryAfterMs?: number): LongPollRefusal {
  const headers: Record<string, string> = retryAfterMs === undefined ? {} : { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  return { ok: false, status, headers, body: retryAfterMs === undefined ? { error, message } : { error, message, retryAfterMs } };
}

/**
 * A backend refuses a browser's upgrade by accepting it and saying Goodbye with 4000 + status
 * and the refusal's `error` (PROTOCOL.md, Upgrade errors): for a long-poll client, that is the
 * open's HTTP answer, as a Herald server gives it. A server older than `error` in the Goodbye
 * gets the status's usual one.
 */
function refusalOfGoodbye(frame: Buffer): LongPollRefusal | undefined {
  const message = parseFrame(frame);
  if (message?.['type'] !== SystemType.Goodbye) return undefined;
  const body = message['body'] as { code?: unknown; reason?: unknown; retryAfterMs?: unknown; error?: unknown } | undefined;
  const code = typeof body?.code === 'number' ? body.code : 0;
  if (code < 4400 || code >= 4600) return undefined;
  const status = code - 4000;
  const retryAfterMs = typeof body?.retryAfterMs === 'number' ? body.retryAfterMs : undefined;
  const error = typeof body?.error === 'string' ? (body.error as ErrorReason) : (REASON_OF_STATUS[status] ?? ErrorReason.Internal);
  return refusal(status, error, typeof body?.reason === 'string' ? body.reason : 'refused', retryAfterMs);
}

/** The subprotocols a long-poll client's backend legs offer (one list for every session). */
const JSON_OFFER: readonly string[] = [PROTOCOL_NAME];
const NO_OFFER: readonly string[] = [];

/** The gateway's long-poll endpoints: each connection opens a backend leg and relays over it. */
export function longPollEdge<Route>(edge: Edge<Route>, options: GatewayLongPollOptions): LongPollHandler {
  type Accepted = { readonly ok: true; readonly dialed: OpenDialed; readonly route: Route; readonly protocols: readonly string[] };
  const server: LongPollServer<Accepted> = {
    maxMessageBytes: edge.maxFrameBytes,
    // Told when acknowledged frames bring the buffer under half the mark: when the link reads its backend again.
    highWaterMark: edge.highWaterMark / 2,
    async upgrade(request) {
      if (edge.closing()) return refusal(503, ErrorReason.ShuttingDown, 'gateway shutting down');
      // Long-poll is JSON (PROTOCOL.md §11): a binary encoding offered is not passed on.
      const offered = (request.headers.get('sec-websocket-protocol') ?? '').split(',').map((name) => name.trim());
      const protocols = offered.includes(PROTOCOL_NAME) ? JSON_OFFER : NO_OFFER;
      const route = edge.route(request, protocols);
      if (route === undefined) return refusal(503, ErrorReason.NoBackend, 'no backend available', 1000);
      const dialed = await edge.dial(route, protocols);
      if (dialed === undefined || dialed.kind === 'failed') return refusal(503, ErrorReason.NoBackend, 'no backend available', 1000);
      if (dialed.kind === 'refused') {
        let body: unknown;
        try {
          body = JSON.parse(dialed.body);
        } catch {
          body = { error: ErrorReason.Internal, message: `the backend refused with ${dialed.status}` };
        }
        const headers: Record<string, string> = {};
        if (dialed.headers['retry-after'] !== undefined) headers['retry-after'] = dialed.headers['retry-after'];
        return { ok: false, status: dialed.status, headers, body };
      }
      const first = await dialed.firstFrame(edge.dialTimeoutMs);
      const refused = first === undefined ? refusal(503, ErrorReason.NoBackend, 'the backend said nothing', 1000) : refusalOfGoodbye(first);
      if (refused !== undefined) {
        dialed.backend.terminate();
        return refused;
      }
      return { ok: true, dialed, route, protocols };
    },
    open(socket, { dialed, route, protocols }) {
      const link = edge.openLink(dialed, route, protocols);
      // Polls reaching other gateways are not heard here: the shared store's idle timeout is the keep-alive.
      if (options.store !== undefined) link.clientKeepAlive = false;
      // The Welcome, already relayed to the link, goes into the open's answer.
      link.attach(new LongPollClient(socket));
      return {
        receive: (frame) => link.fromClient(Buffer.from(frame), false),
        closed: (code) => link.clientClosed(code ?? 1006, ''),
        alive: () => {
          link.clientHeard = true;
        },
        drained: () => link.drained(),
      };
    },
  };
  return createLongPollEndpoints(server, {
    path: options.path ?? '/lp',
    pollTimeoutMs: Math.min(options.pollTimeoutMs ?? 25_000, edge.keepAliveIntervalMs),
    idleTimeoutMs: options.idleTimeoutMs ?? edge.keepAliveIntervalMs + edge.keepAliveGraceMs,
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    // The link closes a client that does not drain (4507) before the buffer itself would.
    maxBufferedBytes: edge.maxBackpressure + edge.maxFrameBytes,
    ...(options.store === undefined ? {} : { store: options.store }),
  });
}
