import { describe, expect, it } from 'vitest';
import { randomId } from './random-id.ts';

describe('randomId', () => {
  it('draws every character uniformly from the 64 of base64url, the last one included (PROTOCOL.md §1: 22 characters, 132 bits)', () => {
    const ids = Array.from({ length: 4000 }, () => randomId(22));
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
    // Each character misses a given position in 4,000 ids with probability (63/64)^4000 ≈ 1e-27.
    for (const position of [0, 11, 21]) expect(new Set(ids.map((id) => id[position])).size).toBe(64);
  });
});
