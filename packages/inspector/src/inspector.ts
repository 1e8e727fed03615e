/**
 * `createInspector`: the `/inspector` page and its JSON API as one `HttpExchange` handler (uWS's
 * `attachHttp`) that is also a fetch handler (Hono, any runtime). The page is static and holds
 * no data; everything under `api/` asks for the inspector's own bearer token. Actions are
 * refused unless enabled, and message bodies are hidden unless shown on purpose.
 */
import type { Herald, HttpExchange, InspectionRelay, InspectionSnapshot } from '@herald/core';
import { BearerCredential } from './credential.ts';
import { FetchExchange } from './fetch-exchange.ts';
import { FrameTails, type TailPage } from './frame-tails.ts';
import { INSPECTOR_PAGE, INSPECTOR_SCRIPT, INSPECTOR_STYLE } from './page/assets.ts';

/** Options of `createInspector`. */
export interface InspectorOptions {
  /**
   * The inspector's credential: clients send `Authorization: Bearer <token>` (the page asks for
   * it and keeps it for the tab). At least 16 characters; never put it in a URL.
   */
  readonly token: string;
  /** Where the page is served (default `/inspector`); the API is under `<path>/api/`. */
  readonly path?: string;
  /** Allow the actions (disconnect a session, unsubscribe it from a topic); default false: read-only. */
  readonly actions?: boolean;
  /** Show message bodies in the frame tail; default false: bodies are replaced by their size. Tokens are never shown. */
  readonly showBodies?: boolean;
  /**
   * Every node of a cluster on one page: each reports its snapshot through the relay
   * (`RedisInspectionRelay` from `@herald/redis`), and actions reach the node holding the session.
   */
  readonly relay?: InspectionRelay;
  /** This node's name on the page (default: the relay's `nodeId`, else `local`). */
  readonly node?: string;
  /** How long a session's frames stay tapped after the page last asked for them (default 30 s). */
  readonly tailIdleMs?: number;
  /** The most sessions a node lists (default 500); the page says how many there are in all. */
  readonly maxSessions?: number;
}

/** One node's part of the page. */
export interface NodeReport {
  readonly node: string;
  readonly snapshot: InspectionSnapshot;
}

/** What `GET <path>/api/snapshot` answers. */
export interface InspectorSnapshot {
  /** The node that answered. */
  readonly node: string;
  readonly actions: boolean;
  readonly showBodies: boolean;
  /** This node first, then every other node that reported recently. */
  readonly nodes: readonly NodeReport[];
  /** Why the other nodes are missing: the relay failed (Redis unreachable, say). */
  readonly relayError?: string;
}

/** The inspector, mounted on a server's routes. */
export interface InspectorHandler {
  readonly path: string;
  /** Answers a request under `path`, from a server's own request objects (uWS `attachHttp`). */
  handle(exchange: HttpExchange): void;
  /** The same, for fetch-style servers (Hono). */
  fetch(request: Request): Promise<Response>;
  /** Stops the frame taps and the relay. */
  close(): Promise<void>;
}

/** What nodes ask each other through the relay. */
type RelayRequest =
  | { readonly action: 'disconnect'; readonly session: string }
  | { readonly action: 'unsubscribe'; readonly session: string; readonly topic: string }
  | { readonly action: 'frames'; readonly session: string; readonly after: number };

/** A relayed answer: the HTTP status the asking node gives, and its JSON body. */
interface RelayAnswer {
  readonly status: number;
  readonly body: unknown;
}

const JSON_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};
const UNAUTHORIZED_HEADERS: Readonly<Record<string, string>> = { ...JSON_HEADERS, 'www-authenticate': 'Bearer realm="herald-inspector"' };
const PAGE_CSP = "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const asset = (type: string): Readonly<Record<string, string>> => ({
  'content-type': type,
  'cache-control': 'no-cache',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': PAGE_CSP,
});
const PAGE_HEADERS = asset('text/html; charset=utf-8');
const SCRIPT_HEADERS = asset('text/javascript; charset=utf-8');
const STYLE_HEADERS = asset('text/css; charset=utf-8');
const MAX_ACTION_BYTES = 4096;
const SWEEP_MS = 5000;

function answer(exchange: HttpExchange, status: number, body: unknown): void {
  exchange.respond(status, status === 401 ? UNAUTHORIZED_HEADERS : JSON_HEADERS, JSON.stringify(body));
}

function refusal(status: number, error: string, message: string): RelayAnswer {
  return { status, body: { error, message } };
}

function isRelayRequest(value: unknown): value is RelayRequest {
  if (typeof value !== 'object' || value === null) return false;
  const request = value as Record<string, unknown>;
  if (typeof request['session'] !== 'string') return false;
  switch (request['action']) {
    case 'disconnect':
      return true;
    case 'unsubscribe':
      return typeof request['topic'] === 'string';
    case 'frames':
      return typeof request['after'] === 'number';
    default:
      return false;
  }
}

/**
 * The inspector of a Herald server: mount it on uWS with `attachHttp` (both `path` and
 * `path/*`), on Hono with `app.all`. Off unless created, and then behind its token.
 *
 * @example
 * const inspector = createInspector(herald, { token: process.env.INSPECTOR_TOKEN!, actions: true });
 * // uWS
 * attachHttp(app, inspector.path, inspector.handle);
 * attachHttp(app, `${inspector.path}/*`, inspector.handle);
 * // Hono
 * honoApp.all(inspector.path, (c) => inspector.fetch(c.req.raw));
 * honoApp.all(`${inspector.path}/*`, (c) => inspector.fetch(c.req.raw));
 */
export function createInspector(herald: Herald<any>, options: InspectorOptions): InspectorHandler {
  const credential = new BearerCredential(options.token);
  const path = (options.path ?? '/inspector').replace(/\/$/, '');
  const actions = options.actions === true;
  const showBodies = options.showBodies === true;
  const relay = options.relay;
  const node = relay?.nodeId ?? options.node ?? 'local';
  const inspection = herald.inspection();
  const limit = { maxSessions: options.maxSessions ?? 500 };
  const tails = new FrameTails(inspection, showBodies, options.tailIdleMs ?? 30_000);
  let sweep: ReturnType<typeof setInterval> | undefined = setInterval(() => tails.sweep(Date.now()), SWEEP_MS);
  (sweep as { unref?: () => void }).unref?.();

  /** Acts on a session this node holds; actions refused here are refused whoever asks. */
  function act(request: RelayRequest): RelayAnswer {
    if (request.action === 'frames') {
      const page: TailPage | undefined = tails.read(request.session, request.after, Date.now());
      return page === undefined ? refusal(404, 'unknown_session', `no session ${request.session} on ${node}`) : { status: 200, body: page };
    }
    if (!actions) return refusal(403, 'forbidden', 'the inspector is read-only (actions: false)');
    const done =
      request.action === 'disconnect' ? inspection.disconnect(request.session) : inspection.unsubscribe(request.session, request.topic);
    if (!done) return refusal(404, 'unknown_session', `no such session${request.action === 'unsubscribe' ? ' or subscription' : ''} on ${node}`);
    return { status: 200, body: { ok: true } };
  }

  relay?.start({
    report: () => inspection.snapshot(limit),
    answer: (request) => (isRelayRequest(request) ? act(request) : refusal(400, 'invalid_request', 'not an inspector request')),
  });

  /** Acts here, or asks the node that holds the session. */
  async function dispatch(target: string, request: RelayRequest): Promise<RelayAnswer> {
    if (target === node) return act(request);
    if (relay === undefined) return refusal(404, 'unknown_node', `no node ${target}`);
    if (request.action !== 'frames' && !actions) return refusal(403, 'forbidden', 'the inspector is read-only (actions: false)');
    try {
      return (await relay.ask(target, request)) as RelayAnswer;
    } catch (error) {
      return refusal(502, 'node_unreachable', error instanceof Error ? error.message : String(error));
    }
  }

  /** This node's snapshot, and the others' when the relay answers: a Redis that is away does not hide this node. */
  async function snapshot(): Promise<InspectorSnapshot> {
    const nodes: NodeReport[] = [{ node, snapshot: inspection.snapshot(limit) }];
    if (relay === undefined) return { node, actions, showBodies, nodes };
    try {
      for (const [other, report] of await relay.reports()) if (other !== node) nodes.push({ node: other, snapshot: report as InspectionSnapshot });
    } catch (error) {
      return { node, actions, showBodies, nodes, relayError: error instanceof Error ? error.message : String(error) };
    }
    return { node, actions, showBodies, nodes };
  }

  function api(exchange: HttpExchange, route: string, authorized: boolean): void {
    const method = exchange.method;
    if (route === '/snapshot' && method === 'GET') {
      if (!authorized) return answer(exchange, 401, { error: 'unauthorized', message: 'send Authorization: Bearer <inspector token>' });
      void snapshot().then((body) => answer(exchange, 200, body));
      return;
    }
    if (route === '/frames' && method === 'GET') {
      if (!authorized) return answer(exchange, 401, { error: 'unauthorized', message: 'send Authorization: Bearer <inspector token>' });
      const query = new URLSearchParams(exchange.query);
      const session = query.get('session');
      const after = Number(query.get('after') ?? '0');
      if (session === null || !Number.isInteger(after)) return answer(exchange, 400, { error: 'invalid_request', message: 'session and after are required' });
      void dispatch(query.get('node') ?? node, { action: 'frames', session, after }).then((result) => answer(exchange, result.status, result.body));
      return;
    }
    if ((route === '/disconnect' || route === '/unsubscribe') && method === 'POST') {
      // Refused before the body is read: without the token nothing of it is taken in.
      if (!authorized) return answer(exchange, 401, { error: 'unauthorized', message: 'send Authorization: Bearer <inspector token>' });
      if (!actions) return answer(exchange, 403, { error: 'forbidden', message: 'the inspector is read-only (actions: false)' });
      exchange.readBody(MAX_ACTION_BYTES, (text) => {
        let body: Record<string, unknown> = {};
        try {
          body = text === undefined ? {} : (JSON.parse(text) as Record<string, unknown>);
        } catch {
          body = {};
        }
        const request = { ...body, action: route.slice(1) };
        if (!isRelayRequest(request) || typeof body['node'] !== 'string') {
          return answer(exchange, 400, { error: 'invalid_request', message: 'a JSON body with node, session (and topic) is required' });
        }
        void dispatch(body['node'], request).then((result) => answer(exchange, result.status, result.body));
      });
      return;
    }
    answer(exchange, 404, { error: 'not_found', message: `no ${method} ${path}/api${route}` });
  }

  function handle(exchange: HttpExchange): void {
    const pathname = exchange.path;
    const route = pathname === path ? '' : pathname.startsWith(`${path}/`) ? pathname.slice(path.length) : undefined;
    if (route === undefined) return answer(exchange, 404, { error: 'not_found', message: 'not an inspector path' });
    if (route.startsWith('/api/')) return api(exchange, route.slice(4), credential.admits(exchange.header('authorization')));
    if (exchange.method !== 'GET' && exchange.method !== 'HEAD') return answer(exchange, 405, { error: 'method_not_allowed', message: 'GET only' });
    if (route === '' || route === '/') return exchange.respond(200, PAGE_HEADERS, INSPECTOR_PAGE(path));
    if (route === '/inspector.js') return exchange.respond(200, SCRIPT_HEADERS, INSPECTOR_SCRIPT);
    if (route === '/inspector.css') return exchange.respond(200, STYLE_HEADERS, INSPECTOR_STYLE);
    answer(exchange, 404, { error: 'not_found', message: `no ${pathname}` });
  }

  return {
    path,
    handle,
    fetch: (request) => new Promise<Response>((resolve) => handle(new FetchExchange(request, resolve))),
    async close() {
      if (sweep !== undefined) clearInterval(sweep);
      sweep = undefined;
      tails.close();
      await relay?.close();
    },
  };
}
