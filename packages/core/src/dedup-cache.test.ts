import { describe, expect, it } from 'vitest';
import { DedupCache, SendLog, dedupEntry, responseHead, type DedupEntry, type SendLogOwner } from './dedup-cache.ts';
import { msgpack } from './msgpack.ts';
import { FrameEncoder, isPlainData } from './wire-codec.ts';

/** A send log's owner that collects what spills. */
const spillTo = (spilled: string[], encoder?: FrameEncoder): SendLogOwner => ({ spilled: (frame) => void spilled.push(frame), encoder });

const remembered = (cache: DedupCache, ids: string[]): boolean[] => ids.map((id) => cache.get(id) !== undefined);

/** Records a request as running, as the server does for one that runs past its call. */
function begin(cache: DedupCache, id: string, type: string): DedupEntry {
  const entry = dedupEntry(id, type);
  cache.track(entry);
  return entry;
}

describe('DedupCache', () => {
  it('remembers a running request, then its answer', () => {
    const cache = new DedupCache(4);
    const entry = begin(cache, 'r1', 'chat.Send');
    expect(cache.get('r1')).toMatchObject({ id: 'r1', type: 'chat.Send', frame: undefined });
    cache.finish(entry, '{"kind":"resp"}');
    expect(cache.get('r1')).toBe(entry);
    expect(cache.get('r1')?.frame).toBe('{"kind":"resp"}');
    expect(cache.get('r2')).toBeUndefined();
  });

  it('always remembers the last `capacity` ids and never more than twice that (property over many turns)', () => {
    const capacity = 3;
    const cache = new DedupCache(capacity);
    for (let i = 0; i < 100; i++) {
      cache.finish(begin(cache, `r${i}`, 't'), 'answer');
      const last = Array.from({ length: Math.min(capacity, i + 1) }, (_, k) => `r${i - k}`);
      expect(remembered(cache, last).every(Boolean)).toBe(true);
      expect(cache.size).toBeLessThanOrEqual(2 * capacity);
      if (i >= 2 * capacity) expect(cache.get(`r${i - 2 * capacity}`)).toBeUndefined();
    }
  });

  it('forgets by age of first use, not by last lookup', () => {
    const cache = new DedupCache(2);
    for (const id of ['a', 'b', 'c', 'd']) {
      cache.finish(begin(cache, id, 't'), 'answer');
      cache.get('a');
    }
    cache.finish(begin(cache, 'e', 't'), 'answer');
    expect(remembered(cache, ['a', 'b', 'c', 'd', 'e'])).toEqual([false, false, true, true, true]);
  });

  it('remembers nothing with capacity 0, yet still hands out an entry to fill', () => {
    const cache = new DedupCache(0);
    const entry = begin(cache, 'a', 't');
    cache.finish(entry, 'x');
    expect(entry.frame).toBe('x');
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });

  it('a forgotten entry still receives its answer (the running handler holds it)', () => {
    const cache = new DedupCache(1);
    const first = begin(cache, 'a', 't');
    begin(cache, 'b', 't');
    begin(cache, 'c', 't');
    cache.finish(first, 'late');
    expect(first.frame).toBe('late');
    expect(cache.get('a')).toBeUndefined();
  });

  it('forget drops a running request but keeps an answered one', () => {
    const cache = new DedupCache(4);
    begin(cache, 'running', 't');
    cache.finish(begin(cache, 'answered', 't'), 'frame');
    cache.forget('running');
    cache.forget('answered');
    expect(remembered(cache, ['running', 'answered'])).toEqual([false, true]);
  });
});

describe('DedupCache byte budget', () => {
  it('drops the oldest answers once their bytes pass the budget, keeping the one just stored', () => {
    const cache = new DedupCache(2, 10);
    for (const id of ['a', 'b', 'c']) cache.finish(begin(cache, id, 't'), 'xxxx');
    expect(remembered(cache, ['a', 'b', 'c'])).toEqual([false, false, true]);
    cache.finish(begin(cache, 'big', 't'), 'y'.repeat(50));
    expect(cache.get('big')?.frame).toHaveLength(50);
    cache.finish(begin(cache, 'next', 't'), 'z');
    expect(remembered(cache, ['c', 'big', 'next'])).toEqual([false, false, true]);
  });

  it('does not count the answer of an entry forgotten while its handler ran', () => {
    const cache = new DedupCache(1, 10);
    const first = begin(cache, 'a', 't');
    cache.finish(begin(cache, 'b', 't'), 'xx');
    cache.finish(begin(cache, 'c', 't'), 'xx');
    cache.finish(first, 'z'.repeat(100));
    expect(remembered(cache, ['b', 'c'])).toEqual([true, true]);
  });
});

describe('SendLog (answers waiting for their confirmation)', () => {
  const frame = (id: string, body = 'x') => `{"kind":"resp","reqId":"${id}","type":"t","code":200,"body":"${body}"}`;
  const logged = () => {
    const spilled: string[] = [];
    return { spilled, log: new SendLog(8, 4096, spillTo(spilled)) };
  };

  it('lets go exactly the answers among the first `count` responses, in the order sent', () => {
    const { log, spilled } = logged();
    // Positions 1..5; position 3 is a response that is not kept (a system answer, say).
    log.push(1, frame('a'));
    log.push(2, frame('b'));
    log.push(4, frame('c'));
    log.push(5, frame('d'));
    log.confirm(3);
    expect(log.size).toBe(2);
    log.confirm(2); // lower than before: nothing more
    expect(log.size).toBe(2);
    log.close();
    expect(spilled).toEqual([frame('c'), frame('d')]);
    expect(log.size).toBe(0);
  });

  it('hands every unconfirmed answer back, byte for byte (UTF-8), when the connection ends', () => {
    const { log, spilled } = logged();
    const frames = [frame('1', 'héllo ✓ 𝄞'), frame('2', '"quoted"'), frame('3', '')];
    frames.forEach((f, i) => log.push(i + 1, f));
    log.close();
    expect(spilled).toEqual(frames);
  });

  it('holds at most `maxRecords` answers: older ones go back to the cache at once', () => {
    const { log, spilled } = logged();
    for (let i = 1; i <= 10; i++) log.push(i, frame(`r${i}`));
    expect(log.size).toBe(8);
    expect(spilled).toEqual([frame('r1'), frame('r2')]);
    log.confirm(10);
    expect(log.size).toBe(0);
  });

  it('compacts and grows its buffer under a steady stream, and spills past its byte budget', () => {
    const spilled: string[] = [];
    const log = new SendLog(1000, 16_384, spillTo(spilled));
    const big = 'y'.repeat(900);
    // A steady stream with five unconfirmed: the buffer is reused, nothing spills.
    for (let i = 1; i <= 2000; i++) {
      log.push(i, frame(`s${i}`, big));
      log.confirm(i - 5);
    }
    expect(spilled).toEqual([]);
    expect(log.size).toBe(5);
    // Nobody confirms: past 16 KiB the oldest spill, in order.
    for (let i = 2001; i <= 2030; i++) log.push(i, frame(`s${i}`, big));
    expect(spilled.length).toBeGreaterThan(0);
    expect(spilled[0]).toBe(frame('s1996', big));
    log.close();
    expect(spilled).toEqual(Array.from({ length: 35 }, (_, k) => frame(`s${1996 + k}`, big)));
  });

  it('spills an answer larger than its whole budget at once', () => {
    const spilled: string[] = [];
    const log = new SendLog(8, 100, spillTo(spilled));
    log.push(1, frame('big', 'z'.repeat(200)));
    expect(spilled).toEqual([frame('big', 'z'.repeat(200))]);
    expect(log.size).toBe(0);
  });

  it('reads the reqId and type back from a response frame', () => {
    expect(responseHead(frame('abc'))).toEqual({ id: 'abc', type: 't' });
    expect(responseHead('{"kind":"notification"}')).toBeUndefined();
  });
});

describe('DedupCache entries remembered late', () => {
  it('an entry tracked only when it runs long is found by a retry; finish remembers an untracked one', () => {
    const cache = new DedupCache(4);
    const running = dedupEntry('slow', 't');
    expect(cache.get('slow')).toBeUndefined();
    cache.track(running);
    expect(cache.get('slow')).toBe(running);
    const quick = dedupEntry('quick', 't');
    cache.finish(quick, 'answer');
    expect(cache.get('quick')?.frame).toBe('answer');
    cache.drop(quick);
    expect(cache.get('quick')).toBeUndefined();
  });

  it('dropping an answer gives its bytes back to the budget', () => {
    const cache = new DedupCache(100, 100);
    for (let i = 0; i < 50; i++) {
      const entry = dedupEntry(`r${i}`, 't');
      cache.finish(entry, 'x'.repeat(10));
      cache.drop(entry);
    }
    const kept = Array.from({ length: 10 }, (_, k) => `k${k}`);
    for (const id of kept) cache.finish(dedupEntry(id, 't'), 'x'.repeat(9));
    expect(remembered(cache, kept).every(Boolean)).toBe(true);
  });
});

describe('SendLog memory', () => {
  it('frees its buffers once it stayed empty for a whole sweep, and works again after', () => {
    const spilled: string[] = [];
    const log = new SendLog(8, 4096, spillTo(spilled));
    const bytes = (l: SendLog) => (l as unknown as { bytes: Uint8Array }).bytes.length;
    expect(bytes(log)).toBe(0);
    log.push(1, '{"kind":"resp","reqId":"a","type":"t","code":200}');
    expect(bytes(log)).toBe(1024);
    log.confirm(1);
    log.trim(); // busy since the last sweep: kept
    expect(bytes(log)).toBe(1024);
    log.trim(); // empty for a whole sweep: freed
    expect(bytes(log)).toBe(0);
    log.push(2, '{"kind":"resp","reqId":"b","type":"t","code":200}');
    log.close();
    expect(spilled).toEqual(['{"kind":"resp","reqId":"b","type":"t","code":200}']);
  });
});

describe('DedupCache keeps what a retry must find', () => {
  it('carries a request still running into the new generation, so later answers cannot push it out', () => {
    const cache = new DedupCache(4);
    const running = begin(cache, 'slow', 't');
    // Answers handed back by a closed connection arrive after it, more than two generations of them.
    for (let i = 0; i < 20; i++) cache.finish(dedupEntry(`old${i}`, 't'), 'answer');
    expect(cache.get('slow')).toBe(running);
    cache.finish(running, 'done');
    expect(cache.get('slow')?.frame).toBe('done');
  });

  it('carries at most half a generation of running requests (a flood of them cannot stall the cache)', () => {
    const cache = new DedupCache(4);
    for (let i = 0; i < 100; i++) begin(cache, `r${i}`, 't');
    expect(cache.size).toBeLessThanOrEqual(8);
  });

  it('counts an answer sent again (a retry answered from the cache) once', () => {
    const cache = new DedupCache(100, 100);
    const kept = begin(cache, 'kept', 't');
    cache.finish(kept, 'x'.repeat(40));
    // Without the fix every resend added 40 bytes and pushed earlier answers out.
    for (let i = 0; i < 10; i++) cache.finish(kept, kept.frame as string);
    const other = dedupEntry('other', 't');
    cache.finish(other, 'y'.repeat(40));
    expect(remembered(cache, ['kept', 'other'])).toEqual([true, true]);
  });

  it('drops a running entry answered elsewhere without disturbing the byte count', () => {
    const cache = new DedupCache(100, 100);
    for (let i = 0; i < 30; i++) {
      const entry = begin(cache, `r${i}`, 't');
      cache.drop(entry); // as Session.answer does before a confirming connection keeps the answer
      entry.frame = 'z'.repeat(50);
    }
    // The budget still bites: ten answers of 20 bytes do not all fit in 100.
    const later = Array.from({ length: 10 }, (_, k) => `k${k}`);
    for (const id of later) cache.finish(dedupEntry(id, 't'), 'x'.repeat(20));
    expect(cache.get('k0')).toBeUndefined();
    expect(cache.get('k9')).toBeDefined();
  });
});

describe('SendLog of a binary connection (answers kept packed)', () => {
  const codec = msgpack();
  const encoder = new FrameEncoder(codec);
  const frame = (id: string, body = 'x') => `{"kind":"resp","reqId":"${id}","type":"t","code":200,"body":"${body}"}`;
  const packed = (id: string, body = 'x') => encoder.response(id, 't', 200, body) as Uint8Array;
  const log = (maxRecords: number, maxBytes: number, spilled: string[]) =>
    new SendLog(maxRecords, maxBytes, spillTo(spilled, encoder));

  it('hands packed answers back as the JSON text herald.v1 would have sent, in order beside text ones', () => {
    const spilled: string[] = [];
    const sendLog = log(8, 4096, spilled);
    sendLog.pushPacked(1, packed('a', 'héllo ✓ 𝄞'));
    sendLog.push(2, frame('b'));
    sendLog.pushPacked(3, packed('c'));
    sendLog.confirm(1);
    sendLog.close();
    expect(spilled).toEqual([frame('b'), frame('c')]);
    expect(spilled.map(responseHead)).toEqual([
      { id: 'b', type: 't' },
      { id: 'c', type: 't' },
    ]);
  });

  it('keeps a packed record a buffer move apart from its flag: compacting, growing, spilling past the budget', () => {
    const spilled: string[] = [];
    const sendLog = log(1000, 16_384, spilled);
    const big = 'y'.repeat(900);
    for (let i = 1; i <= 2000; i++) {
      if (i % 2 === 0) sendLog.pushPacked(i, packed(`s${i}`, big));
      else sendLog.push(i, frame(`s${i}`, big));
      sendLog.confirm(i - 5);
    }
    expect(spilled).toEqual([]);
    for (let i = 2001; i <= 2030; i++) sendLog.pushPacked(i, packed(`s${i}`, big));
    sendLog.close();
    expect(spilled).toEqual(Array.from({ length: 35 }, (_, k) => frame(`s${1996 + k}`, big)));
  });

  it('spills a packed answer at once, as text, when it cannot be kept', () => {
    const spilled: string[] = [];
    log(8, 100, spilled).pushPacked(1, packed('big', 'z'.repeat(200)));
    log(0, 4096, spilled).pushPacked(1, packed('none'));
    expect(spilled).toEqual([frame('big', 'z'.repeat(200)), frame('none')]);
  });
});

describe('isPlainData (what packs as its JSON text means)', () => {
  it('accepts the JSON data model of plain objects and arrays, and nothing JSON.stringify would change', () => {
    for (const value of ['', 'x', 0, -1.5, 2 ** 60, true, null, [], {}, [1, ['a', { b: null }]], Object.create(null)]) expect(isPlainData(value, 64), JSON.stringify(value)).toBe(true);
    class Box {}
    const refused = [undefined, Number.NaN, Number.POSITIVE_INFINITY, () => 1, Symbol('s'), 1n, new Date(0), new Box(), new Map(), new Uint8Array(1), new String('x'),
      { a: undefined }, [undefined], [1, , 2], { toJSON: () => 1 }, Object.assign([1], { toJSON: () => 2 }), JSON.parse('{"__proto__":1}') as unknown];
    refused.forEach((value, i) => expect(isPlainData(value, 64), `refused[${i}]`).toBe(false));
  });

  it('gives up past its depth (a cycle is then JSON.stringify\'s to refuse)', () => {
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(isPlainData(cycle, 64)).toBe(false);
    expect(isPlainData([[[1]]], 3)).toBe(true);
    expect(isPlainData([[[[1]]]], 3)).toBe(false);
  });
});

describe('SendLog with no retry window', () => {
  it('keeps nothing and hands every answer straight back', () => {
    const spilled: string[] = [];
    const log = new SendLog(0, 4096, spillTo(spilled));
    log.push(1, 'a');
    log.push(2, 'b');
    expect(log.size).toBe(0);
    expect(spilled).toEqual(['a', 'b']);
  });
});
