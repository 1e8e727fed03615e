import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TopicMessage } from './broker.ts';
import { MemoryBroker } from './memory-broker.ts';

async function publishMany(broker: MemoryBroker, topic: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await broker.publish(topic, 'test.Event', JSON.stringify({ i }));
}

describe('MemoryBroker topics', () => {
  it('starts a topic at offset 0 with an epoch, and counts offsets contiguously from 1', async () => {
    const broker = new MemoryBroker();
    const start = await broker.position('room/a');
    expect(start.offset).toBe(0);
    expect(start.epoch).toMatch(/^[A-Za-z0-9_-]{6}$/);
    const positions = [];
    for (let i = 0; i < 3; i++) positions.push(await broker.publish('room/a', 'test.Event', undefined));
    expect(positions).toEqual([1, 2, 3].map((offset) => ({ epoch: start.epoch, offset })));
  });

  it('keeps topics apart, each with its own epoch and offsets', async () => {
    const broker = new MemoryBroker();
    await publishMany(broker, 'a', 2);
    await publishMany(broker, 'b', 5);
    const [a, b] = [await broker.position('a'), await broker.position('b')];
    expect([a.offset, b.offset]).toEqual([2, 5]);
    expect(a.epoch).not.toBe(b.epoch);
  });

  it('delivers each message to every listener, in offset order, until unsubscribed', async () => {
    const broker = new MemoryBroker();
    const first: TopicMessage[] = [];
    const second: number[] = [];
    const listener = (m: TopicMessage) => first.push(m);
    await broker.subscribe('t', listener);
    await broker.subscribe('t', (m) => second.push(m.offset));
    await publishMany(broker, 't', 3);
    await broker.unsubscribe('t', listener);
    await publishMany(broker, 't', 1);
    const { epoch } = await broker.position('t');
    expect(first).toEqual([1, 2, 3].map((offset) => ({ topic: 't', epoch, offset, type: 'test.Event', body: JSON.stringify({ i: offset }) })));
    expect(second).toEqual([1, 2, 3, 4]);
  });

  it('answers history after a position while it reaches back that far', async () => {
    const broker = new MemoryBroker({ historySize: 3 });
    await publishMany(broker, 't', 5);
    const { epoch } = await broker.position('t');
    const offsets = async (offset: number) => {
      const history = await broker.history('t', { epoch, offset });
      return { complete: history.complete, offsets: history.messages.map((m) => m.offset), position: history.position };
    };
    expect(await offsets(2)).toEqual({ complete: true, offsets: [3, 4, 5], position: { epoch, offset: 5 } });
    expect(await offsets(4)).toEqual({ complete: true, offsets: [5], position: { epoch, offset: 5 } });
    expect(await offsets(5)).toEqual({ complete: true, offsets: [], position: { epoch, offset: 5 } });
    expect(await offsets(1)).toEqual({ complete: false, offsets: [], position: { epoch, offset: 5 } });
    expect(await offsets(6)).toEqual({ complete: false, offsets: [], position: { epoch, offset: 5 } });
  });

  it('calls history from another epoch incomplete', async () => {
    const broker = new MemoryBroker();
    await publishMany(broker, 't', 2);
    const history = await broker.history('t', { epoch: 'other', offset: 0 });
    expect(history.complete).toBe(false);
    expect(history.messages).toEqual([]);
  });

  it('serves complete history of an empty topic from offset 0', async () => {
    const broker = new MemoryBroker();
    const { epoch } = await broker.position('t');
    expect(await broker.history('t', { epoch, offset: 0 })).toEqual({ position: { epoch, offset: 0 }, messages: [], complete: true });
  });

  it('keeps no history with historySize 0, but knows when nothing was missed', async () => {
    const broker = new MemoryBroker({ historySize: 0 });
    await publishMany(broker, 't', 3);
    const { epoch } = await broker.position('t');
    expect((await broker.history('t', { epoch, offset: 3 })).complete).toBe(true);
    expect((await broker.history('t', { epoch, offset: 2 })).complete).toBe(false);
  });

  it('forgets messages older than historyTtlMs', async () => {
    let now = 1000;
    const broker = new MemoryBroker({ historyTtlMs: 100, now: () => now });
    await publishMany(broker, 't', 2);
    now = 1050;
    await publishMany(broker, 't', 1);
    const { epoch } = await broker.position('t');
    expect((await broker.history('t', { epoch, offset: 0 })).complete).toBe(true);
    now = 1101;
    const later = await broker.history('t', { epoch, offset: 0 });
    expect(later.complete).toBe(false);
    const recent = await broker.history('t', { epoch, offset: 2 });
    expect(recent.messages.map((m) => m.offset)).toEqual([3]);
    now = 1151;
    expect(await broker.history('t', { epoch, offset: 3 })).toEqual({ position: { epoch, offset: 3 }, messages: [], complete: true });
    expect((await broker.history('t', { epoch, offset: 2 })).complete).toBe(false);
  });

  it('history is exactly the retained suffix after any position (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: -2, max: 45 }), async (size, count, since) => {
        const broker = new MemoryBroker({ historySize: size });
        await publishMany(broker, 't', count);
        const { epoch } = await broker.position('t');
        const history = await broker.history('t', { epoch, offset: since });
        const oldest = count - Math.min(size, count) + 1;
        const complete = since <= count && since + 1 >= oldest;
        expect(history.complete).toBe(complete);
        const expected = complete ? Array.from({ length: count - since }, (_, i) => since + 1 + i) : [];
        expect(history.messages.map((m) => m.offset)).toEqual(expected);
      }),
    );
  });

  it('starts new epochs after close()', async () => {
    const broker = new MemoryBroker();
    await publishMany(broker, 't', 2);
    const before = await broker.position('t');
    await broker.close();
    const after = await broker.position('t');
    expect(after.offset).toBe(0);
    expect(after.epoch).not.toBe(before.epoch);
  });
});

describe('MemoryBroker direct channels', () => {
  it('delivers to every listener of the channel only, and nothing once unlistened', async () => {
    const broker = new MemoryBroker();
    const a: string[] = [];
    const b: string[] = [];
    const listenerA = (p: string) => a.push(p);
    await broker.listenDirect('user:alice', listenerA);
    await broker.listenDirect('user:alice', (p) => b.push(p));
    await broker.listenDirect('user:bob', () => a.push('wrong channel'));
    await broker.sendDirect('user:alice', 'one');
    await broker.unlistenDirect('user:alice', listenerA);
    await broker.sendDirect('user:alice', 'two');
    await broker.sendDirect('user:nobody', 'lost');
    expect(a).toEqual(['one']);
    expect(b).toEqual(['one', 'two']);
  });
});

describe('MemoryBroker bounds', () => {
  it('keeps the epoch of a topic without listeners (a subscriber coming back resumes against it), within maxTopics', async () => {
    const broker = new MemoryBroker({ maxTopics: 100 });
    const listener = () => {};
    await broker.subscribe('kept', listener);
    const position = await broker.position('kept');
    await broker.unsubscribe('kept', listener);
    expect((await broker.history('kept', position)).complete).toBe(true);
    for (let i = 0; i < 1000; i++) {
      await broker.subscribe(`t${i}`, listener);
      await broker.unsubscribe(`t${i}`, listener);
    }
    expect((broker as unknown as { streams: Map<string, unknown> }).streams.size).toBe(100);
  });

  it('keeps at most maxTopics topics, forgetting the least recently used one without listeners (new epoch if it returns)', async () => {
    const broker = new MemoryBroker({ maxTopics: 3 });
    const listened = () => {};
    await broker.subscribe('kept', listened);
    const first = await broker.publish('old', 'x', '1');
    await broker.publish('b', 'x', '1');
    await broker.publish('c', 'x', '1');
    expect((broker as unknown as { streams: Map<string, unknown> }).streams.size).toBe(3);
    expect((await broker.history('kept', { epoch: (await broker.position('kept')).epoch, offset: 0 })).complete).toBe(true);
    const again = await broker.history('old', first);
    expect(again.complete).toBe(false);
    expect(again.position.epoch).not.toBe(first.epoch);
  });

  it('keeps exact history across many trims (ring of historySize)', async () => {
    const broker = new MemoryBroker({ historySize: 100 });
    let position = await broker.position('t');
    for (let n = 1; n <= 5000; n++) position = await broker.publish('t', 'x', String(n));
    const history = await broker.history('t', { epoch: position.epoch, offset: 4900 });
    expect(history.complete).toBe(true);
    expect(history.messages.map((m) => m.offset)).toEqual(Array.from({ length: 100 }, (_, i) => 4901 + i));
    expect(history.messages.map((m) => m.body)).toEqual(Array.from({ length: 100 }, (_, i) => String(4901 + i)));
    expect((await broker.history('t', { epoch: position.epoch, offset: 4899 })).complete).toBe(false);
  });
});

describe('MemoryBroker history byte budget', () => {
  /** A body costing exactly 100 bytes of history: 32 of overhead and 68 characters. */
  const body = (n: number) => JSON.stringify({ n: String(n).padStart(60, '0') });

  it('evicts the oldest messages of the topic published to least recently, counts them, and answers a resume behind them incomplete', async () => {
    expect(body(1).length).toBe(68);
    const broker = new MemoryBroker({ historyBytes: 1000 });
    const old = await broker.position('old');
    for (let n = 1; n <= 4; n++) await broker.publish('old', 'x', body(n));
    const busy = await broker.position('busy');
    for (let n = 1; n <= 6; n++) await broker.publish('busy', 'x', body(n));
    expect(broker.historyUsage).toEqual({ bytes: 1000, messages: 10, evicted: 0 });

    // Two more on `busy`: `old` was published to least recently, so its two oldest go.
    await broker.publish('busy', 'x', body(7));
    await broker.publish('busy', 'x', body(8));
    expect(broker.historyUsage).toEqual({ bytes: 1000, messages: 10, evicted: 2 });
    expect(await broker.history('old', old)).toEqual({ position: { epoch: old.epoch, offset: 4 }, messages: [], complete: false });
    const kept = await broker.history('old', { epoch: old.epoch, offset: 2 });
    expect([kept.complete, kept.messages.map((m) => m.body)]).toEqual([true, [body(3), body(4)]]);
    expect((await broker.history('busy', busy)).messages.map((m) => m.offset)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

    // Past `old`'s last message, the next topic in line loses its oldest.
    for (let n = 9; n <= 11; n++) await broker.publish('busy', 'x', body(n));
    expect(broker.historyUsage).toEqual({ bytes: 1000, messages: 10, evicted: 5 });
    expect((await broker.history('old', { epoch: old.epoch, offset: 4 })).complete).toBe(true);
    expect((await broker.history('busy', busy)).complete).toBe(false);
    expect((await broker.history('busy', { epoch: busy.epoch, offset: 1 })).messages.map((m) => m.offset)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    // Eviction is not a loss of the stream: the epoch and offsets carry on.
    expect(await broker.publish('old', 'x', body(5))).toEqual({ epoch: old.epoch, offset: 5 });
  });

  it('evicts a message larger than the whole budget at once, and still delivers it live', async () => {
    const broker = new MemoryBroker({ historyBytes: 50 });
    const heard: number[] = [];
    await broker.subscribe('t', (m) => heard.push(m.offset));
    const start = await broker.position('t');
    await broker.publish('t', 'x', body(1));
    expect(heard).toEqual([1]);
    expect(broker.historyUsage).toEqual({ bytes: 0, messages: 0, evicted: 1 });
    expect((await broker.history('t', start)).complete).toBe(false);
    expect((await broker.history('t', { epoch: start.epoch, offset: 1 })).complete).toBe(true);
  });

  it('gives back the bytes of messages trimmed by historySize, by age, and of forgotten topics', async () => {
    let now = 0;
    const broker = new MemoryBroker({ historySize: 3, historyTtlMs: 100, maxTopics: 2, now: () => now });
    for (let n = 1; n <= 5; n++) await broker.publish('a', 'x', body(n));
    // Timed history also counts 8 bytes of publish time per message.
    expect(broker.historyUsage).toEqual({ bytes: 3 * 108, messages: 3, evicted: 0 });
    now = 200;
    await broker.publish('a', 'x', body(6));
    expect(broker.historyUsage).toEqual({ bytes: 108, messages: 1, evicted: 0 });
    await broker.publish('b', 'x', body(1));
    await broker.publish('c', 'x', body(1));
    expect(broker.historyUsage).toEqual({ bytes: 2 * 108, messages: 2, evicted: 0 });
    await broker.close();
    expect(broker.historyUsage).toEqual({ bytes: 0, messages: 0, evicted: 0 });
  });

  it('takes Infinity for no budget and refuses anything but a number of bytes ≥ 0', () => {
    expect(() => new MemoryBroker({ historyBytes: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => new MemoryBroker({ historyBytes: 0 })).not.toThrow();
    for (const historyBytes of [-1, Number.NaN]) expect(() => new MemoryBroker({ historyBytes })).toThrow(/historyBytes must be a number of bytes ≥ 0/);
    expect(() => new MemoryBroker({ historyBytes: '1' as unknown as number })).toThrow(RangeError);
  });
});
