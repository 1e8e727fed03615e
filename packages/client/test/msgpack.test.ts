/** @herald/client over `herald.v1.msgpack` (`@herald/client/msgpack`) against the real uWS adapter on loopback. */
import { msgpack as serverMsgpack } from '@herald/core/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient, type HeraldClient } from '../src/index.ts';
import { msgpack } from '../src/msgpack.ts';
import { startServer, type TestContract, type TestServer } from './fixture.ts';

const clients: HeraldClient<TestContract>[] = [];
const servers: TestServer[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
});

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

function client(url: string, token: string, binary = true): HeraldClient<TestContract> {
  const created = createClient<TestContract>({ url, WebSocket, token, reconnectDelayMs: 20, ...(binary ? { codec: msgpack() } : {}) });
  clients.push(created);
  return created;
}

describe('herald.v1.msgpack', () => {
  it('requests, errors, topic and private notifications, side by side with a JSON client', async () => {
    const test = await startServer({ codecs: [serverMsgpack()] });
    servers.push(test);
    const ann = client(test.url, 'user:ann');
    expect(await ann.request('test.Echo', { text: 'héllo 👋' })).toEqual({ text: 'héllo 👋' });
    await expect(ann.request('test.Forbidden', {})).rejects.toMatchObject({ code: 403, reason: 'not_yours' });
    await expect(ann.request('test.Echo', { text: 5 as never })).rejects.toMatchObject({ code: 400, reason: 'validation_failed' });
    const ticks: number[] = [];
    const privates: number[] = [];
    await ann.subscribe('t/m', (body: { n: number }) => ticks.push(body.n)).ready;
    ann.on('test.Private', (body) => privates.push(body.n));
    const bob = client(test.url, 'user:bob', false);
    for (let n = 1; n <= 30; n++) {
      await bob.request('test.Publish', { topic: 't/m', n });
      await bob.request('test.Notify', { to: 'ann', n });
    }
    await until(() => ticks.length === 30 && privates.length === 30);
    expect(ticks).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(privates).toEqual(ticks);
    // Acknowledgements arrive as MessagePack too: the server lets the replayed frames go.
    await until(() => test.herald.stats.replayFrames === 0);
  });

  it('fails fatally with 406 unsupported_subprotocol against a server that does not offer herald.v1.msgpack', async () => {
    const test = await startServer();
    servers.push(test);
    const ann = client(test.url, 'user:ann');
    const error = await ann.request('test.Echo', { text: 'x' }).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ code: 406, reason: 'unsupported_subprotocol', closeCode: 4406, retry: 'fatal' });
  });
});
