/**
 * What the long-poll endpoints put on the wire, the same from every handler: the header names,
 * the headers of a JSON answer, and the body of a poll answer.
 */
import type { PollResult } from './long-poll-socket.ts';

/** The request header naming the long-poll connection (never a URL, so not in access logs). */
export const SESSION_HEADER = 'herald-session';
/** The request header of an open offering the subprotocol, as `Sec-WebSocket-Protocol` does for a WebSocket. */
export const PROTOCOL_HEADER = 'herald-protocol';

/** Why a poll's `ack` is refused (`400 invalid_batch`). */
export const ACK_RULE = 'ack must be an integer >= 0';

/** A poll's `?ack=` as its cursor: decimal digits only, so a missing, empty or `1e3`-style value is refused. */
export function parseAck(raw: string | null | undefined): number | undefined {
  if (raw === null || raw === undefined || !/^[0-9]{1,15}$/.test(raw)) return undefined;
  return Number(raw);
}

/** The headers of every JSON answer. */
export const JSON_HEADERS: Readonly<Record<string, string>> = { 'content-type': 'application/json', 'cache-control': 'no-store' };

/**
 * `{"from":N,"messages":[…]}`: server frames are JSON already, so they are joined, not re-encoded.
 * Concatenated rather than `join`ed: the server flattens the text once as it writes it.
 */
export function pollBody(result: PollResult): string {
  const { frames } = result;
  let body = '{"from":' + result.from + ',"messages":[';
  for (let i = 0; i < frames.length; i++) body += i === 0 ? frames[i] : ',' + frames[i];
  body += ']';
  if (result.closed !== undefined) body += ',"closed":' + JSON.stringify(result.closed);
  return body + '}';
}
