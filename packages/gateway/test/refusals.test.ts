/**
 * Upgrade refusals through the gateway, with the seed's strategy: a native client gets the
 * backend's HTTP status and JSON body; a browser gets an accepted upgrade, `herald.Goodbye`
 * and the close code 4000 + status with the reason (its JavaScript cannot read an HTTP status).
 * A Herald backend refuses browsers in-band itself; that Goodbye and code pass through.
 */
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { connect, upgradeRefusal } from '@herald/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { createBackendHerald } from './backend-app.ts';
import { startRefusingServer, type RefusingServer } from './refusing-server.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };
let refusing: RefusingServer;
let herald: HeraldUwsServer;
let toRefusing: Gateway;
let toHerald: Gateway;
let toNothing: Gateway;

const wsUrl = (gateway: Gateway): string => `ws://127.0.0.1:${gateway.port}/ws`;

beforeAll(async () => {
  refusing = await startRefusingServer();
  herald = await serveHerald(createBackendHerald({ node: 'refusals', origins: ['http://allowed.test'] }), { port: 0, host: '127.0.0.1' });
  const common = { port: 0, host: '127.0.0.1', logger: quiet } as const;
  toRefusing = await serveGateway({ ...common, backends: [refusing.url] });
  toHerald = await serveGateway({ ...common, backends: [`ws://127.0.0.1:${herald.port}/ws`] });
  toNothing = await serveGateway({ ...common, backends: ['ws://127.0.0.1:1/ws'] });
});

afterAll(async () => {
  await Promise.all([toRefusing?.close(), toHerald?.close(), toNothing?.close()]);
  await herald?.close();
  await refusing?.close();
});

describe('native clients get the HTTP status and JSON body', () => {
  for (const status of [401, 403, 429, 503]) {
    it(`${status}`, async () => {
      const refusal = await upgradeRefusal(wsUrl(toRefusing), { headers: { authorization: `Bearer status-${status}` } });
      expect(refusal).toMatchObject({
        status,
        headers: { 'retry-after': '2', 'content-type': 'application/json' },
        body: { error: 'refused_here', message: `refused with ${status} by the backend` },
      });
    });
  }

  it("a Herald backend's 401 invalid_token", async () => {
    const refusal = await upgradeRefusal(wsUrl(toHerald), { headers: { authorization: 'Bearer nobody' } });
    expect(refusal).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
  });

  it('503 no_backend when no backend is healthy', async () => {
    const refusal = await upgradeRefusal(wsUrl(toNothing), { headers: { authorization: 'Bearer user:a' } });
    expect(refusal).toMatchObject({ status: 503, headers: { 'retry-after': '1' }, body: { error: 'no_backend' } });
  });
});

describe('browsers get the upgrade, a Goodbye and 4000 + status', () => {
  for (const status of [401, 403, 429, 503]) {
    it(`${4000 + status}`, async () => {
      // `ws` sends the Origin a browser would; the Authorization header only picks the status here.
      const tester = await connect(wsUrl(toRefusing), { headers: { origin: 'http://allowed.test', authorization: `Bearer status-${status}` }, skipWelcome: true });
      const closed = await tester.closed;
      expect(closed).toEqual({ code: 4000 + status, reason: `refused with ${status} by the backend` });
      expect(tester.log).toEqual([
        { kind: 'notification', type: 'herald.Goodbye', body: { code: 4000 + status, reason: `refused with ${status} by the backend`, retryAfterMs: 2000, error: 'refused_here' } },
      ]);
    });
  }

  it("a Herald backend's own in-band refusal (origin not allowed) passes through", async () => {
    const tester = await connect(wsUrl(toHerald), { headers: { origin: 'http://elsewhere.test' }, skipWelcome: true });
    expect(await tester.closed).toMatchObject({ code: 4403 });
    expect(tester.log).toMatchObject([{ type: 'herald.Goodbye', body: { code: 4403 } }]);
  });

  it('4503 no_backend when no backend is healthy', async () => {
    const tester = await connect(wsUrl(toNothing), { headers: { origin: 'http://allowed.test' }, skipWelcome: true });
    expect(await tester.closed).toEqual({ code: 4503, reason: 'no backend available' });
  });
});
