/**
 * The `fossil` delta format (Fossil SCM's delta encoding, by the `fossil-delta` library, an
 * optional peer dependency loaded only from this entry): copy and insert commands ending in a
 * checksum of the target, which `apply` verifies.
 */
import { applyDelta, createDelta } from 'fossil-delta';
import type { DeltaCodec } from './delta-codec.ts';

/**
 * Fossil deltas, for the server (`createHerald({ delta })`) and the client (`@herald/client/delta`).
 *
 * @example
 * import { fossilDelta } from '@herald/core/fossil-delta';
 * const herald = createHerald({ contract, handlers, delta: fossilDelta() });
 */
export function fossilDelta(): DeltaCodec {
  return {
    name: 'fossil',
    create: (base, target) => createDelta(base, target),
    // verifyChecksum is the default; said here because it is what makes a wrong base throw.
    apply: (base, delta) => applyDelta(base, delta, { verifyChecksum: true }),
  };
}
