import { describe, expect, it } from 'vitest';
import { Interned } from './interned.ts';

describe('Interned', () => {
  it('gives back the first value seen under a key', () => {
    const interned = new Interned<readonly string[]>(4);
    const first = ['herald.v1'];
    expect(interned.of('herald.v1', first)).toBe(first);
    expect(interned.of('herald.v1', ['herald.v1'])).toBe(first);
  });

  it('stops remembering at its capacity, so clients cannot grow it: new values come back as they came', () => {
    const interned = new Interned<string>(2);
    interned.of('a', 'a');
    interned.of('b', 'b');
    const late = ['c'].join('');
    expect(interned.of('c', late)).toBe(late);
    const again = ['c'].join('');
    expect(interned.of('c', again)).toBe(again);
    expect(interned.of('a', 'x')).toBe('a');
  });
});
