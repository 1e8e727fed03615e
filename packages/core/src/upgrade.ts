/**
 * The decision every adapter needs at upgrade time, made once here: which subprotocol,
 * whether the Origin is allowed, who the principal is (from `Authorization`), and whether
 * the client is a browser (told of a rejection by a close code) or a native client (told by
 * an HTTP status with a JSON body).
 */
import { ErrorReason, PROTOCOL_NAME, Status } from './constants.ts';
import type { ErrorBody } from './envelope.ts';

/** The parts of an upgrade request the core reads. `Headers` fits `headers`. */
export interface UpgradeRequest {
  readonly url: string;
  readonly headers: { get(name: string): string | null };
  /** The TCP peer's address; the client's unless the peer is a trusted proxy (`trustProxy`). */
  readonly remoteAddress?: string;
  /** The source address of a PROXY protocol header the peer sent, where the transport reads one (uWS). */
  readonly proxiedAddress?: string;
}

/** Who a session belongs to, as returned by the server's `authenticate` hook. */
export interface Principal {
  readonly userId: string;
  /** When the credential expires (epoch ms); the session is closed with 4401 then unless refreshed. */
  readonly expiresAt?: number;
  /** Anything the application wants to keep with the session (roles, tenant, …). */
  readonly data?: unknown;
}

export type ClientClass = 'browser' | 'native';

/** An accepted upgrade: hand it to `herald.open` once the socket is open. */
export interface UpgradeAccepted {
  readonly ok: true;
  readonly protocol: string;
  readonly client: ClientClass;
  readonly principal: Principal | null;
  /** The client's address (see `trustProxy`), when the adapter gave its peer's: the connection counts toward its `maxConnectionsPerAddress`. */
  readonly address?: string;
}

/**
 * A refused upgrade. Native clients get `status`, `headers` and `body` as the HTTP response;
 * browsers get the upgrade (with `protocol` if they offered one) and then `herald.reject`.
 */
export interface UpgradeRejected {
  readonly ok: false;
  readonly status: number;
  readonly body: ErrorBody;
  readonly client: ClientClass;
  readonly protocol: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
}

export type UpgradeDecision = UpgradeAccepted | UpgradeRejected;

/** The upgrade policy, from the server options. */
export interface UpgradePolicy {
  /**
   * Allowed browser origins (`'*'` for any), or a predicate. Without it, only same-origin
   * browsers on a loopback host (`localhost`, `127.0.0.1`, `[::1]`) are allowed: a same-origin
   * check on any other host is passed by a page whose DNS points at this server (DNS
   * rebinding). With `NODE_ENV=production` the server refuses to start without `origins`,
   * unless `development` is set (on Deno, where it is allowed to read `NODE_ENV`).
   *
   * @example
   * createHerald({ contract, handlers, origins: ['https://app.example', 'https://admin.example'] });
   */
  readonly origins?: readonly string[] | ((origin: string, request: UpgradeRequest) => boolean);
  /** Start without `origins` even with `NODE_ENV=production` (same-origin browsers on loopback hosts only). */
  readonly development?: boolean;
  /** How a client is classified; default: a request with an `Origin` header is a browser. */
  readonly classifyClient?: (request: UpgradeRequest) => ClientClass;
}

/** The subprotocols a `Sec-WebSocket-Protocol` header offers. */
export function offeredProtocols(header: string | null): string[] {
  return header === null ? [] : header.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
}

/** `localhost`, a name under `.localhost`, `127.0.0.0/8` or `[::1]`: names no other site can point at this server. */
function loopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
}

/** The default rule: the origin of the `Host` header, on a loopback host only (see `UpgradePolicy.origins`). */
function sameLoopbackOrigin(origin: string, request: UpgradeRequest): boolean {
  const host = request.headers.get('host');
  if (host === null) return false;
  try {
    const url = new URL(origin);
    return url.host === host && loopback(url.hostname);
  } catch {
    return false;
  }
}

interface RuntimeGlobals {
  readonly process?: { readonly env?: Record<string, string | undefined> };
  readonly Deno?: { readonly permissions?: { querySync?(descriptor: { name: 'env'; variable: string }): { readonly state: string } } };
}

/** True with `NODE_ENV=production`, read from the environment of Node, Bun or Deno. */
function inProduction(): boolean {
  const runtime = globalThis as RuntimeGlobals;
  // Deno would prompt for env access, or throw without it: read only what is granted already.
  const deno = runtime.Deno?.permissions?.querySync?.({ name: 'env', variable: 'NODE_ENV' });
  if (deno !== undefined && deno.state !== 'granted') return false;
  try {
    return runtime.process?.env?.['NODE_ENV'] === 'production';
  } catch {
    return false;
  }
}

/** Throws, at server start, when a production server has no Origin allow-list. */
export function assertOriginPolicy(policy: UpgradePolicy): void {
  if (policy.origins !== undefined || policy.development === true || !inProduction()) return;
  throw new Error(
    '@herald/core: NODE_ENV is production and no `origins` are set. Without an allow-list only same-origin ' +
      'browsers on loopback hosts are allowed, as a same-origin check elsewhere is passed by any page whose DNS ' +
      "points at this server (DNS rebinding). Set `origins` to your pages' origins, e.g. " +
      "origins: ['https://app.example'], or `development: true` to start anyway.",
  );
}

export function originAllowed(origin: string, request: UpgradeRequest, policy: UpgradePolicy): boolean {
  const rule = policy.origins;
  if (rule === undefined) return sameLoopbackOrigin(origin, request);
  if (typeof rule === 'function') return rule(origin, request);
  return rule.includes(origin) || rule.includes('*');
}

export function classifyClient(request: UpgradeRequest, policy: UpgradePolicy): ClientClass {
  if (policy.classifyClient !== undefined) return policy.classifyClient(request);
  return request.headers.get('origin') === null ? 'native' : 'browser';
}

/** A refusal in the shape adapters answer with. */
export function rejection(
  status: number,
  error: ErrorReason,
  message: string,
  client: ClientClass,
  protocol: string | undefined,
  retryAfterMs?: number,
): UpgradeRejected {
  if (retryAfterMs === undefined) return { ok: false, status, body: { error, message }, client, protocol, headers: {} };
  const headers = { 'retry-after': String(Math.ceil(retryAfterMs / 1000)) };
  return { ok: false, status, body: { error, message, retryAfterMs }, client, protocol, headers };
}

/** The longest bearer token an `Authorization` header may carry (PROTOCOL.md §8). */
export const MAX_TOKEN_LENGTH = 4096;

/**
 * The bearer token of an `Authorization` header: undefined without one, null when malformed,
 * that is anything but `Bearer <token>` with one token of visible ASCII characters (no spaces;
 * RFC 6750's token characters and more, since applications mint their own) of at most
 * `MAX_TOKEN_LENGTH`: no other scheme, no missing or second token.
 */
export function bearerToken(request: UpgradeRequest): string | null | undefined {
  const header = request.headers.get('authorization');
  if (header === null) return undefined;
  const match = /^Bearer +([\x21-\x7e]+) *$/i.exec(header);
  const token = match?.[1];
  return token === undefined || token.length > MAX_TOKEN_LENGTH ? null : token;
}

const WEBSOCKET_VERSION = '13';

/**
 * The refusal of a request that is not a WebSocket handshake RFC 6455 (§4.2.1) lets a server
 * complete, or undefined for one that is: `Sec-WebSocket-Key` must be 16 bytes in base64 (else
 * 400) and `Sec-WebSocket-Version` 13 (absent: 400; another version: 426). Adapters ask this
 * before `upgrade`, as WebSocket libraries differ here (`ws` also accepts version 8, uWS serves
 * a request without a key as plain HTTP). Always answered over HTTP: there is no upgrade to follow.
 */
export function handshakeRefusal(headers: UpgradeRequest['headers']): UpgradeRejected | undefined {
  const refuse = (status: number, message: string): UpgradeRejected => ({
    ok: false,
    status,
    body: { error: ErrorReason.ValidationFailed, message },
    client: 'native',
    protocol: undefined,
    headers: { 'sec-websocket-version': WEBSOCKET_VERSION },
  });
  const key = headers.get('sec-websocket-key')?.trim();
  if (key === undefined || !/^[A-Za-z0-9+/]{22}==$/.test(key)) return refuse(Status.BadRequest, 'Sec-WebSocket-Key must be 16 bytes in base64');
  const version = headers.get('sec-websocket-version')?.trim();
  if (version === undefined || !/^\d+$/.test(version)) return refuse(Status.BadRequest, `send Sec-WebSocket-Version: ${WEBSOCKET_VERSION}`);
  if (version !== WEBSOCKET_VERSION) return refuse(Status.UpgradeRequired, `this server speaks WebSocket version ${WEBSOCKET_VERSION}`);
  return undefined;
}

/** The checks that need no I/O: subprotocol and Origin. */
export function checkUpgrade(
  request: UpgradeRequest,
  policy: UpgradePolicy,
  supported: readonly string[] = [PROTOCOL_NAME],
): UpgradeRejected | { client: ClientClass; protocol: string } {
  const client = classifyClient(request, policy);
  const offered = offeredProtocols(request.headers.get('sec-websocket-protocol'));
  // The client lists the subprotocols it offers in its order of preference (RFC 6455 §4.1).
  const protocol = offered.find((name) => supported.includes(name));
  if (protocol === undefined) {
    const message = `offer the subprotocol ${PROTOCOL_NAME} in Sec-WebSocket-Protocol`;
    return rejection(Status.NotAcceptable, ErrorReason.UnsupportedSubprotocol, message, client, offered[0]);
  }
  const origin = request.headers.get('origin');
  if (origin !== null && !originAllowed(origin, request, policy)) {
    return rejection(Status.Forbidden, ErrorReason.OriginNotAllowed, "this page's origin is not allowed", client, protocol);
  }
  return { client, protocol };
}
