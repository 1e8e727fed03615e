/**
 * The long-poll transport: the same frames over plain HTTP (PROTOCOL.md, "Long-poll
 * transport"). Frames sent in one tick go in one POST; a poll is always outstanding and
 * carries the acknowledgement of what the previous one brought, so a response lost on the way
 * is sent again and skipped here by its cursor.
 */
import { PROTOCOL_NAME } from '@herald/core';
import { connectionRefused, invalidLongPollUrl, refusedWith, type ConnectFailure } from './connect-failure.ts';
import { failedAttempt, type Transport, type TransportEvents } from './transport.ts';

export interface LongPollTransportOptions {
  /** The long-poll endpoint, e.g. `https://example.com/lp`. */
  readonly url: string;
  /** Request headers; browsers may send `Authorization` here (plain HTTP allows it). */
  readonly headers?: Record<string, string>;
  /** The subprotocol offered in `Herald-Protocol` (default `herald.v1`; empty offers none). */
  readonly protocol?: string;
  /** Frames per POST (default 32). */
  readonly maxBatch?: number;
  readonly fetch?: typeof fetch;
}

interface PollBody {
  readonly sid?: string;
  readonly from: number;
  readonly messages: readonly unknown[];
  readonly closed?: { readonly code: number; readonly reason: string };
}

/** Closes reported when the HTTP exchange itself fails (no Herald close code to give). */
const ABNORMAL = 1006;

/** A failed fetch's message and, on Node, its cause's code (`fetch failed (ECONNREFUSED)`). */
function describe(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? `${error.message}: ${code}` : error.message;
}

/**
 * The long-poll transport. An attempt that fails before it opens is reported with the same
 * causes as a WebSocket's (`ConnectFailure`): the status of a refused open (404 wrong path,
 * 401 rejected `Authorization`, 403, 406), a URL that is not `http:`/`https:`, or the network
 * error (nothing listening).
 *
 * @example
 * const client = createClient({ transport: longPollTransport({ url: 'https://example.com/lp' }), token });
 */
export function longPollTransport(options: LongPollTransportOptions): Transport {
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const maxBatch = options.maxBatch ?? 32;
  const invalid = invalidLongPollUrl(options.url);
  return (events: TransportEvents) => {
    if (invalid !== undefined) return failedAttempt(events, invalid);
    const inFlight = new Set<AbortController>();
    let sid: string | undefined;
    let cursor = 0;
    let closed = false;
    let outbox: string[] = [];
    let sending: Promise<void> | undefined;

    const finish = (code: number, reason: string, failure?: ConnectFailure): void => {
      if (closed) return;
      closed = true;
      for (const request of inFlight) request.abort();
      inFlight.clear();
      if (failure === undefined) events.onClose(code, reason);
      else events.onClose(code, reason, failure);
    };

    const headers = (extra: Record<string, string>): Record<string, string> => ({ ...options.headers, ...extra });

    const deliver = (body: PollBody): void => {
      body.messages.forEach((message, index) => {
        const at = body.from + index;
        if (at <= cursor || closed) return;
        cursor = at;
        events.onMessage(JSON.stringify(message));
      });
      if (body.closed !== undefined) finish(body.closed.code, body.closed.reason);
    };

    const refused = async (response: Response, opening = false): Promise<void> => {
      const body = (await response.json().catch(() => ({}))) as { message?: string };
      // An unknown session means the connection is gone, not the Herald session: resume.
      const code = response.status === 404 ? ABNORMAL : 4000 + response.status;
      finish(code, body.message ?? `HTTP ${response.status}`, opening ? refusedWith(response.status, options.url) : undefined);
    };

    /**
     * One HTTP exchange, `read` included, with a signal of its own that closing aborts: one
     * signal shared by every fetch of a connection gathers a listener per request.
     */
    const exchange = async (url: string, init: RequestInit, read: (response: Response) => Promise<void>): Promise<void> => {
      const request = new AbortController();
      if (closed) request.abort();
      inFlight.add(request);
      try {
        await read(await doFetch(url, { ...init, signal: request.signal }));
      } finally {
        inFlight.delete(request);
      }
    };

    const pollLoop = async (): Promise<void> => {
      while (!closed) {
        await exchange(`${options.url}/poll?ack=${cursor}`, { headers: headers({ 'herald-session': sid as string }) }, async (response) => {
          if (!response.ok) return refused(response);
          deliver((await response.json()) as PollBody);
        });
      }
    };

    const flush = async (): Promise<void> => {
      while (outbox.length > 0 && !closed && sid !== undefined) {
        const batch = outbox.slice(0, maxBatch);
        outbox = outbox.slice(batch.length);
        const init = { method: 'POST', headers: headers({ 'herald-session': sid, 'content-type': 'application/json' }), body: JSON.stringify(batch) };
        await exchange(`${options.url}/send`, init, async (response) => {
          if (!response.ok) await refused(response);
        });
      }
    };

    const send = (): void => {
      sending ??= Promise.resolve()
        .then(flush)
        .catch(() => finish(ABNORMAL, 'long-poll send failed'))
        .finally(() => {
          sending = undefined;
          if (outbox.length > 0 && !closed) send();
        });
    };

    void (async () => {
      const protocol = options.protocol ?? PROTOCOL_NAME;
      let opened = false;
      try {
        await exchange(options.url, { method: 'POST', headers: headers(protocol === '' ? {} : { 'herald-protocol': protocol }) }, async (response) => {
          opened = true;
          if (!response.ok) return refused(response, true);
          const body = (await response.json()) as PollBody;
          sid = body.sid;
          events.onOpen();
          deliver(body);
        });
      } catch (error) {
        if (!opened) return finish(ABNORMAL, 'long-poll open failed', connectionRefused(options.url, describe(error)));
        throw error;
      }
      if (sid === undefined || closed) return;
      send();
      await pollLoop();
    })().catch(() => finish(ABNORMAL, 'long-poll request failed'));

    return {
      send(text) {
        outbox.push(text);
        if (sid !== undefined) send();
      },
      close(code = 1000, reason = '') {
        // Only a deliberate close ends the session on the server; any other code leaves it to
        // be resumed (from this transport or another), as a dropped WebSocket does.
        if (code === 1000 && sid !== undefined && !closed) {
          void doFetch(options.url, { method: 'DELETE', headers: headers({ 'herald-session': sid }) }).catch(() => {});
        }
        finish(code, reason);
      },
    };
  };
}
