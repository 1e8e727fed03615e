/**
 * `herald.v1.msgpack` for the client, a separate entry so that the JSON-only bundle carries no
 * codec: msgpackr (an optional peer dependency) is loaded only by importing this.
 *
 * @example
 * import { createClient } from '@herald/client';
 * import { msgpack } from '@herald/client/msgpack';
 * const client = createClient<typeof chat>({ url: 'wss://example.com/ws', token, codec: msgpack() });
 */
export { msgpack } from '@herald/core/msgpack';
