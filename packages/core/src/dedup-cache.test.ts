import { describe, expect, it } from 'vitest';
import { DedupCache } from './dedup-cache.ts';

const remembered = (cache: DedupCache, ids: string[]): boolean[] => ids.map((id) => cache.get(id) !== undefined);

describe('DedupCache', () => {
  it('remembers a running request, then its answer', () => {
    const cache = new DedupCache(4);
    const entry = cache.begin('r1', 'chat.Send');
    expect(cache.get('r1')).toEqual({ id: 'r1', type: 'chat.Send', frame: undefined });
    cache.finish(entry, '{"kind":"resp"}');
    expect(cache.get('r1')).toBe(entry);
    expect(cache.get('r1')?.frame).toBe('{"kind":"resp"}');
    expect(cache.get('r2')).toBeUndefined();
  });

  it('always remembers the last `capacity` ids and never more than twice that (property over many turns)', () => {
    const capacity = 3;
    const cache = new DedupCache(capacity);
    for (let i = 0; i < 100; i++) {
      cache.begin(`r${i}`, 't');
      const last = Array.from({ length: Math.min(capacity, i + 1) }, (_, k) => `r${i - k}`);
      expect(remembered(cache, last).every(Boolean)).toBe(true);
      expect(cache.size).toBeLessThanOrEqual(2 * capacity);
      if (i >= 2 * capacity) expect(cache.get(`r${i - 2 * capacity}`)).toBeUndefined();
    }
  });

  it('forgets by age of first use, not by last lookup', () => {
    const cache = new DedupCache(2);
    for (const id of ['a', 'b', 'c', 'd']) {
      cache.begin(id, 't');
      cache.get('a');
    }
    cache.begin('e', 't');
    expect(remembered(cache, ['a', 'b', 'c', 'd', 'e'])).toEqual([false, false, true, true, true]);
  });

  it('remembers nothing with capacity 0, yet still hands out an entry to fill', () => {
    const cache = new DedupCache(0);
    const entry = cache.begin('a', 't');
    cache.finish(entry, 'x');
    expect(entry.frame).toBe('x');
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });

  it('a forgotten entry still receives its answer (the running handler holds it)', () => {
    const cache = new DedupCache(1);
    const first = cache.begin('a', 't');
    cache.begin('b', 't');
    cache.begin('c', 't');
    cache.finish(first, 'late');
    expect(first.frame).toBe('late');
    expect(cache.get('a')).toBeUndefined();
  });

  it('forget drops a running request but keeps an answered one', () => {
    const cache = new DedupCache(4);
    cache.begin('running', 't');
    cache.finish(cache.begin('answered', 't'), 'frame');
    cache.forget('running');
    cache.forget('answered');
    expect(remembered(cache, ['running', 'answered'])).toEqual([false, true]);
  });
});

describe('DedupCache byte budget', () => {
  it('drops the oldest answers once their bytes pass the budget, keeping the one just stored', () => {
    const cache = new DedupCache(2, 10);
    for (const id of ['a', 'b', 'c']) cache.finish(cache.begin(id, 't'), 'xxxx');
    expect(remembered(cache, ['a', 'b', 'c'])).toEqual([false, false, true]);
    cache.finish(cache.begin('big', 't'), 'y'.repeat(50));
    expect(cache.get('big')?.frame).toHaveLength(50);
    cache.finish(cache.begin('next', 't'), 'z');
    expect(remembered(cache, ['c', 'big', 'next'])).toEqual([false, false, true]);
  });

  it('does not count the answer of an entry forgotten while its handler ran', () => {
    const cache = new DedupCache(1, 10);
    const first = cache.begin('a', 't');
    cache.finish(cache.begin('b', 't'), 'xx');
    cache.finish(cache.begin('c', 't'), 'xx');
    cache.finish(first, 'z'.repeat(100));
    expect(remembered(cache, ['b', 'c'])).toEqual([true, true]);
  });
});
