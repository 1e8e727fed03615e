/**
 * Linked legs with real processes: a frozen client (SIGSTOP) gets its backend session detached,
 * a frozen backend gets its client closed with the resumable 4502, each by the gateway's
 * keep-alive on the leg that went silent, and the time it took is printed. Closes the peers
 * make on purpose pass through with their codes.
 */
import { connect, eventually } from '@herald/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { startBackend, startClient, START_BOUND_MS, type BackendProcess } from './processes.ts';

const INTERVAL_MS = 1000;
const GRACE_MS = 1000;
/** Only bounds a hung test: detection itself is checked against keep-alive's own bound below. */
const DETECTION_BOUND_MS = INTERVAL_MS + GRACE_MS + 15_000;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

let backend: BackendProcess;
let gateway: Gateway;
let url: string;

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
  url = `ws://127.0.0.1:${gateway.port}/ws`;
}, START_BOUND_MS);

afterAll(async () => {
  await gateway?.close();
  await backend?.kill();
});

describe('linked legs', () => {
  it('relays a request and its answer both ways', async () => {
    const tester = await connect(url, { headers: { authorization: 'Bearer user:relay' } });
    expect(tester.welcome.authenticated).toBe(true);
    const response = await tester.request('test.Echo', { text: 'through the gateway' });
    expect(response).toMatchObject({ code: 200, body: { text: 'through the gateway' } });
    await tester.close();
    await eventually(async () => expect((await backend.stats()).connections).toBe(0), 10_000);
    expect(gateway.stats.linksOpen).toBe(0);
  });

  it('a frozen client leg (SIGSTOP) has its backend session detached within interval + grace', async () => {
    const client = await startClient(url, 'frozen-client');
    await eventually(async () => expect((await backend.stats()).connections).toBe(1), 10_000);
    const lost = gateway.stats.clientLegsLost;
    client.process.kill('SIGSTOP');
    const t0 = Date.now();
    try {
      await eventually(async () => expect((await backend.stats()).connections).toBe(0), DETECTION_BOUND_MS, 20);
      const ms = Date.now() - t0;
      console.log(`client leg frozen → backend leg closed in ${ms} ms (interval ${INTERVAL_MS} + grace ${GRACE_MS} ms, sweep tick ${Math.min(INTERVAL_MS, GRACE_MS) / 8} ms)`);
      // Keep-alive noticed it: not before the leg had been silent for the interval and the grace.
      expect(ms).toBeGreaterThanOrEqual(GRACE_MS);
      expect(gateway.stats.clientLegsLost).toBe(lost + 1);
      // Detached, not ended: the session waits for the client to resume.
      expect((await backend.stats()).sessions).toBeGreaterThanOrEqual(1);
    } finally {
      await client.kill();
    }
  });

  it('a frozen backend (SIGSTOP) has its client closed with 4502 within interval + grace', async () => {
    const frozen = await startBackend({ PING_INTERVAL_MS: '60000', PING_TIMEOUT_MS: '60000' });
    const own = await serveGateway({ backends: [frozen.url], port: 0, host: '127.0.0.1', keepAlive: { intervalMs: INTERVAL_MS, graceMs: GRACE_MS }, relink: false, logger: quiet });
    try {
      const tester = await connect(`ws://127.0.0.1:${own.port}/ws`, { headers: { authorization: 'Bearer user:frozen-backend' } });
      frozen.process.kill('SIGSTOP');
      const t0 = Date.now();
      const closed = await Promise.race([
        tester.effectiveClose(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('client leg never closed')), DETECTION_BOUND_MS)),
      ]);
      const ms = Date.now() - t0;
      console.log(`backend frozen → client leg closed ${closed.code} in ${ms} ms (interval ${INTERVAL_MS} + grace ${GRACE_MS} ms)`);
      expect(closed).toMatchObject({ code: 4502, reason: 'backend lost' });
      expect(tester.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4502 } });
      expect(ms).toBeGreaterThanOrEqual(GRACE_MS);
      expect(own.stats.backendLegsLost).toBe(1);
    } finally {
      await own.close();
      await frozen.kill();
    }
  });

  it("passes the client's close code to the backend, and the backend's Goodbye and code to the client", async () => {
    const a = await connect(url, { headers: { authorization: 'Bearer user:pass-1' } });
    const b = await connect(url, { headers: { authorization: 'Bearer user:pass-1' } });
    // b resumes a's session: the backend closes a with Goodbye 4409, which the gateway relays as it is.
    const resumed = await b.request('herald.Resume', { sessionId: a.welcome.sessionId, seq: 0 });
    expect(resumed).toMatchObject({ code: 200, body: { sessionId: a.welcome.sessionId } });
    expect(await a.effectiveClose()).toMatchObject({ code: 4409 });
    expect(a.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4409 } });
    // A client's 1000 ends the session on the backend (it is not kept for a resume).
    await b.close(1000);
    await eventually(async () => expect(await backend.stats()).toMatchObject({ connections: 0 }), 10_000);
  });
});
