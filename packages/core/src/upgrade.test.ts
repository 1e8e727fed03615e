import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineContract } from './contract.ts';
import type { NotificationMessage } from './envelope.ts';
import { MemoryBroker } from './memory-broker.ts';
import { createHerald, type HeraldOptions } from './server.ts';
import { connectMemory, ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';
import { bearerToken, checkUpgrade, offeredProtocols, originAllowed, type UpgradeRequest } from './upgrade.ts';

const contract = defineContract({
  requests: { 'test.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) } },
  notifications: {},
});

function server(options: Partial<HeraldOptions<typeof contract>> = {}) {
  return createHerald({
    contract,
    clock: new ManualClock(),
    handlers: { 'test.Echo': (body) => body },
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5), expiresAt: 4_000_000_000_000 } : null),
    ...options,
  });
}

function request(headers: Record<string, string>): UpgradeRequest {
  return { url: 'ws://example.test/ws', headers: new Headers(headers) };
}

const BROWSER = { origin: 'http://localhost' };

describe('subprotocol', () => {
  it('selects herald.v1 among several offers', async () => {
    const decision = await server().upgrade(upgradeRequest({ 'sec-websocket-protocol': 'chat, herald.v1 ,other' }));
    expect(decision).toEqual({ ok: true, protocol: 'herald.v1', client: 'native', principal: null });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['another protocol', 'herald.v0, graphql-ws'],
  ])('refuses a native client with HTTP 406 and a JSON ErrorBody when the offer is %s', async (_what, offer) => {
    const headers = new Headers({ host: 'localhost' });
    if (offer !== undefined) headers.set('sec-websocket-protocol', offer);
    const decision = await server().upgrade({ url: 'ws://localhost/ws', headers });
    expect(decision).toMatchObject({
      ok: false,
      status: 406,
      client: 'native',
      body: { error: 'unsupported_subprotocol', message: 'offer the subprotocol herald.v1 in Sec-WebSocket-Protocol' },
    });
    if (decision.ok) return;
    expect(JSON.parse(JSON.stringify(decision.body))).toEqual(decision.body);
  });

  it('refuses a browser by accepting, then herald.Goodbye and close 4406', async () => {
    const socket = await connectMemory(server(), { ...BROWSER, 'sec-websocket-protocol': 'graphql-ws' });
    const reason = 'offer the subprotocol herald.v1 in Sec-WebSocket-Protocol';
    expect(socket.received).toEqual([{ kind: 'notification', type: 'herald.Goodbye', body: { code: 4406, reason, error: 'unsupported_subprotocol' } }]);
    expect(socket.closedWith).toEqual({ code: 4406, reason });
  });

  it('tells a browser adapter which offered protocol to select for the refusal', async () => {
    const decision = await server().upgrade(upgradeRequest({ ...BROWSER, 'sec-websocket-protocol': 'graphql-ws, x' }));
    expect(decision).toMatchObject({ ok: false, client: 'browser', protocol: 'graphql-ws' });
  });

  it('parses the Sec-WebSocket-Protocol list', () => {
    expect(offeredProtocols(null)).toEqual([]);
    expect(offeredProtocols(' a ,b,, c ')).toEqual(['a', 'b', 'c']);
  });
});

describe('Origin allow-list', () => {
  it('by default allows the origin of a loopback Host header only, and native clients without Origin', async () => {
    const herald = server();
    expect(await herald.upgrade(upgradeRequest({ origin: 'http://localhost' }))).toMatchObject({ ok: true, client: 'browser' });
    for (const host of ['127.0.0.1:9090', '[::1]:9090', 'app.localhost']) {
      expect(await herald.upgrade(upgradeRequest({ host, origin: `http://${host}` }))).toMatchObject({ ok: true });
    }
    expect(await herald.upgrade(upgradeRequest())).toMatchObject({ ok: true, client: 'native' });
    for (const origin of ['https://evil.example', 'http://localhost:8080', 'null', 'localhost']) {
      expect(await herald.upgrade(upgradeRequest({ origin }))).toEqual({
        ok: false,
        status: 403,
        client: 'browser',
        protocol: 'herald.v1',
        headers: {},
        body: { error: 'origin_not_allowed', message: "this page's origin is not allowed" },
      });
    }
  });

  it('refuses by default a page whose Host and Origin are both another name (DNS rebinding)', async () => {
    const herald = server();
    for (const host of ['evil.example', 'app.example:8443', '127.0.0.1.evil.example', '192.168.1.5:9090']) {
      expect(await herald.upgrade(upgradeRequest({ host, origin: `https://${host}` }))).toMatchObject({ ok: false, status: 403 });
    }
  });

  it('refuses to start with NODE_ENV=production and no origins, unless told it is development', () => {
    const previous = process.env['NODE_ENV'];
    process.env['NODE_ENV'] = 'production';
    try {
      expect(() => server()).toThrow(/NODE_ENV is production and no `origins` are set[^]*DNS rebinding/);
      expect(() => server({ origins: ['https://app.example'] })).not.toThrow();
      expect(() => server({ development: true })).not.toThrow();
    } finally {
      process.env['NODE_ENV'] = previous;
    }
  });

  it('refuses every Origin when the request has no Host header', () => {
    expect(originAllowed('http://localhost', request({}), {})).toBe(false);
  });

  it('follows an explicit list', async () => {
    const herald = server({ origins: ['https://app.example', 'https://admin.example'] });
    expect(await herald.upgrade(upgradeRequest({ origin: 'https://admin.example' }))).toMatchObject({ ok: true });
    expect(await herald.upgrade(upgradeRequest({ origin: 'http://localhost' }))).toMatchObject({ ok: false, status: 403 });
    expect(await herald.upgrade(upgradeRequest({ origin: 'https://app.example.evil' }))).toMatchObject({ ok: false, status: 403 });
    expect(originAllowed('https://anything.example', request({}), { origins: ['*'] })).toBe(true);
  });

  it('follows a predicate, which sees the request', async () => {
    const seen: string[] = [];
    const herald = server({
      origins: (origin, req) => {
        seen.push(req.headers.get('host') ?? '');
        return origin.endsWith('.example');
      },
    });
    expect(await herald.upgrade(upgradeRequest({ origin: 'https://a.example' }))).toMatchObject({ ok: true });
    expect(await herald.upgrade(upgradeRequest({ origin: 'https://a.example.org' }))).toMatchObject({ ok: false, status: 403 });
    expect(seen).toEqual(['localhost', 'localhost']);
  });

  it('tells a refused browser with Goodbye and close 4403', async () => {
    const socket = await connectMemory(server(), { origin: 'https://evil.example' });
    const reason = "this page's origin is not allowed";
    expect(socket.received).toEqual([{ kind: 'notification', type: 'herald.Goodbye', body: { code: 4403, reason, error: 'origin_not_allowed' } }]);
    expect(socket.closedWith).toEqual({ code: 4403, reason });
  });

  it('echoes no part of a refused Origin, however long, and the Goodbye says the same (§13)', async () => {
    const origin = `https://${'é'.repeat(100)}.example`;
    const socket = await connectMemory(server(), { origin });
    const reason = socket.closedWith?.reason ?? '';
    expect(reason).toBe("this page's origin is not allowed");
    expect(socket.received).toEqual([{ kind: 'notification', type: 'herald.Goodbye', body: { code: 4403, reason, error: 'origin_not_allowed' } }]);
  });

  it('lets a policy classify clients', () => {
    const decision = checkUpgrade(upgradeRequest({ origin: 'https://evil.example' }), { classifyClient: () => 'native' });
    expect(decision).toMatchObject({ ok: false, status: 403, client: 'native' });
  });
});

describe('bearer token', () => {
  it('reads Authorization: Bearer, case-insensitively; anything else in the header is malformed (null)', () => {
    expect(bearerToken(request({ authorization: 'Bearer abc.def' }))).toBe('abc.def');
    expect(bearerToken(request({ authorization: 'bearer   abc ' }))).toBe('abc');
    expect(bearerToken(request({ authorization: 'Basic abc' }))).toBeNull();
    expect(bearerToken(request({ authorization: 'Bearer a b' }))).toBeNull();
    expect(bearerToken(request({ authorization: 'Bearer ' + 'x'.repeat(4096) }))).toHaveLength(4096);
    expect(bearerToken(request({ authorization: 'Bearer ' + 'x'.repeat(4097) }))).toBeNull();
    expect(bearerToken(request({ authorization: 'Bearer abc==' }))).toBe('abc==');
    expect(bearerToken(request({}))).toBeUndefined();
  });

  it('refuses a bad token: native with 401 invalid_token, browser with Goodbye and 4401', async () => {
    const herald = server();
    expect(await herald.upgrade(upgradeRequest({ authorization: 'Bearer nobody' }))).toEqual({
      ok: false,
      status: 401,
      client: 'native',
      protocol: 'herald.v1',
      headers: {},
      body: { error: 'invalid_token', message: 'invalid token' },
    });
    const socket = await connectMemory(herald, { ...BROWSER, authorization: 'Bearer nobody' });
    expect(socket.received).toEqual([{ kind: 'notification', type: 'herald.Goodbye', body: { code: 4401, reason: 'invalid token', error: 'invalid_token' } }]);
    expect(socket.closedWith).toEqual({ code: 4401, reason: 'invalid token' });
  });

  it('refuses a token that has already expired', async () => {
    const herald = server({ authenticate: () => ({ userId: 'alice', expiresAt: new ManualClock().now() }) });
    expect(await herald.upgrade(upgradeRequest({ authorization: 'Bearer user:alice' }))).toMatchObject({ ok: false, status: 401 });
  });

  it('opens an authenticated session with a good token', async () => {
    const socket = await connectMemory(server(), { authorization: 'Bearer user:alice' });
    const welcome = socket.received[0] as NotificationMessage<string, Record<string, unknown>>;
    expect(welcome.type).toBe('herald.Welcome');
    expect(welcome.body).toMatchObject({ protocol: 'herald.v1', authenticated: true, userId: 'alice', expiresAt: 4_000_000_000_000 });
    expect(welcome.body?.['sessionId']).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });

  it("announces the broker's topic history in the Welcome (topicHistory)", async () => {
    const welcomeOf = async (broker: MemoryBroker) =>
      ((await connectMemory(server({ broker }), { authorization: 'Bearer user:alice' })).received[0] as NotificationMessage<string, Record<string, unknown>>).body?.['topicHistory'];
    expect(await welcomeOf(new MemoryBroker())).toEqual({ messages: 1000 });
    expect(await welcomeOf(new MemoryBroker({ historySize: 7, historyTtlMs: 60_000 }))).toEqual({ messages: 7, ttlMs: 60_000 });
  });

  it('gives the authenticate hook the client class and no session yet', async () => {
    const calls: unknown[] = [];
    const herald = server({
      authenticate: (token, info) => {
        calls.push([token, info]);
        return { userId: 'alice' };
      },
    });
    await herald.upgrade(upgradeRequest({ ...BROWSER, authorization: 'Bearer t1' }));
    expect(calls).toEqual([['t1', { sessionId: undefined, client: 'browser' }]]);
  });

  it('opens an unauthenticated session without a token', async () => {
    const socket = await connectMemory(server());
    expect(socket.received[0]).toMatchObject({ type: 'herald.Welcome', body: { authenticated: false } });
    expect((socket.received[0] as NotificationMessage<string, object>).body).not.toHaveProperty('userId');
  });
});

describe('upgrade rate limit per remote address', () => {
  const from = (remoteAddress: string, headers: Record<string, string> = {}): UpgradeRequest => ({ ...upgradeRequest(headers), remoteAddress });

  it('refuses an address beyond its burst with 429 rate_limited and Retry-After, refills over time, and leaves other addresses alone', async () => {
    const clock = new ManualClock();
    const herald = server({ clock, upgradeRateLimit: { perSecond: 1, burst: 2 } });
    expect(await herald.upgrade(from('10.0.0.1'))).toMatchObject({ ok: true });
    expect(await herald.upgrade(from('10.0.0.1'))).toMatchObject({ ok: true });
    expect(await herald.upgrade(from('10.0.0.1'))).toEqual({
      ok: false,
      status: 429,
      client: 'native',
      protocol: 'herald.v1',
      headers: { 'retry-after': '1' },
      body: { error: 'rate_limited', message: 'too many upgrades', retryAfterMs: 1000 },
    });
    expect(await herald.upgrade(from('10.0.0.2'))).toMatchObject({ ok: true });
    clock.advance(500);
    expect(await herald.upgrade(from('10.0.0.1'))).toMatchObject({ ok: false, status: 429, body: { retryAfterMs: 500 } });
    clock.advance(500);
    expect(await herald.upgrade(from('10.0.0.1'))).toMatchObject({ ok: true });
  });

  it('does not limit requests whose address the adapter does not know, nor when disabled', async () => {
    const limited = server({ upgradeRateLimit: { perSecond: 1, burst: 1 } });
    for (let i = 0; i < 3; i++) expect(await limited.upgrade(upgradeRequest())).toMatchObject({ ok: true });
    const unlimited = server({ upgradeRateLimit: false });
    for (let i = 0; i < 3; i++) expect(await unlimited.upgrade(from('10.0.0.1'))).toMatchObject({ ok: true });
  });

  it('tells a refused browser how long to wait: Goodbye with retryAfterMs, then close 4429', async () => {
    const herald = server({ upgradeRateLimit: { perSecond: 2, burst: 1 } });
    await herald.upgrade(from('10.0.0.1', BROWSER));
    const decision = await herald.upgrade(from('10.0.0.1', BROWSER));
    expect(decision).toMatchObject({ ok: false, status: 429, client: 'browser' });
    if (decision.ok) return;
    const socket = new MemorySocket();
    herald.reject(socket, decision);
    expect(socket.received).toEqual([
      { kind: 'notification', type: 'herald.Goodbye', body: { code: 4429, reason: 'too many upgrades', retryAfterMs: 500, error: 'rate_limited' } },
    ]);
    expect(socket.closedWith).toEqual({ code: 4429, reason: 'too many upgrades' });
  });
});

describe('during shutdown', () => {
  it('refuses new upgrades with 503 shutting_down (native) or Goodbye and 4503 (browser)', async () => {
    const herald = server();
    await herald.close();
    expect(await herald.upgrade(upgradeRequest({ authorization: 'Bearer user:alice' }))).toEqual({
      ok: false,
      status: 503,
      client: 'native',
      protocol: 'herald.v1',
      headers: {},
      body: { error: 'shutting_down', message: 'server shutting down' },
    });
    const socket = await connectMemory(herald, BROWSER);
    expect(socket.received).toEqual([{ kind: 'notification', type: 'herald.Goodbye', body: { code: 4503, reason: 'server shutting down', error: 'shutting_down' } }]);
    expect(socket.closedWith).toEqual({ code: 4503, reason: 'server shutting down' });
  });
});
