import { describe, expect, it, vi } from 'vitest';
import { LongPollSocket, type PollResult } from './long-poll-socket.ts';

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('LongPollSocket', () => {
  it('holds a poll until frames come, and answers with every frame of the tick at once', async () => {
    const socket = new LongPollSocket(null, 1 << 20, 0);
    const answers: PollResult[] = [];
    expect(socket.poll(0, (result) => answers.push(result))).toBe(true);
    socket.send('{"a":1}');
    socket.send('{"b":2}');
    expect(answers).toEqual([]);
    await tick();
    expect(answers).toEqual([{ from: 1, frames: ['{"a":1}', '{"b":2}'], closed: undefined }]);
  });

  it('ends a held poll once it has waited since before the cutoff, and forgets a cancelled one', () => {
    const socket = new LongPollSocket(null, 1 << 20, 0);
    const answer = vi.fn();
    socket.poll(100, answer);
    expect(socket.releaseHeldBefore(99)).toBe(true);
    expect(answer).not.toHaveBeenCalled();
    expect(socket.releaseHeldBefore(100)).toBe(false);
    expect(answer).toHaveBeenCalledWith({ from: 1, frames: [], closed: undefined });
    const cancelled = vi.fn();
    socket.poll(200, cancelled);
    socket.cancel(cancelled);
    expect(socket.releaseHeldBefore(1000)).toBe(false);
    expect(cancelled).not.toHaveBeenCalled();
  });

  it('drops acknowledged frames, and tells the core only when that took it down from above the high-water mark', () => {
    const socket = new LongPollSocket(null, 1 << 20, 0);
    const drained = vi.fn();
    socket.connection = { drained } as never;
    for (const frame of ['x'.repeat(10), 'y'.repeat(10), 'z'.repeat(10)]) socket.send(frame);
    socket.ack(1, 25);
    expect(socket.bufferedAmount).toBe(20);
    expect(drained).toHaveBeenCalledTimes(1);
    socket.ack(2, 25);
    expect(drained).toHaveBeenCalledTimes(1);
    const answer = vi.fn();
    socket.poll(0, answer);
    expect(answer).toHaveBeenCalledWith({ from: 3, frames: ['z'.repeat(10)], closed: undefined });
    socket.ack(3);
    expect(socket.bufferedAmount).toBe(0);
    expect(drained).toHaveBeenCalledTimes(2);
  });
});
