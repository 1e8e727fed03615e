/** Conflated (latest-only) topics: a subscriber that fell behind gets the newest message, marked, never a queue. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { Envelope, NotificationMessage, StreamPosition } from './envelope.ts';
import { MemoryBroker } from './memory-broker.ts';
import { createHerald, type Herald, type HeraldOptions } from './server.ts';
import { ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const contract = defineContract({
  requests: {},
  notifications: { 'price.Tick': { body: z.object({ n: z.number() }) } },
  topics: {
    'price/{symbol}': { notifications: ['price.Tick'], conflate: true },
    'capped/{symbol}': { notifications: ['price.Tick'], conflate: { maxRate: 10 } },
    'all/{symbol}': { notifications: ['price.Tick'] },
  },
});
type Contract = typeof contract;

const HIGH_WATER_MARK = 1_000;

function server(options: Partial<HeraldOptions<Contract>> = {}): { herald: Herald<Contract>; clock: ManualClock } {
  const clock = new ManualClock();
  const herald = createHerald({
    contract,
    handlers: {},
    clock,
    authenticate: (token) => ({ userId: token }),
    canSubscribe: () => true,
    subscribeToBroadcast: false,
    highWaterMark: HIGH_WATER_MARK,
    limits: { pingIntervalMs: 3_600_000 },
    ...options,
  });
  return { herald, clock };
}

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

async function connect(herald: Herald<Contract>, user: string): Promise<MemorySocket> {
  const socket = new MemorySocket();
  const decision = await herald.upgrade(upgradeRequest({ authorization: `Bearer ${user}` }));
  if (!decision.ok) throw new Error(`upgrade refused: ${decision.body.message}`);
  socket.connection = herald.open(socket, decision);
  await flush();
  return socket;
}

async function subscribe(socket: MemorySocket, topic: string, since?: StreamPosition): Promise<Envelope[]> {
  const before = socket.received.length;
  socket.deliver({ kind: 'req', id: 'sub', type: 'herald.Subscribe', body: since === undefined ? { topic } : { topic, since } });
  await flush();
  return socket.received.slice(before);
}

async function publish(herald: Herald<Contract>, topic: `${'price' | 'capped' | 'all'}/${string}`, from: number, to: number): Promise<StreamPosition> {
  let position: StreamPosition = { epoch: '', offset: 0 };
  for (let n = from; n <= to; n++) position = await herald.publish(topic, 'price.Tick', { n });
  return position;
}

/** The topic notifications a socket got: offset, body's n, and whether it was marked conflated. */
function ticks(socket: MemorySocket, topic: string): Array<[number, number, boolean]> {
  return (socket.received as NotificationMessage[])
    .filter((e) => e.kind === 'notification' && e.topic === topic)
    .map((e) => [e.offset as number, (e.body as { n: number }).n, e.conflated === true]);
}

describe('conflated topics', () => {
  it('sends a subscriber that fell behind only the newest message, marked conflated, and every one after it', async () => {
    let historyReads = 0;
    class CountingBroker extends MemoryBroker {
      override history(...args: Parameters<MemoryBroker['history']>): ReturnType<MemoryBroker['history']> {
        historyReads++;
        return super.history(...args);
      }
    }
    const { herald } = server({ broker: new CountingBroker() });
    const slow = await connect(herald, 'slow');
    const fast = await connect(herald, 'fast');
    await subscribe(slow, 'price/ACME');
    await subscribe(fast, 'price/ACME');
    await publish(herald, 'price/ACME', 1, 1);
    slow.bufferedAmount = HIGH_WATER_MARK + 1;
    await publish(herald, 'price/ACME', 2, 50);
    slow.bufferedAmount = 0;
    slow.connection?.drained();
    await flush();
    await publish(herald, 'price/ACME', 51, 51);
    expect(ticks(slow, 'price/ACME')).toEqual([
      [1, 1, false],
      [50, 50, true],
      [51, 51, false],
    ]);
    expect(ticks(fast, 'price/ACME')).toHaveLength(51);
    expect(ticks(fast, 'price/ACME').some(([, , conflated]) => conflated)).toBe(false);
    // From what the node holds, without reading the history; no reset: the newest message is the whole state.
    expect(historyReads).toBe(0);
    expect(slow.received.filter((e) => e.kind === 'notification' && e.type === 'herald.TopicReset')).toEqual([]);
  });

  it('a topic that is not conflated still catches up through every message', async () => {
    const { herald } = server();
    const slow = await connect(herald, 'slow');
    await subscribe(slow, 'all/ACME');
    slow.bufferedAmount = HIGH_WATER_MARK + 1;
    await publish(herald, 'all/ACME', 1, 5);
    slow.bufferedAmount = 0;
    slow.connection?.drained();
    await flush();
    expect(ticks(slow, 'all/ACME').map(([offset]) => offset)).toEqual([1, 2, 3, 4, 5]);
  });

  it('recovers a subscription with since from the newest message, even past the history', async () => {
    const { herald } = server({ broker: new MemoryBroker({ historySize: 3 }) });
    const { epoch } = await publish(herald, 'price/ACME', 1, 10);
    const back = await connect(herald, 'back');
    const frames = await subscribe(back, 'price/ACME', { epoch, offset: 2 });
    expect(frames).toEqual([
      { kind: 'notification', type: 'price.Tick', topic: 'price/ACME', offset: 10, conflated: true, body: { n: 10 } },
      expect.objectContaining({ kind: 'resp', code: 200, body: expect.objectContaining({ epoch, offset: 10, recovered: true }) }),
    ]);
    // A client that has the newest one is sent nothing.
    const current = await connect(herald, 'current');
    expect((await subscribe(current, 'price/ACME', { epoch, offset: 10 })).map((e) => e.kind)).toEqual(['resp']);
  });

  it('does not claim a recovery across a reset of the stream', async () => {
    const { herald } = server();
    await publish(herald, 'price/ACME', 1, 3);
    const back = await connect(herald, 'back');
    const frames = await subscribe(back, 'price/ACME', { epoch: 'other', offset: 2 });
    expect(frames.at(-1)).toMatchObject({ kind: 'resp', code: 200, body: { recovered: false, reason: 'epoch_changed' } });
  });

  it('with maxRate, sends live subscribers the newest message of each slot, and stops its timer when idle', async () => {
    const { herald, clock } = server();
    const watcher = await connect(herald, 'watcher');
    await subscribe(watcher, 'capped/ACME');
    // The first goes out at once; the next ones within the 100 ms slot are held, the newest wins.
    await publish(herald, 'capped/ACME', 1, 5);
    expect(ticks(watcher, 'capped/ACME')).toEqual([[1, 1, false]]);
    clock.advance(100);
    expect(ticks(watcher, 'capped/ACME')).toEqual([
      [1, 1, false],
      [5, 5, true],
    ]);
    // A slot with nothing new stops the timer; the next message after it goes out at once.
    clock.advance(100);
    clock.advance(100);
    await publish(herald, 'capped/ACME', 6, 6);
    expect(ticks(watcher, 'capped/ACME').at(-1)).toEqual([6, 6, false]);
    // At most one message per slot however many are published.
    for (let slot = 0; slot < 10; slot++) {
      await publish(herald, 'capped/ACME', 100 + slot * 10, 109 + slot * 10);
      clock.advance(100);
    }
    const sent = ticks(watcher, 'capped/ACME').slice(3);
    expect(sent.length).toBeLessThanOrEqual(11);
    expect(sent.at(-1)?.[1]).toBe(199);
    await herald.close();
  });

  it('answers a subscribe of a live subscriber with what it was sent, not a message still held', async () => {
    const { herald } = server();
    const watcher = await connect(herald, 'watcher');
    await subscribe(watcher, 'capped/ACME');
    const { epoch } = await publish(herald, 'capped/ACME', 1, 3);
    const frames = await subscribe(watcher, 'capped/ACME');
    expect(frames.at(-1)).toMatchObject({ code: 200, body: { epoch, offset: 1 } });
  });

  it('is checked by defineContract', () => {
    const topics = (conflate: unknown) => defineContract({ requests: {}, notifications: { 'a.B': { body: z.object({}) } }, topics: { 'x/{id}': { notifications: ['a.B'], conflate } as never } });
    expect(() => topics({ maxRate: 0 })).toThrow('conflate is true, false or { maxRate }');
    expect(() => topics({ maxRate: 5_000 })).toThrow(TypeError);
    expect(() => topics('yes')).toThrow(TypeError);
    expect(() => topics({ maxRate: 20 })).not.toThrow();
  });
});
