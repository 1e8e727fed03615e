/**
 * Binary subprotocols of `herald.v1`: the same envelopes, in another encoding, chosen per
 * connection by the subprotocol it negotiated. The core builds server frames as JSON text (what
 * replay buffers, retry caches and session stores keep, whoever reads them later), and a binary
 * connection encodes each as it leaves; answers, the bulk of a connection's frames, are packed
 * from their bodies' values instead, when the value means the same packed as in JSON.
 */
import { base64ToBytes } from './delta-codec.ts';

/**
 * An encoding of the envelope in binary frames, selected by its subprotocol.
 *
 * @example
 * import { msgpack } from '@herald/core/msgpack';
 * createHerald({ contract, handlers, codecs: [msgpack()] });
 */
export interface WireCodec {
  /** The subprotocol that selects it, `herald.v1.<encoding>`. */
  readonly protocol: string;
  /** Encodes one envelope (a value of the JSON data model). */
  encode(value: unknown): Uint8Array;
  /** Decodes one frame; throws when the bytes are not one value of this encoding. */
  decode(bytes: Uint8Array): unknown;
}

/**
 * Encodes server frames for the connections of one codec. A topic frame reaches every
 * subscriber as the same string, so it is encoded once per publication, not per subscriber.
 */
export class FrameEncoder {
  private lastFrame = '';
  private lastBytes: Uint8Array = new Uint8Array(0);

  constructor(readonly codec: WireCodec) {}

  encode(frame: string): Uint8Array {
    const value = JSON.parse(frame) as { delta?: unknown };
    // A delta is bytes: base64 in JSON text only because JSON has no bytes.
    if (typeof value.delta === 'string') value.delta = base64ToBytes(value.delta);
    return this.codec.encode(value);
  }

  /**
   * The frame of a response packed from its body's value, without JSON text in between; undefined
   * when the body is not plain data (then only `JSON.stringify` says what it means: encode its text).
   */
  response(reqId: string, type: string, code: number, body: unknown): Uint8Array | undefined {
    if (body === undefined) return this.codec.encode({ kind: 'resp', reqId, type, code });
    return isPlainData(body, PLAIN_DEPTH) ? this.codec.encode({ kind: 'resp', reqId, type, code, body }) : undefined;
  }

  /** The JSON text of a frame `response` packed: for an answer kept packed and read by another connection. */
  text(bytes: Uint8Array): string {
    return JSON.stringify(this.codec.decode(bytes));
  }

  /** `encode` for a frame that other connections receive too. */
  encodeShared(frame: string): Uint8Array {
    if (frame !== this.lastFrame) {
      this.lastBytes = this.encode(frame);
      this.lastFrame = frame;
    }
    return this.lastBytes;
  }
}

/** Deeper bodies go through JSON text: a cycle is then `JSON.stringify`'s error, not a packer's stack overflow. */
const PLAIN_DEPTH = 64;

/**
 * Whether a value packs to what `JSON.stringify` makes of it, with no JSON text in between:
 * strings, finite numbers, booleans, null, arrays and objects of plain prototype holding only
 * such values, no `toJSON` anywhere. Anything else (a `Date`, a class instance, `undefined`,
 * NaN, holes, a function) is left to `JSON.stringify`, which drops or converts it. A
 * `__proto__` key is left to it too: a MessagePack reader renames it, so a packed answer read
 * back for another connection would not be the one sent.
 */
export function isPlainData(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object':
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth === 0 || typeof (value as { toJSON?: unknown }).toJSON === 'function') return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!isPlainData(value[i], depth - 1)) return false;
    return true;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in value) {
    if (key === '__proto__' || !isPlainData((value as Record<string, unknown>)[key], depth - 1)) return false;
  }
  return true;
}

/**
 * The native topic (uWS, Bun) that the sockets of a binary subprotocol join for `topic`: frames
 * differ per encoding, so each encoding has its own. `herald.v1` sockets join `topic` itself.
 */
export function nativeTopic(protocol: string, topic: string): string {
  return protocol + ' ' + topic;
}
