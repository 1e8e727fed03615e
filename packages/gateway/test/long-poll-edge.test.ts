/**
 * Long-poll at the edge: a client that cannot use WebSocket polls the gateway, which holds a
 * WebSocket leg to a backend that serves WebSocket only. Requests, topic and private delivery
 * work as over WebSocket; refusals get the HTTP answer a Herald server's long-poll would give;
 * a client that stops polling has its backend leg closed within keep-alive's bound; a DELETE
 * ends the backend session; the gateway's shutdown reaches a held poll.
 */
import { connect, eventually } from '@herald/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { openLongPoll, type LongPollPeerClient } from './long-poll-client.ts';
import { startBackend, START_BOUND_MS, type BackendProcess } from './processes.ts';

const INTERVAL_MS = 1000;
const GRACE_MS = 1000;
/** Only bounds a hung wait: what is checked is below. */
const BOUND_MS = 30_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let backend: BackendProcess;
let gateway: Gateway;
let lp: string;

beforeAll(async () => {
  // The backend's own keep-alive is far slower than the gateway's, so the gateway is what notices.
  backend = await startBackend({ PING_INTERVAL_MS: '60000', PING_TIMEOUT_MS: '60000' });
  gateway = await serveGateway({
    backends: [backend.url],
    port: 0,
    host: '127.0.0.1',
    keepAlive: { intervalMs: INTERVAL_MS, graceMs: GRACE_MS },
    relink: false,
    logger: quiet,
  });
  lp = `http://127.0.0.1:${gateway.port}/lp`;
}, START_BOUND_MS);

afterAll(async () => {
  await gateway?.close();
  await backend?.kill();
});

async function open(user: string, headers: Record<string, string> = {}): Promise<LongPollPeerClient> {
  const opened = await openLongPoll(lp, { authorization: `Bearer user:${user}`, ...headers });
  if (!opened.ok) throw new Error(`open refused: ${opened.status} ${JSON.stringify(opened.body)}`);
  return opened.client;
}

async function answerTo(client: LongPollPeerClient, id: string): Promise<Record<string, unknown>> {
  const answer = () => client.messages.find((message) => message['reqId'] === id);
  await eventually(() => expect(answer()).toBeDefined(), BOUND_MS);
  return answer() as Record<string, unknown>;
}

describe('long-poll at the edge', () => {
  it('runs a session over a backend that serves WebSocket only: the Welcome in the open, requests, topic and private delivery', async () => {
    const client = await open('lp-ann');
    expect(client.messages[0]).toMatchObject({ type: 'herald.Welcome', body: { authenticated: true } });
    expect(backend.url).toMatch(/^ws:/);

    await client.send({ kind: 'req', id: 'echo', type: 'test.Echo', body: { text: 'over long-poll' } });
    expect(await answerTo(client, 'echo')).toMatchObject({ code: 200, body: { text: 'over long-poll' } });
    await client.send({ kind: 'req', id: 'join', type: 'test.Join', body: { room: 'big' } });
    expect(await answerTo(client, 'join')).toMatchObject({ code: 200 });

    // A WebSocket client on the same gateway publishes; the long-poll client gets every tick in order.
    const publisher = await connect(`ws://127.0.0.1:${gateway.port}/ws`, { headers: { authorization: 'Bearer user:lp-publisher' } });
    expect(await publisher.request('test.Big', { kib: 0, count: 200 })).toMatchObject({ code: 200, body: { sent: 200 } });
    const ticks = (): number[] => client.messages.filter((message) => message['type'] === 'test.Tick').map((message) => (message['body'] as { n: number }).n);
    await eventually(() => expect(ticks().length).toBe(200), BOUND_MS);
    expect(ticks()).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    await publisher.close();
    await client.close();
    await eventually(() => expect(gateway.stats.linksOpen).toBe(0), BOUND_MS);
  }, 2 * BOUND_MS);

  it('answers a refused open with the status and JSON body a Herald server gives: native (no Origin) and browser (the backend said Goodbye 4401)', async () => {
    const native = await openLongPoll(lp, { authorization: 'Bearer nobody' });
    expect(native).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    const browser = await openLongPoll(lp, { authorization: 'Bearer nobody', origin: 'http://allowed.test' });
    expect(browser).toMatchObject({ ok: false, status: 401, body: { error: 'invalid_token' } });
    const foreign = await openLongPoll(lp, { authorization: 'Bearer user:lp-foreign', origin: 'http://elsewhere.test' });
    expect(foreign).toMatchObject({ ok: false, status: 403 });
    const unnamed = await fetch(`${lp}/poll?ack=0`, { headers: { 'herald-session': 'no-such-session' } });
    expect(unnamed.status).toBe(404);
    expect(await unnamed.json()).toMatchObject({ error: 'unknown_session' });
    await eventually(() => expect(gateway.stats.linksOpen).toBe(0), BOUND_MS);
  }, 2 * BOUND_MS);

  it('closes the backend leg of a client that stopped polling within interval + grace of its last poll', async () => {
    const client = await open('lp-frozen');
    await client.send({ kind: 'req', id: 'echo', type: 'test.Echo', body: { text: 'then silence' } });
    await answerTo(client, 'echo');
    client.pause();
    // The poll outstanding now is the last one: it is answered at the poll timeout (the interval), then nothing.
    const lastPollAnsweredBy = Date.now() + INTERVAL_MS;
    // Whichever notices first ends the link: the gateway's keep-alive (`clientLegsLost`) or the long-poll store's idle timeout.
    await eventually(() => expect(gateway.stats.linksOpen).toBe(0), BOUND_MS, 10);
    const ms = Date.now() - lastPollAnsweredBy;
    console.log(`long-poll client stopped polling → backend leg closed ${ms} ms after its last poll (interval ${INTERVAL_MS} + grace ${GRACE_MS} ms)`);
    await eventually(async () => expect((await backend.stats()).connections).toBe(0), BOUND_MS);
  }, 2 * BOUND_MS);

  it("tells a held poll of the gateway's shutdown: Goodbye 4503 and the close", async () => {
    // drainMs only bounds the wait for the client's next poll, which brings it the close.
    const other = await serveGateway({ backends: [backend.url], port: 0, host: '127.0.0.1', relink: false, drainMs: BOUND_MS, logger: quiet });
    const opened = await openLongPoll(`http://127.0.0.1:${other.port}/lp`, { authorization: 'Bearer user:lp-leaving' });
    if (!opened.ok) throw new Error(`open refused: ${opened.status}`);
    const client = opened.client;
    await other.close();
    await eventually(() => expect(client.closed).toMatchObject({ code: 4503 }), BOUND_MS);
    expect(client.messages.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4503 } });
  }, 2 * BOUND_MS);
});
