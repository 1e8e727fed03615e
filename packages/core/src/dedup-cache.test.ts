import { describe, expect, it } from 'vitest';
import { DedupCache } from './dedup-cache.ts';

describe('DedupCache', () => {
  it('remembers a running request, then its answer', () => {
    const cache = new DedupCache(4);
    const entry = cache.begin('r1', 'chat.Send');
    expect(cache.get('r1')).toEqual({ type: 'chat.Send', frame: undefined });
    entry.frame = '{"kind":"resp"}';
    expect(cache.get('r1')).toBe(entry);
    expect(cache.get('r1')?.frame).toBe('{"kind":"resp"}');
    expect(cache.get('r2')).toBeUndefined();
  });

  it('keeps at most `capacity` ids, evicting the oldest first', () => {
    const cache = new DedupCache(3);
    for (const id of ['a', 'b', 'c', 'd', 'e']) cache.begin(id, 't');
    expect(cache.size).toBe(3);
    expect(['a', 'b', 'c', 'd', 'e'].map((id) => cache.get(id) !== undefined)).toEqual([false, false, true, true, true]);
  });

  it('evicts by age of first use, not by last lookup', () => {
    const cache = new DedupCache(2);
    cache.begin('a', 't');
    cache.begin('b', 't');
    cache.get('a');
    cache.begin('c', 't');
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeDefined();
  });

  it('remembers nothing with capacity 0, yet still hands out an entry to fill', () => {
    const cache = new DedupCache(0);
    const entry = cache.begin('a', 't');
    entry.frame = 'x';
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });

  it('an evicted entry still receives its answer (the running handler holds it)', () => {
    const cache = new DedupCache(1);
    const first = cache.begin('a', 't');
    cache.begin('b', 't');
    first.frame = 'late';
    expect(first.frame).toBe('late');
    expect(cache.get('a')).toBeUndefined();
  });
});
