/**
 * Delta formats for the client (`delta` option), a separate entry so that the JSON-only bundle
 * carries no delta code: `fossil-delta` (an optional peer dependency) is loaded only from here.
 *
 * @example
 * import { createClient } from '@herald/client';
 * import { fossilDelta } from '@herald/client/delta';
 * const client = createClient<typeof docs>({ url: 'wss://example.com/ws', token, delta: fossilDelta() });
 */
export { fossilDelta } from '@herald/core/fossil-delta';
