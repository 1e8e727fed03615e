import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HistoryRing, MESSAGE_OVERHEAD_BYTES } from './history-ring.ts';

/** What the ring holds after `offset`, as [offset, type, body] triples. */
function after(ring: HistoryRing, offset: number): Array<[number, string, string | undefined]> {
  const out: Array<[number, string, string | undefined]> = [];
  ring.forEachAfter(offset, (o, type, body) => out.push([o, type, body]));
  return out;
}

describe('HistoryRing', () => {
  it('numbers messages contiguously from 1 and keeps the last `limit` across many wrap-arounds', () => {
    const ring = new HistoryRing(5, false);
    expect([ring.lastOffset, ring.oldestOffset, ring.size]).toEqual([0, 1, 0]);
    for (let n = 1; n <= 23; n++) expect(ring.push(n % 2 === 0 ? 'even' : 'odd', `b${n}`, 0)).toBe(n);
    expect([ring.lastOffset, ring.oldestOffset, ring.size]).toEqual([23, 19, 5]);
    expect(after(ring, 0)).toEqual([19, 20, 21, 22, 23].map((n) => [n, n % 2 === 0 ? 'even' : 'odd', `b${n}`]));
    expect(after(ring, 21).map(([o]) => o)).toEqual([22, 23]);
    expect(after(ring, 23)).toEqual([]);
  });

  it('keeps undefined bodies and counts each message as overhead plus its characters', () => {
    const ring = new HistoryRing(10, false);
    ring.push('t', undefined, 0);
    ring.push('t', '{"a":1}', 0);
    expect(after(ring, 0)).toEqual([
      [1, 't', undefined],
      [2, 't', '{"a":1}'],
    ]);
    expect(ring.bytes).toBe(2 * MESSAGE_OVERHEAD_BYTES + 7);
    ring.dropOldest();
    ring.dropOldest();
    ring.dropOldest();
    expect([ring.size, ring.bytes, ring.oldestOffset]).toEqual([0, 0, 3]);
  });

  it('stores the text of a body built from parts (as JSON.stringify returns it) unchanged', () => {
    const ring = new HistoryRing(2, false);
    const body = JSON.stringify({ text: 'x'.repeat(100), n: [1, 2, 3], nested: { deep: 'é ✓ 😀' } });
    ring.push('t', body, 0);
    expect(after(ring, 0)).toEqual([[1, 't', body]]);
  });

  it('with limit 0 keeps nothing but still counts offsets', () => {
    const ring = new HistoryRing(0, false);
    expect([ring.push('t', 'a', 0), ring.push('t', 'b', 0)]).toEqual([1, 2]);
    expect([ring.size, ring.bytes, ring.oldestOffset]).toEqual([0, 0, 3]);
    expect(after(ring, 0)).toEqual([]);
  });

  it('drops messages published before a cutoff when timed, and counts their times', () => {
    const ring = new HistoryRing(100, true);
    for (let t = 1; t <= 10; t++) ring.push('t', 'x', t * 10);
    expect(ring.bytes).toBe(10 * (MESSAGE_OVERHEAD_BYTES + 8 + 1));
    ring.dropOlderThan(55);
    expect(after(ring, 0).map(([o]) => o)).toEqual([6, 7, 8, 9, 10]);
    ring.dropOlderThan(1000);
    expect([ring.size, ring.bytes, ring.oldestOffset]).toEqual([0, 0, 11]);
    ring.push('t', 'y', 2000);
    expect(after(ring, 10)).toEqual([[11, 't', 'y']]);
  });

  it('matches a plain list under any mix of pushes and drops, replaying from any position (property)', () => {
    const op = fc.oneof(fc.record({ push: fc.string({ maxLength: 6 }) }), fc.constant({ drop: true as const }));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.array(op, { maxLength: 300 }), fc.integer({ min: -2, max: 310 }), (limit, ops, since) => {
        const ring = new HistoryRing(limit, false);
        let model: Array<[number, string]> = [];
        let last = 0;
        for (const o of ops) {
          if ('push' in o) {
            ring.push('t', o.push, 0);
            last++;
            model.push([last, o.push]);
            if (model.length > limit) model = model.slice(model.length - limit);
          } else {
            ring.dropOldest();
            model = model.slice(1);
          }
        }
        expect(ring.lastOffset).toBe(last);
        expect(ring.size).toBe(model.length);
        expect(ring.oldestOffset).toBe(last - model.length + 1);
        expect(ring.bytes).toBe(model.reduce((sum, [, body]) => sum + MESSAGE_OVERHEAD_BYTES + body.length, 0));
        expect(after(ring, since)).toEqual(model.filter(([o]) => o > since).map(([o, body]) => [o, 't', body]));
      }),
    );
  });
});
