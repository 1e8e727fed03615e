/**
 * The long-poll endpoints over a `SharedLongPollStore`: the same requests and answers as
 * `handler.ts`, but connections live in the store, so any node answers any request.
 */
import { ErrorReason, Status, randomId, readRequestBody, type ErrorBody, type HttpExchange } from '@herald/core';
import type { LongPollServer, Settings } from './handler.ts';
import type { LongPollHandler, RequestPeer } from './long-poll-handler.ts';
import type { SharedLongPollStore, SharedRefusal } from './store.ts';
import { HELD_POLLS_METRIC } from './held-polls-metric.ts';
import { ACK_RULE, JSON_HEADERS, parseAck, pollBody, PROTOCOL_HEADER, SESSION_HEADER } from './wire-format.ts';

/** The request headers the endpoints and `herald.upgrade` read. */
const FORWARDED_HEADERS = ['authorization', 'host', 'origin', 'user-agent', 'content-type', 'x-forwarded-for', 'forwarded', PROTOCOL_HEADER, SESSION_HEADER];

function json(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...JSON_HEADERS, ...headers } });
}

function refuse(status: number, error: ErrorReason, message: string, extra?: Pick<ErrorBody, 'issues'>): Response {
  const body: ErrorBody = extra === undefined ? { error, message } : { error, message, ...extra };
  return json(status, JSON.stringify(body));
}

/**
 * Serves a server's own request objects (uWS's `attachHttp`) through the fetch path: the shared
 * store's answers wait on Redis anyway, so one `Request`/`Response` per request costs little here.
 * Headers and the body are read before this returns, as `HttpExchange` requires. `track` is given
 * each answer once the body is in, until the exchange has it.
 */
function handleWithFetch(
  exchange: HttpExchange,
  fetch: (request: Request, peer: RequestPeer) => Promise<Response>,
  maxBodyBytes: number,
  track: (answer: Promise<void>) => void,
): void {
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = exchange.header(name);
    if (value !== null) headers.set(name, value);
  }
  const url = 'http://' + (exchange.header('host') ?? 'localhost') + exchange.path + (exchange.query === '' ? '' : '?' + exchange.query);
  const aborted = new AbortController();
  exchange.onAbort(() => aborted.abort());
  const answer = (request: Request): void =>
    track(
      fetch(request, { remoteAddress: exchange.remoteAddress, proxiedAddress: exchange.proxiedAddress })
        .then(async (response) => {
          const answerHeaders: Record<string, string> = {};
          response.headers.forEach((value, name) => {
            answerHeaders[name] = value;
          });
          exchange.respond(response.status, answerHeaders, await response.text());
        })
        .catch(() => exchange.respond(500, JSON_HEADERS, JSON.stringify({ error: ErrorReason.Internal, message: 'internal server error' }))),
    );
  const method = exchange.method;
  if (method !== 'POST') return answer(new Request(url, { method, headers, signal: aborted.signal }));
  exchange.readBody(maxBodyBytes, (text) => {
    if (text === undefined) {
      exchange.respond(413, JSON_HEADERS, JSON.stringify({ error: ErrorReason.TooLarge, message: `body exceeds ${maxBodyBytes} bytes` }));
      return;
    }
    answer(new Request(url, { method, headers, body: text, signal: aborted.signal }));
  });
}

const NO_CONTENT = (): Response => new Response(null, { status: 204, headers: { 'cache-control': 'no-store' } });

/** The frames of a send, or the answer refusing them. */
async function readBatch(request: Request, maxBodyBytes: number, maxBatch: number): Promise<string[] | Response> {
  const text = await readRequestBody(request, maxBodyBytes);
  if (text === undefined) return refuse(Status.PayloadTooLarge, ErrorReason.TooLarge, `body exceeds ${maxBodyBytes} bytes`);
  let batch: unknown;
  try {
    batch = JSON.parse(text);
  } catch {
    return refuse(Status.BadRequest, ErrorReason.InvalidBatch, 'body is not JSON');
  }
  if (!Array.isArray(batch) || batch.length === 0 || batch.length > maxBatch) {
    return refuse(Status.BadRequest, ErrorReason.InvalidBatch, `body must be a JSON array of 1 to ${maxBatch} frames`);
  }
  const issues = batch.flatMap((frame, index) => (typeof frame === 'string' ? [] : [{ path: [index], message: 'a frame is a string holding one envelope' }]));
  if (issues.length > 0) return refuse(Status.BadRequest, ErrorReason.InvalidBatch, 'every frame must be a string', { issues });
  return batch as string[];
}

function readAck(request: Request): number | Response {
  const ack = parseAck(new URL(request.url).searchParams.get('ack'));
  return ack ?? refuse(Status.BadRequest, ErrorReason.InvalidBatch, ACK_RULE);
}

function refusal(reason: SharedRefusal): Response {
  return reason === 'unknown'
    ? refuse(Status.NotFound, ErrorReason.UnknownSession, 'unknown or expired long-poll session: open a new one and resume')
    : refuse(Status.Forbidden, ErrorReason.Forbidden, 'credential does not match the session');
}

/** The same endpoints over a store every node shares: any node answers any request. */
export function sharedHandler<Accepted extends { readonly ok: true }>(server: LongPollServer<Accepted>, store: SharedLongPollStore, settings: Settings): LongPollHandler {
  const { path } = settings;
  let held = 0;
  server.meter?.gauge(HELD_POLLS_METRIC, () => held);
  /** Requests being answered (those with a body, once it is in): `close` waits for their answers. */
  const answering = new Set<Promise<unknown>>();
  const track = <T>(answer: Promise<T>): Promise<T> => {
    answering.add(answer);
    const done = (): void => void answering.delete(answer);
    answer.then(done, done);
    return answer;
  };
  async function open(request: Request, peer: RequestPeer): Promise<Response> {
    const offered = request.headers.get(PROTOCOL_HEADER);
    const headers = {
      get: (name: string) => (name.toLowerCase() === 'sec-websocket-protocol' ? offered : request.headers.get(name)),
    };
    const { remoteAddress, proxiedAddress } = peer;
    const decision = await server.upgrade({
      url: request.url,
      headers,
      ...(remoteAddress === undefined ? {} : { remoteAddress }),
      ...(proxiedAddress === undefined ? {} : { proxiedAddress }),
    });
    if (!decision.ok) return json(decision.status, JSON.stringify(decision.body), decision.headers);
    const sid = randomId(22);
    const credential = request.headers.get('authorization');
    const socket = store.open(sid, credential, settings.maxBufferedBytes, settings.idleTimeoutMs);
    socket.connection = server.open(socket, decision);
    const result = await store.poll(sid, credential, 0, 0);
    if (typeof result === 'string') return refusal(result);
    return json(200, '{"sid":"' + sid + '",' + pollBody(result).slice(1), { [SESSION_HEADER]: sid });
  }
  async function serve(request: Request, peer: RequestPeer = {}): Promise<Response> {
    const { pathname } = new URL(request.url);
    const endpoint = pathname === path ? '' : pathname.startsWith(path + '/') ? pathname.slice(path.length) : undefined;
    if (endpoint === undefined) return refuse(Status.NotFound, ErrorReason.UnknownType, 'not a long-poll endpoint');
    if (endpoint === '' && request.method === 'POST') return open(request, peer);
    const sid = request.headers.get(SESSION_HEADER);
    if (sid === null) return refusal('unknown');
    const credential = request.headers.get('authorization');
    if (endpoint === '/send' && request.method === 'POST') {
      const batch = await readBatch(request, settings.maxBodyBytes, settings.maxBatch);
      if (batch instanceof Response) return batch;
      const sent = await store.send(sid, credential, batch);
      return sent === true ? NO_CONTENT() : refusal(sent);
    }
    if (endpoint === '/poll' && request.method === 'GET') {
      const ack = readAck(request);
      if (ack instanceof Response) return ack;
      held++;
      let result: Awaited<ReturnType<SharedLongPollStore['poll']>>;
      try {
        result = await store.poll(sid, credential, ack, settings.pollTimeoutMs, request.signal);
      } finally {
        held--;
      }
      return typeof result === 'string' ? refusal(result) : json(200, pollBody(result));
    }
    if (endpoint === '' && request.method === 'DELETE') {
      const deleted = await store.delete(sid, credential);
      return deleted === true ? new Response(null, { status: 204 }) : refusal(deleted);
    }
    return refuse(Status.NotFound, ErrorReason.UnknownType, `no ${request.method} ${pathname}`);
  }
  const handler: LongPollHandler = {
    path,
    get size() {
      return store.size;
    },
    handle(exchange) {
      handleWithFetch(exchange, serve, settings.maxBodyBytes, track);
    },
    fetch(request, peer) {
      // A body still arriving may never finish: such a request is not waited for.
      return request.body === null ? track(serve(request, peer)) : serve(request, peer);
    },
    async close() {
      store.close();
      await Promise.allSettled([...answering]);
    },
  };
  return handler;
}
