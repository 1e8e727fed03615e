/**
 * Delta compression of topic notifications (PROTOCOL.md, Delta topics): on a topic whose
 * pattern allows it, a subscriber that asked for deltas and holds the publication at the
 * previous offset gets the next one as a delta of its body's JSON text against that one. The
 * core builds frames as JSON text, where the delta is base64; a binary encoding carries bytes.
 */

/**
 * A delta format, named in `herald.Subscribe`'s `delta`. `apply` MUST throw rather than return
 * a wrong target (a base that differs from the server's, a corrupted delta): the client then
 * asks for the full publication.
 *
 * @example
 * import { fossilDelta } from '@herald/core/fossil-delta';
 * createHerald({ contract, handlers, delta: fossilDelta() });
 */
export interface DeltaCodec {
  /** The format's name on the wire (`fossil`). */
  readonly name: string;
  /** The delta that turns `base` into `target`. */
  create(base: Uint8Array, target: Uint8Array): Uint8Array;
  /** `target` from `base` and a delta of it; throws when the delta does not apply to `base`. */
  apply(base: Uint8Array, delta: Uint8Array): Uint8Array;
}

/** The delta format names a client may ask for: the same characters as an error reason. */
export const DELTA_NAME_PATTERN: RegExp = /^[a-z][a-z0-9_]{0,31}$/;

const CHUNK = 0x8000;

/** Base64 (RFC 4648 §4, padded) of bytes, with the Web-standard `btoa`. */
export function bytesToBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}

/** Bytes of base64 text; throws on text that is not base64. */
export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
