/** The options every generator here takes, and the URLs they describe. */

/** What a generated document says about the API beyond its contract. */
export interface DocumentOptions {
  /** The API's name. */
  readonly title: string;
  /** The API's version (not the protocol's, which is `herald.v1`). */
  readonly version: string;
  /** What the API is for. Markdown in the AsyncAPI document; shown as plain text on the docs page. */
  readonly description?: string;
  /** The WebSocket URL clients connect to, `wss://host[:port]/path` (`ws://` for local development). */
  readonly url: string;
  /** Base path of the long-poll fallback on the same host, or `false` when none is mounted. Default `/lp`. */
  readonly longPollPath?: string | false;
}

/** The endpoints a document describes. */
export interface Endpoints {
  readonly webSocket: URL;
  readonly longPoll: URL | undefined;
}

/** Reads `options.url` and `options.longPollPath`, refusing URLs a Herald client cannot use. */
export function endpoints(options: DocumentOptions): Endpoints {
  const webSocket = new URL(options.url);
  if (webSocket.protocol !== 'ws:' && webSocket.protocol !== 'wss:') throw new TypeError(`url must be a ws:// or wss:// URL, got ${options.url}`);
  if (webSocket.username !== '' || webSocket.password !== '') throw new TypeError('url must not carry credentials (see PROTOCOL.md, Security considerations)');
  const path = options.longPollPath ?? '/lp';
  if (path === false) return { webSocket, longPoll: undefined };
  if (!path.startsWith('/')) throw new TypeError(`longPollPath must start with "/", got ${path}`);
  const longPoll = new URL(path, webSocket);
  longPoll.protocol = webSocket.protocol === 'wss:' ? 'https:' : 'http:';
  return { webSocket, longPoll };
}
