/** @herald/uws over real sockets on loopback, with real `ws` clients. */
import { createRequire } from 'node:module';
import type { NotificationMessage } from '@herald/core';
import { and, connect, not, upgradeRefusal, withKind, withProperty, withType, type Tester } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { isNative, loadUws, type UwsModule } from '../src/index.ts';
import { start, type Running } from './server.ts';

let running: Running | undefined;
const testers: Tester[] = [];

async function open(options: Parameters<typeof connect>[1] = {}): Promise<Tester> {
  const tester = await connect((running as Running).url, options);
  testers.push(tester);
  return tester;
}

afterEach(async () => {
  for (const tester of testers.splice(0)) if (tester.closeInfo === undefined) tester.drop();
  await running?.server.close();
  running = undefined;
});

describe('native binary', () => {
  it('loads the native uWebSockets.js', () => {
    expect(isNative(loadUws())).toBe(true);
  });

  it('says how to install uWebSockets.js when it is missing', () => {
    const missing = () => {
      throw Object.assign(new Error("Cannot find module 'uWebSockets.js'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(() => loadUws(missing)).toThrow(/uWebSockets.js is not installed.*npm install uWebSockets.js@github:uNetworking/);
  });

  it('recognises the JavaScript fallback and refuses it', () => {
    const require = createRequire(import.meta.url);
    const fallback = require('uWebSockets.js/dist/index.js') as UwsModule;
    expect(isNative(fallback)).toBe(false);
    process.env['UWS_USE_FALLBACK'] = '1';
    try {
      expect(() => loadUws()).toThrow(/refuses to run on the JavaScript fallback/);
    } finally {
      delete process.env['UWS_USE_FALLBACK'];
    }
  });
});

describe('the full exchange over uWS', () => {
  it('open → authenticate → request/response → subscribe → notify → ack → drop → resume → recovered', async () => {
    running = await start();
    const alice = await open();
    expect(alice.welcome.authenticated).toBe(false);
    expect((await alice.request('chat.Count', {})).code).toBe(401);
    expect(await alice.request('herald.Authenticate', { token: 'user:alice' })).toMatchObject({ code: 200, body: { userId: 'alice' } });

    alice.send({ kind: 'req', id: 'once', type: 'chat.Count', body: {} });
    alice.send({ kind: 'req', id: 'once', type: 'chat.Count', body: {} });
    await alice.waitFor(withProperty('reqId', 'once'));
    await alice.expectNothing(60, withProperty('body.calls', 2));
    expect(running.calls).toBe(1);

    await alice.request('chat.Join', { room: 'lobby' });
    const subscribed = await alice.waitFor<NotificationMessage<string, { epoch: string }>>(
      and(withType('herald.Subscribed'), withProperty('body.topic', 'room/lobby')),
    );
    const epoch = subscribed.body?.epoch;
    const bob = await open({ headers: { authorization: 'Bearer user:bob' } });
    expect(bob.welcome).toMatchObject({ authenticated: true, userId: 'bob' });
    await bob.request('chat.Send', { room: 'lobby', text: 'one' });
    expect(await alice.waitFor(withType('chat.Message'))).toMatchObject({ topic: 'room/lobby', offset: 1 });
    await bob.request('chat.Whisper', { to: 'alice', text: 'w1' });
    expect(await alice.waitFor(withType('chat.Whispered'))).toMatchObject({ seq: 1 });
    alice.ack(1);

    await alice.drop();
    await bob.request('chat.Whisper', { to: 'alice', text: 'w2' });
    await bob.request('chat.Send', { room: 'lobby', text: 'two' });

    const again = await open({ token: 'user:alice' });
    const resumed = await again.request('herald.Resume', {
      sessionId: alice.welcome.sessionId,
      seq: 1,
      topics: { 'room/lobby': { epoch, offset: 1 } },
    });
    expect(resumed).toMatchObject({ code: 200, body: { sessionId: alice.welcome.sessionId, recovered: true } });
    expect(again.log.filter(withType('chat.Whispered'))).toMatchObject([{ seq: 2, body: { text: 'w2' } }]);
    expect(again.log.filter(withType('chat.Message'))).toMatchObject([{ offset: 2, body: { text: 'two' } }]);
    again.send({ kind: 'req', id: 'once', type: 'chat.Count', body: {} });
    expect(await again.waitFor(withProperty('reqId', 'once'), { fresh: true })).toMatchObject({ body: { calls: 1 } });
    expect(running.calls).toBe(1);
  });
});

describe('bad input over uWS', () => {
  const deep = '{"kind":"req","id":"d","type":"x.Y","body":' + '['.repeat(40) + ']'.repeat(40) + '}';
  const table: Array<[string, string | Uint8Array, Record<string, unknown>]> = [
    ['invalid JSON', '{nope', { type: 'herald.Error', body: { code: 400, error: 'invalid_json' } }],
    ['a JSON array', '[1,2]', { type: 'herald.Error', body: { code: 400, error: 'invalid_envelope' } }],
    ['an unknown kind', '{"kind":"shout"}', { type: 'herald.Error', body: { code: 400, error: 'invalid_envelope' } }],
    ['a request without id', '{"kind":"req","type":"chat.Count"}', { type: 'herald.Error', body: { code: 400, error: 'invalid_envelope' } }],
    ['a request without type', '{"kind":"req","id":"n1"}', { reqId: 'n1', code: 400, body: { error: 'invalid_envelope' } }],
    ['a server-only kind', '{"kind":"resp","reqId":"1","type":"a","code":200}', { type: 'herald.Error', body: { error: 'invalid_envelope' } }],
    ['a negative ack', '{"kind":"ack","seq":-1}', { type: 'herald.Error', body: { error: 'invalid_envelope' } }],
    ['deep nesting', deep, { reqId: 'd', code: 400, body: { error: 'too_deep' } }],
    ['deep nesting without a readable id', `{"kind":"req","pad":"${'x'.repeat(600)}","id":"d2","body":${'['.repeat(40)}${']'.repeat(40)}}`, { type: 'herald.Error', body: { code: 400, error: 'too_deep' } }],
    ['a binary frame', new Uint8Array([1, 2, 3]), { type: 'herald.Error', body: { code: 400, error: 'binary_frame' } }],
    ['a schema violation', '{"kind":"req","id":"v1","type":"chat.Send","body":{"room":5}}', { reqId: 'v1', code: 400, body: { error: 'validation_failed' } }],
    ['an unknown type', '{"kind":"req","id":"u1","type":"chat.Nope","body":{}}', { reqId: 'u1', code: 404, body: { error: 'unknown_type' } }],
    ['an unknown system type', '{"kind":"req","id":"u2","type":"herald.Nope"}', { reqId: 'u2', code: 404, body: { error: 'unknown_type' } }],
    ['a bad subscribe body', '{"kind":"req","id":"s1","type":"herald.Subscribe","body":{"topic":"bad topic"}}', { reqId: 's1', code: 400 }],
    ['a handler error', '{"kind":"req","id":"f1","type":"chat.Forbidden","body":{}}', { reqId: 'f1', code: 403, body: { error: 'not_yours' } }],
    ['a handler crash', '{"kind":"req","id":"c1","type":"chat.Crash","body":{}}', { reqId: 'c1', code: 500, body: { error: 'internal', message: 'internal server error' } }],
  ];

  it.each(table)('answers %s and keeps this and other sessions working', async (_name, frame, expected) => {
    running ??= await start();
    const victim = await open({ token: 'user:victim' });
    const bystander = await open({ token: 'user:bystander' });
    victim.send(frame);
    const answer = await victim.waitFor(
      and(not(withType('herald.Welcome')), not(withType('herald.Subscribed')), not(withType('herald.Authenticate'))),
      { fresh: true },
    );
    expect(answer).toMatchObject(expected);
    expect((await victim.request('chat.Join', { room: 'after' })).code).toBe(200);
    expect((await bystander.request('chat.Join', { room: 'after' })).code).toBe(200);
  });

  it('closes the connection on a frame over twice maxMessageBytes (the uWS hard limit), leaving others alone', async () => {
    running = await start({ limits: { maxMessageBytes: 1024 } });
    const victim = await open({ token: 'user:victim' });
    const bystander = await open({ token: 'user:bystander' });
    victim.send(JSON.stringify({ kind: 'req', id: 'big', type: 'chat.Send', body: { room: 'r', text: 'x'.repeat(1500) } }));
    expect(await victim.waitFor(withProperty('reqId', 'big'))).toMatchObject({ code: 413, body: { error: 'too_large' } });
    victim.send(JSON.stringify({ kind: 'req', id: 'huge', type: 'chat.Send', body: { room: 'r', text: 'x'.repeat(2100) } }));
    expect((await victim.closed).code).toBe(1006);
    expect((await bystander.request('chat.Join', { room: 'r' })).code).toBe(200);
  });

  it('closes with 4400 after ten undecodable frames in a row', async () => {
    running = await start();
    const client = await open({ token: 'user:bad' });
    for (let i = 0; i < 10; i++) client.send('garbage');
    expect(await client.closed).toEqual({ code: 4400, reason: 'too many invalid frames' });
    expect(client.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4400 } });
  });

  it('answers a flood with 429 and then closes with 4429', async () => {
    running = await start({ limits: { rateLimit: { messagesPerSecond: 5, burst: 10 } } });
    const client = await open({ token: 'user:flood' });
    for (let i = 0; i < 40; i++) client.send({ kind: 'req', id: `f${i}`, type: 'chat.Join', body: { room: 'r' } });
    expect(await client.waitFor(withProperty('code', 429))).toMatchObject({ body: { error: 'rate_limited' } });
    expect((await client.closed).code).toBe(4429);
  });
});

describe('slow consumers over uWS', () => {
  it('closes a client that lets responses pile up with 4507 (a close frame, not a cut), and keeps its session', async () => {
    running = await start({ highWaterMark: 64 * 1024, limits: { rateLimit: { messagesPerSecond: 1000, burst: 1000 } } });
    const client = await open({ token: 'user:slow' });
    const tcp = (client.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    for (let i = 0; i < 200; i++) client.send({ kind: 'req', id: `b${i}`, type: 'chat.Big', body: { kib: 32 } });
    await new Promise((resolve) => setTimeout(resolve, 500));
    tcp.resume();
    expect((await client.closed).code).toBe(4507);
    expect(running.herald.stats).toMatchObject({ sessions: 1, connections: 0 });
  });
});

describe('upgrade over uWS', () => {
  it('refuses a native client without the subprotocol with HTTP 406 and a JSON body', async () => {
    running = await start();
    const answer = await upgradeRefusal(running.url, { protocols: [] });
    expect(answer.status).toBe(406);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(answer.body).toMatchObject({ error: 'unsupported_subprotocol' });
  });

  it('tells a browser without the subprotocol with close 4406 after the upgrade', async () => {
    running = await start();
    const browser = await open({ protocols: ['chat'], headers: { origin: running.origin }, skipWelcome: true });
    expect(await browser.closed).toMatchObject({ code: 4406 });
    expect(browser.log).toMatchObject([{ type: 'herald.Goodbye', body: { code: 4406 } }]);
  });

  it('refuses a browser from another origin with 4403, and accepts its own origin', async () => {
    running = await start();
    const evil = await open({ headers: { origin: 'https://evil.example' }, skipWelcome: true });
    expect(await evil.closed).toEqual({ code: 4403, reason: "this page's origin is not allowed" });
    const own = await open({ headers: { origin: running.origin } });
    expect(own.welcome.sessionId).toHaveLength(22);
  });

  it('accepts origins from a configured allow-list', async () => {
    running = await start({ origins: ['https://app.example'] });
    expect((await open({ headers: { origin: 'https://app.example' } })).welcome.protocol).toBe('herald.v1');
    const other = await open({ headers: { origin: running.origin }, skipWelcome: true });
    expect((await other.closed).code).toBe(4403);
  });

  it('answers a bad bearer token with HTTP 401 for native clients and 4401 for browsers', async () => {
    running = await start();
    const answer = await upgradeRefusal(running.url, { headers: { authorization: 'Bearer nope' } });
    expect(answer).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
    const browser = await open({ headers: { authorization: 'Bearer nope', origin: running.origin }, skipWelcome: true });
    expect((await browser.closed).code).toBe(4401);
  });

  it('limits upgrades per address with 429 and Retry-After', async () => {
    running = await start({ upgradeRateLimit: { perSecond: 1, burst: 2 } });
    await open();
    await open();
    const answer = await upgradeRefusal(running.url);
    expect(answer).toMatchObject({ status: 429, body: { error: 'rate_limited' } });
    expect(answer.headers['retry-after']).toBe('1');
  });
});

describe('keep-alive over uWS', () => {
  const fast = { pingIntervalMs: 300, pingTimeoutMs: 300 };

  it('pings a browser at the application level and closes a silent one with 4408', async () => {
    running = await start({ limits: fast, sweepIntervalMs: 50 });
    const browser = await open({ headers: { origin: running.origin }, token: 'user:b', autoPong: false });
    await browser.waitFor(withKind('ping'), { timeoutMs: 1000 });
    expect(await browser.closed).toEqual({ code: 4408, reason: 'keep-alive timeout' });
  });

  it('keeps a browser that answers pings', async () => {
    running = await start({ limits: fast, sweepIntervalMs: 50 });
    const browser = await open({ headers: { origin: running.origin }, token: 'user:b' });
    await browser.expectNothing(1200, withType('herald.Goodbye'));
    expect(browser.closeInfo).toBeUndefined();
    expect(browser.log.filter(withKind('ping')).length).toBeGreaterThanOrEqual(2);
  });

  it('probes a silent native client with RFC pings while the server is sending, and keeps it alive', async () => {
    running = await start({ limits: fast, sweepIntervalMs: 50 });
    const native = await open({ token: 'user:n' });
    await native.request('chat.Join', { room: 'quiet' });
    const { herald } = running;
    // private notifications: each goes through the session, which so knows it has been sending
    const feed = setInterval(() => void herald.sendToUser('n', 'chat.Whispered', { from: 'feed', text: '.' }), 100);
    try {
      await native.expectNothing(1200, withKind('ping'));
      expect(native.closeInfo).toBeUndefined();
    } finally {
      clearInterval(feed);
    }
  });

  it('sends an idle native client app-level pings, so a client that cannot see RFC pings knows the server lives', async () => {
    running = await start({ limits: fast, sweepIntervalMs: 50 });
    const native = await open({ token: 'user:n' });
    await native.waitFor(withKind('ping'), { timeoutMs: 1000 });
    expect(native.closeInfo).toBeUndefined();
  });

  it('detects a half-open native peer within interval + timeout', async () => {
    running = await start({ limits: fast, sweepIntervalMs: 50 });
    const native = await open({ token: 'user:n' });
    expect(running.herald.stats.connections).toBe(1);
    (native.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    while (running.herald.stats.connections > 0 && Date.now() - started < 3000) await new Promise((r) => setTimeout(r, 25));
    expect(running.herald.stats.connections).toBe(0);
    expect(Date.now() - started).toBeLessThan(fast.pingIntervalMs + fast.pingTimeoutMs + 400);
  });
});

describe('graceful shutdown over uWS', () => {
  it('tells every client to reconnect elsewhere (4503) and stops listening', async () => {
    running = await start();
    const a = await open({ token: 'user:a' });
    const b = await open({ token: 'user:b' });
    const url = running.url;
    await running.server.close();
    running = undefined;
    expect(await a.closed).toEqual({ code: 4503, reason: 'server shutting down' });
    expect((await b.closed).code).toBe(4503);
    expect(a.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4503 } });
    await expect(connect(url)).rejects.toThrow();
  });
});
