/**
 * What the long-poll endpoints put on the wire, the same from every handler: the header names,
 * the headers of a JSON answer, and the body of a poll answer.
 */
import type { PollResult } from './long-poll-socket.ts';

/** The request header naming the long-poll connection (never a URL, so not in access logs). */
export const SESSION_HEADER = 'herald-session';
/** The request header of an open offering the subprotocol, as `Sec-WebSocket-Protocol` does for a WebSocket. */
export const PROTOCOL_HEADER = 'herald-protocol';

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
