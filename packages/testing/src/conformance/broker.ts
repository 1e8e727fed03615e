/**
 * The broker contract (the `Broker` interface's MUSTs) as a vitest suite, so every broker —
 * the embedded `MemoryBroker`, `@herald/redis`'s `RedisBroker` — is held to the same rules:
 * contiguous offsets per epoch, in-order delivery to every listener, history after a position
 * only when it is complete, and direct channels. Delivery may be asynchronous (another
 * process in between), so expectations about listeners wait for them.
 */
import type { Broker, TopicMessage } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually as retry } from '../eventually.ts';

/** Broker deliveries are expected within 2 s. */
const eventually = (check: () => void): Promise<void> => retry(check, 2000, 5);

/** Makes a fresh broker per test; `peer` (optional) makes a second one on the same backend, as another node. */
export interface BrokerTarget {
  readonly name: string;
  readonly create: () => Broker | Promise<Broker>;
  /** A broker sharing `first`'s state, as a second node does (MemoryBroker: the same instance). */
  readonly peer: (first: Broker) => Broker | Promise<Broker>;
  /** History kept per topic by `create` (the suite publishes past it). */
  readonly historySize: number;
}


let topicCounter = 0;

/**
 * Defines the broker contract tests for one broker.
 *
 * @example
 * describeBroker({ name: 'MemoryBroker', create: () => new MemoryBroker({ historySize: 5 }), peer: (b) => b, historySize: 5 });
 */
export function describeBroker(target: BrokerTarget): void {
  describe(`broker contract: ${target.name}`, () => {
    const open: Broker[] = [];
    const make = async (): Promise<Broker> => {
      const broker = await target.create();
      open.push(broker);
      return broker;
    };
    const peerOf = async (broker: Broker): Promise<Broker> => {
      const peer = await target.peer(broker);
      if (peer !== broker) open.push(peer);
      return peer;
    };
    const fresh = (): string => `contract/${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}-${++topicCounter}`;
    const publishMany = async (broker: Broker, topic: string, count: number): Promise<void> => {
      for (let i = 1; i <= count; i++) await broker.publish(topic, 'test.Event', JSON.stringify({ i }));
    };

    afterEach(async () => {
      await Promise.all(open.splice(0).map((broker) => broker.close()));
    });

    it('announces the history it keeps, if it does, as it keeps it (retention.messages = historySize)', async () => {
      const broker = await make();
      if (broker.retention !== undefined) expect(broker.retention.messages).toBe(target.historySize);
    });

    it('starts a topic at offset 0 with an epoch, and counts offsets contiguously from 1', async () => {
      const broker = await make();
      const topic = fresh();
      const start = await broker.position(topic);
      expect(start.offset).toBe(0);
      expect(start.epoch.length).toBeGreaterThan(0);
      const positions = [];
      for (let i = 0; i < 3; i++) positions.push(await broker.publish(topic, 'test.Event', undefined));
      expect(positions).toEqual([1, 2, 3].map((offset) => ({ epoch: start.epoch, offset })));
    });

    it('publishes once per idempotency key and topic on every node: a retry, here or on another node, gets the first position and delivers nothing', async () => {
      const broker = await make();
      const other = await peerOf(broker);
      const [topic, elsewhere] = [fresh(), fresh()];
      const seen: (string | undefined)[] = [];
      await broker.subscribe(topic, (m) => seen.push(m.body));
      const first = await broker.publish(topic, 'test.Event', '"a"', 'key-a');
      expect(await broker.publish(topic, 'test.Event', '"a"', 'key-a')).toEqual(first);
      expect(await other.publish(topic, 'test.Event', '"a"', 'key-a')).toEqual(first);
      // Concurrent retries on two nodes: one publish in all.
      const racing = await Promise.all([broker.publish(topic, 'test.Event', '"b"', 'key-b'), other.publish(topic, 'test.Event', '"b"', 'key-b')]);
      expect(racing[0]).toEqual(racing[1]);
      // The key is per topic; without a key nothing is held back.
      expect((await other.publish(elsewhere, 'test.Event', '"a"', 'key-a')).offset).toBe(1);
      await broker.publish(topic, 'test.Event', '"c"');
      await broker.publish(topic, 'test.Event', '"c"');
      await eventually(() => expect(seen).toEqual(['"a"', '"b"', '"c"', '"c"']));
      expect((await broker.position(topic)).offset).toBe(4);
    });

    it('keeps the history useTopicRetention gives a topic, on every node, and its own for the others', async () => {
      const broker = await make();
      const other = await peerOf(broker);
      if (broker.useTopicRetention === undefined) return;
      const [small, plain] = [`${fresh()}/small`, fresh()];
      const retentionOf = (topic: string) => (topic.endsWith('/small') ? { messages: 2 } : undefined);
      broker.useTopicRetention(retentionOf);
      other.useTopicRetention?.(retentionOf);
      const count = target.historySize + 1;
      await publishMany(broker, small, 3);
      await publishMany(other, small, 2);
      await publishMany(broker, plain, count);
      const { epoch } = await broker.position(small);
      // Offsets 1–3 are gone from small: only its last two (4 and 5) are held.
      expect((await broker.history(small, { epoch, offset: 2 })).complete).toBe(false);
      const recent = await other.history(small, { epoch, offset: 3 });
      expect(recent.messages.map((m) => m.offset)).toEqual([4, 5]);
      const plainEpoch = (await broker.position(plain)).epoch;
      const held = await broker.history(plain, { epoch: plainEpoch, offset: count - target.historySize });
      expect(held.complete).toBe(true);
      expect(held.messages).toHaveLength(target.historySize);
    });

    it('keeps topics apart', async () => {
      const broker = await make();
      const [a, b] = [fresh(), fresh()];
      await publishMany(broker, a, 2);
      await publishMany(broker, b, 5);
      expect([(await broker.position(a)).offset, (await broker.position(b)).offset]).toEqual([2, 5]);
    });

    it('delivers every message to every listener on every node, in order, until unsubscribed', async () => {
      const broker = await make();
      const other = await peerOf(broker);
      const topic = fresh();
      const first: TopicMessage[] = [];
      const second: number[] = [];
      const listener = (m: TopicMessage) => first.push(m);
      await broker.subscribe(topic, listener);
      await other.subscribe(topic, (m) => second.push(m.offset));
      await publishMany(broker, topic, 3);
      await eventually(() => expect(first).toHaveLength(3));
      await broker.unsubscribe(topic, listener);
      await publishMany(other, topic, 1);
      await eventually(() => expect(second).toEqual([1, 2, 3, 4]));
      const { epoch } = await broker.position(topic);
      expect(first).toEqual([1, 2, 3].map((offset) => ({ topic, epoch, offset, type: 'test.Event', body: JSON.stringify({ i: offset }) })));
    });

    it('delivers a message without a body with body undefined', async () => {
      const broker = await make();
      const topic = fresh();
      const seen: TopicMessage[] = [];
      await broker.subscribe(topic, (m) => seen.push(m));
      await broker.publish(topic, 'test.Empty', undefined);
      await eventually(() => expect(seen).toHaveLength(1));
      expect(seen[0]?.body).toBeUndefined();
      const history = await broker.history(topic, { epoch: seen[0]?.epoch ?? '', offset: 0 });
      expect(history.messages[0]?.body).toBeUndefined();
    });

    it('answers history after a position while it reaches back that far', async () => {
      const broker = await make();
      const topic = fresh();
      const total = target.historySize * 3;
      await publishMany(broker, topic, total);
      const { epoch } = await broker.position(topic);
      const recent = await broker.history(topic, { epoch, offset: total - 2 });
      expect(recent).toEqual({
        position: { epoch, offset: total },
        complete: true,
        messages: [total - 1, total].map((offset) => ({ topic, epoch, offset, type: 'test.Event', body: JSON.stringify({ i: offset }) })),
      });
      expect(await broker.history(topic, { epoch, offset: total })).toEqual({ position: { epoch, offset: total }, messages: [], complete: true });
      expect((await broker.history(topic, { epoch, offset: 1 })).complete).toBe(false);
      expect((await broker.history(topic, { epoch, offset: total + 1 })).complete).toBe(false);
      expect((await broker.history(topic, { epoch: 'other', offset: total - 1 })).complete).toBe(false);
    });

    it('serves complete history of an empty topic from offset 0', async () => {
      const broker = await make();
      const topic = fresh();
      const { epoch } = await broker.position(topic);
      expect(await broker.history(topic, { epoch, offset: 0 })).toEqual({ position: { epoch, offset: 0 }, messages: [], complete: true });
    });

    it('shares topics between nodes: offsets and history are the same everywhere', async () => {
      const broker = await make();
      const other = await peerOf(broker);
      const topic = fresh();
      await publishMany(broker, topic, 2);
      await publishMany(other, topic, 2);
      const position = await other.position(topic);
      expect(position).toEqual(await broker.position(topic));
      expect(position.offset).toBe(4);
      expect((await other.history(topic, { epoch: position.epoch, offset: 1 })).messages.map((m) => m.offset)).toEqual([2, 3, 4]);
    });

    it('delivers direct payloads to the channel listeners on every node, and nothing once unlistened', async () => {
      const broker = await make();
      const other = await peerOf(broker);
      const heard: string[] = [];
      const elsewhere: string[] = [];
      const listener = (payload: string) => heard.push(payload);
      await broker.listenDirect('user:a', listener);
      await other.listenDirect('user:a', (payload) => elsewhere.push(payload));
      await other.listenDirect('user:b', () => elsewhere.push('wrong'));
      await other.sendDirect('user:a', 'one');
      await eventually(() => expect([heard, elsewhere]).toEqual([['one'], ['one']]));
      await broker.unlistenDirect('user:a', listener);
      await broker.sendDirect('user:a', 'two');
      await eventually(() => expect(elsewhere).toEqual(['one', 'two']));
      expect(heard).toEqual(['one']);
    });
  });
}
