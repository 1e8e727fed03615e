import { describe, expect, it } from 'vitest';
import { DedupCache } from './dedup-cache.ts';

describe('DedupCache', () => {
  it('remembers a running request, then its answer', () => {
    const cache = new DedupCache(4);
    const entry = cache.begin('r1', 'chat.Send');
    expect(cache.get('r1')).toEqual({ id: 'r1', type: 'chat.Send', frame: undefined });
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

describe('DedupCache byte budget', () => {
  it('evicts the oldest answers once their bytes pass the budget, never the one just stored', () => {
    const cache = new DedupCache(10, 10);
    for (const id of ['a', 'b', 'c']) cache.finish(cache.begin(id, 't'), 'xxxx');
    expect(['a', 'b', 'c'].map((id) => cache.get(id) !== undefined)).toEqual([false, true, true]);
    cache.finish(cache.begin('big', 't'), 'y'.repeat(50));
    expect(cache.size).toBe(1);
    expect(cache.get('big')?.frame).toHaveLength(50);
  });

  it('does not count the answer of an entry evicted while its handler ran', () => {
    const cache = new DedupCache(2, 10);
    const first = cache.begin('a', 't');
    const b = cache.begin('b', 't');
    const c = cache.begin('c', 't');
    cache.finish(first, 'zzzzzzzz');
    cache.finish(b, 'xx');
    cache.finish(c, 'xx');
    expect(cache.get('b')?.frame).toBe('xx');
    expect(cache.get('c')?.frame).toBe('xx');
  });

  it('keeps its order across many turns of the ring', () => {
    const cache = new DedupCache(3);
    for (let i = 0; i < 100; i++) cache.begin(`r${i}`, 't');
    expect(['r96', 'r97', 'r98', 'r99'].map((id) => cache.get(id) !== undefined)).toEqual([false, true, true, true]);
  });
});
