/**
 * Binary subprotocols of `herald.v1`: the same envelopes, in another encoding, chosen per
 * connection by the subprotocol it negotiated. The core builds every server frame as JSON text
 * (what replay buffers, retry caches and session stores keep, whoever reads them later), and a
 * binary connection encodes each frame as it leaves.
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

  /** `encode` for a frame that other connections receive too. */
  encodeShared(frame: string): Uint8Array {
    if (frame !== this.lastFrame) {
      this.lastBytes = this.encode(frame);
      this.lastFrame = frame;
    }
    return this.lastBytes;
  }
}

/**
 * The native topic (uWS, Bun) that the sockets of a binary subprotocol join for `topic`: frames
 * differ per encoding, so each encoding has its own. `herald.v1` sockets join `topic` itself.
 */
export function nativeTopic(protocol: string, topic: string): string {
  return protocol + ' ' + topic;
}
