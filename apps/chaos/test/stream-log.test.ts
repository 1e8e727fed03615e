import { describe, expect, it } from 'vitest';
import { StreamLog } from '../src/stream-log.ts';

const rounds = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** Round n is published at n × 100 − 50 ms. */
const publishedAt = (n: number): number => n * 100 - 50;

/** A stream from `[n, at]` receipts and `at` tells. */
function log(receipts: readonly (readonly [number, number])[], tells: readonly number[] = []): StreamLog {
  const stream = new StreamLog();
  const events = [...receipts.map(([n, at]) => ({ at, n })), ...tells.map((at) => ({ at, n: undefined }))].sort((a, b) => a.at - b.at);
  for (const { n, at } of events) {
    if (n === undefined) stream.tell(at);
    else stream.receive(n, at);
  }
  return stream;
}

/** Round n received at n × 100 ms. */
const onTime = (...ns: number[]): [number, number][] => ns.map((n) => [n, n * 100]);

describe('StreamLog.tally', () => {
  it('passes a stream received whole, once and in order', () => {
    expect(log(onTime(1, 2, 3, 4)).tally(rounds(1, 4), publishedAt)).toEqual({
      delivered: 4,
      lost: 0,
      duplicated: 0,
      reordered: 0,
      missedAtReset: 0,
      acrossReset: 0,
    });
  });

  it('counts silent gaps, a missing start and a missing end as lost', () => {
    expect(log(onTime(2, 3, 5)).tally(rounds(1, 7), publishedAt)).toMatchObject({ delivered: 3, lost: 4 });
  });

  it('counts duplicates and reordering', () => {
    expect(log([...onTime(1, 3), [2, 350], [3, 360], [4, 400]]).tally(rounds(1, 4), publishedAt)).toMatchObject({ lost: 0, duplicated: 1, reordered: 1 });
  });

  it('does not expect rounds whose publish failed', () => {
    expect(log(onTime(1, 2, 4)).tally([1, 2, 4], publishedAt)).toMatchObject({ lost: 0 });
  });

  it('excuses what was published before a reset and not reached by then, and nothing after', () => {
    expect(log(onTime(1, 2, 6, 7, 9), [650]).tally(rounds(1, 10), publishedAt)).toMatchObject({ lost: 2, missedAtReset: 3 });
  });

  it('takes the messages of the batch that carried the reset as after it', () => {
    expect(log(onTime(1, 2, 6, 7), [601]).tally(rounds(1, 7), publishedAt)).toMatchObject({ lost: 0, missedAtReset: 3 });
  });

  it('does not let a reset excuse a gap the client had already passed', () => {
    expect(log(onTime(1, 2, 4, 5, 6, 7, 8, 9, 10), [1100]).tally(rounds(1, 10), publishedAt)).toMatchObject({ lost: 1, missedAtReset: 0 });
  });

  it('excuses a missing end told of, but not what was published after the telling', () => {
    expect(log(onTime(1, 2, 3, 4, 5), [2000]).tally([...rounds(1, 10), 25], publishedAt)).toMatchObject({ lost: 1, missedAtReset: 5 });
  });

  it('reports messages received again or out of order across a reset without failing on them', () => {
    const stream = log([...onTime(1, 2, 3), [3, 500], [2, 550], [4, 600]], [450]);
    expect(stream.tally(rounds(1, 4), publishedAt)).toMatchObject({ lost: 0, duplicated: 0, reordered: 0, acrossReset: 2 });
  });
});
