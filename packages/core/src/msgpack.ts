/**
 * The `herald.v1.msgpack` subprotocol: every envelope one MessagePack value in a binary frame
 * (PROTOCOL.md §2.1), by msgpackr, an optional peer dependency loaded only from this entry.
 * Plain MessagePack only (no msgpackr records or structured types), so any MessagePack library
 * can speak it.
 */
import { Packr, Unpackr } from 'msgpackr';
import { MSGPACK_PROTOCOL_NAME } from './constants.ts';
import type { WireCodec } from './wire-codec.ts';

/**
 * The MessagePack codec, for the server (`codecs`) and the client (`@herald/client/msgpack`).
 *
 * @example
 * import { msgpack } from '@herald/core/msgpack';
 * const herald = createHerald({ contract, handlers, codecs: [msgpack()] });
 */
export function msgpack(): WireCodec {
  const packr = new Packr({ useRecords: false, moreTypes: false, variableMapSize: true });
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  return {
    protocol: MSGPACK_PROTOCOL_NAME,
    encode: (value) => packr.pack(value),
    decode: (bytes) => unpackr.unpack(bytes),
  };
}
