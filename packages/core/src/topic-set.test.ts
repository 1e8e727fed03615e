import { describe, expect, it } from 'vitest';
import { TopicSet } from './topic-set.ts';

describe('TopicSet', () => {
  it('behaves as a Set of topics from one entry to many and back', () => {
    const topics = new TopicSet();
    expect([topics.size, [...topics], topics.has('a'), topics.delete('a')]).toEqual([0, [], false, false]);
    topics.add('a');
    topics.add('a');
    expect([topics.size, [...topics], topics.has('a'), topics.has('b')]).toEqual([1, ['a'], true, false]);
    topics.add('b');
    topics.add('c');
    expect([topics.size, [...topics]]).toEqual([3, ['a', 'b', 'c']]);
    expect([topics.delete('b'), topics.delete('b'), topics.has('b')]).toEqual([true, false, false]);
    expect(topics.delete('a')).toBe(true);
    expect(topics.delete('c')).toBe(true);
    expect([topics.size, [...topics]]).toEqual([0, []]);
    topics.add('d');
    expect([topics.size, [...topics], topics.has('d')]).toEqual([1, ['d'], true]);
  });

  it('can be emptied while iterating over a copy', () => {
    const topics = new TopicSet();
    for (const topic of ['x', 'y']) topics.add(topic);
    for (const topic of [...topics]) topics.delete(topic);
    expect(topics.size).toBe(0);
  });
});
