/**
 * End to end over uWS: a client resuming a topic from a position the broker's history byte
 * budget evicted is told `recovered: false` (never a silent gap), while a position still held
 * is replayed.
 */
import { MemoryBroker, type NotificationMessage } from '@herald/core';
import { connect, withProperty, withType } from '@herald/testing';
import { createConformanceHerald } from '@herald/testing/conformance';
import { afterEach, expect, it } from 'vitest';
import { serveHerald, type HeraldUwsServer } from '../src/index.ts';

let server: HeraldUwsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

it('answers a subscribe from an evicted position recovered: false, and replays one still held', async () => {
  // The conformance app publishes `{"n":…}` bodies: 32 bytes of overhead and 7 characters each for n < 10.
  const broker = new MemoryBroker({ historyBytes: 5 * 39 });
  server = await serveHerald(createConformanceHerald({}, { broker }), { port: 0, host: '127.0.0.1' });
  const tester = await connect(`ws://127.0.0.1:${server.port}/ws`, { token: 'user:ann' });
  try {
    const { epoch } = (await tester.request('herald.Subscribe', { topic: 'conf/quiet' })).body as { epoch: string };
    await tester.request('conf.Publish', { topic: 'conf/quiet', count: 5 });
    await tester.waitFor(withProperty('offset', 5));
    await tester.request('herald.Unsubscribe', { topic: 'conf/quiet' });
    expect(broker.historyUsage).toMatchObject({ messages: 5, evicted: 0 });

    // Another topic's publishes fill the budget: the quiet topic, published to least recently, loses its oldest three.
    await tester.request('conf.Publish', { topic: 'conf/busy', count: 3 });
    expect(broker.historyUsage).toMatchObject({ messages: 5, evicted: 3 });

    const before = tester.log.length;
    const lost = await tester.request('herald.Subscribe', { topic: 'conf/quiet', since: { epoch, offset: 1 } });
    expect(lost).toMatchObject({ code: 200, body: { topic: 'conf/quiet', epoch, offset: 5, recovered: false } });
    expect(tester.log.slice(before).filter(withType('conf.Published'))).toEqual([]);

    await tester.request('herald.Unsubscribe', { topic: 'conf/quiet' });
    const mark = tester.log.length;
    const held = await tester.request('herald.Subscribe', { topic: 'conf/quiet', since: { epoch, offset: 3 } });
    expect(held).toMatchObject({ code: 200, body: { offset: 5, recovered: true } });
    expect(tester.log.slice(mark).filter(withType('conf.Published')).map((m) => (m as NotificationMessage).offset)).toEqual([4, 5]);
  } finally {
    tester.drop();
  }
});
