import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplayBuffer } from './replay-buffer.ts';

const frame = (seq: number) => `frame ${seq}`;

function framesAfter(buffer: ReplayBuffer, seq: number, limit = Number.POSITIVE_INFINITY): Array<[number, string]> {
  const seen: Array<[number, string]> = [];
  buffer.forEachAfter(seq, (f, s) => {
    seen.push([s, f]);
    return seen.length < limit;
  });
  return seen;
}

function filled(from: number, to: number): ReplayBuffer {
  const buffer = new ReplayBuffer();
  for (let seq = from; seq <= to; seq++) buffer.push(seq, frame(seq));
  return buffer;
}

describe('ReplayBuffer', () => {
  it('starts empty, with the next seq as its oldest', () => {
    const buffer = new ReplayBuffer();
    expect(buffer.size).toBe(0);
    expect(buffer.oldestSeq).toBe(1);
    expect(framesAfter(buffer, 0)).toEqual([]);
  });

  it('keeps frames in seq order and replays those after a seq', () => {
    const buffer = filled(1, 5);
    expect(buffer.size).toBe(5);
    expect(framesAfter(buffer, 2)).toEqual([
      [3, 'frame 3'],
      [4, 'frame 4'],
      [5, 'frame 5'],
    ]);
    expect(framesAfter(buffer, 5)).toEqual([]);
    expect(framesAfter(buffer, 99)).toEqual([]);
  });

  it('acknowledges cumulatively and ignores stale or future acks beyond what it holds', () => {
    const buffer = filled(1, 5);
    buffer.ack(2);
    expect([buffer.size, buffer.oldestSeq]).toEqual([3, 3]);
    buffer.ack(1);
    expect([buffer.size, buffer.oldestSeq]).toEqual([3, 3]);
    buffer.ack(0);
    expect([buffer.size, buffer.oldestSeq]).toEqual([3, 3]);
    buffer.ack(50);
    expect([buffer.size, buffer.oldestSeq]).toEqual([0, 6]);
    buffer.push(6, frame(6));
    expect(framesAfter(buffer, 0)).toEqual([[6, 'frame 6']]);
  });

  it('replays from the oldest held frame when asked for an older seq', () => {
    const buffer = filled(1, 4);
    buffer.ack(2);
    expect(framesAfter(buffer, 0).map(([s]) => s)).toEqual([3, 4]);
  });

  it('stops replaying as soon as the sender refuses', () => {
    expect(framesAfter(filled(1, 5), 0, 2).map(([s]) => s)).toEqual([1, 2]);
  });

  it('drops the oldest frame on overflow, and does nothing when empty', () => {
    const buffer = filled(1, 3);
    buffer.dropOldest();
    expect([buffer.size, buffer.oldestSeq]).toEqual([2, 2]);
    buffer.dropOldest();
    buffer.dropOldest();
    expect([buffer.size, buffer.oldestSeq]).toEqual([0, 4]);
    buffer.dropOldest();
    expect([buffer.size, buffer.oldestSeq]).toEqual([0, 4]);
  });

  it('keeps working across the internal compaction of acknowledged frames', () => {
    const buffer = filled(1, 200);
    buffer.ack(130);
    expect([buffer.size, buffer.oldestSeq]).toEqual([70, 131]);
    expect(framesAfter(buffer, 129, 2)).toEqual([
      [131, 'frame 131'],
      [132, 'frame 132'],
    ]);
    buffer.push(201, frame(201));
    expect(framesAfter(buffer, 199)).toEqual([
      [200, 'frame 200'],
      [201, 'frame 201'],
    ]);
  });

  it('behaves like a plain list of unacknowledged frames (property)', () => {
    const operation = fc.oneof(
      fc.record({ op: fc.constant('push' as const), count: fc.integer({ min: 1, max: 80 }) }),
      fc.record({ op: fc.constant('ack' as const), back: fc.integer({ min: -5, max: 100 }) }),
      fc.record({ op: fc.constant('drop' as const) }),
      fc.record({ op: fc.constant('replay' as const), back: fc.integer({ min: -5, max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const buffer = new ReplayBuffer();
        let model: number[] = [];
        let last = 0;
        for (const operation of operations) {
          switch (operation.op) {
            case 'push':
              for (let i = 0; i < operation.count; i++) {
                last++;
                buffer.push(last, frame(last));
                model.push(last);
              }
              break;
            case 'ack': {
              const seq = last - operation.back;
              buffer.ack(seq);
              model = model.filter((s) => s > seq);
              break;
            }
            case 'drop':
              buffer.dropOldest();
              model = model.slice(1);
              break;
            case 'replay': {
              const seq = last - operation.back;
              expect(framesAfter(buffer, seq)).toEqual(model.filter((s) => s > seq).map((s) => [s, frame(s)]));
              break;
            }
          }
          expect(buffer.size).toBe(model.length);
          expect(buffer.oldestSeq).toBe(model[0] ?? last + 1);
        }
      }),
    );
  });
});
