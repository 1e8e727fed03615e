/**
 * The gateway's own shutdown, its stats and logger, and a backend leaving with a request in
 * flight and no other backend to move the session to: the client is told with the resumable
 * 4502, and retries the request itself on its resume.
 */
import type { LogFields } from '@herald/core';
import { connect, eventually } from '@herald/testing';
import { serveHerald } from '@herald/uws';
import { expect, it } from 'vitest';
import { serveGateway } from '../src/index.ts';
import { createBackendHerald } from './backend-app.ts';

const quiet = { info() {}, warn() {}, error() {} };

it('close(): every client gets Goodbye 4503 and 4503, its backend session is detached, and stats count what passed', async () => {
  const herald = createBackendHerald({ node: 'shutdown' });
  const backend = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  const events: LogFields[] = [];
  const gateway = await serveGateway({ backends: [`ws://127.0.0.1:${backend.port}/ws`], port: 0, host: '127.0.0.1', logger: { info: (fields) => events.push(fields), warn() {}, error() {} } });
  try {
    const testers = await Promise.all([1, 2, 3].map((n) => connect(`ws://127.0.0.1:${gateway.port}/ws`, { headers: { authorization: `Bearer user:s${n}` } })));
    for (const tester of testers) expect(await tester.request('test.Echo', { text: 'x' })).toMatchObject({ code: 200 });
    expect(gateway.stats).toMatchObject({ linksOpen: 3, linksOpened: 3 });
    expect(gateway.stats.framesToBackend).toBe(3);
    expect(gateway.stats.framesToClient).toBeGreaterThanOrEqual(9); // Welcome, Subscribed $all, the answer
    expect(events.filter((fields) => fields.event === 'backend_up')).toHaveLength(1);
    await gateway.close();
    for (const tester of testers) {
      expect(await tester.effectiveClose()).toMatchObject({ code: 4503 });
      expect(tester.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4503, reason: 'gateway shutting down' } });
    }
    expect(gateway.stats.linksOpen).toBe(0);
    // Detached, not ended: each client resumes through another gateway.
    await eventually(() => expect(herald.stats).toMatchObject({ sessions: 3, connections: 0 }), 10_000);
  } finally {
    await gateway.close();
    await backend.close();
  }
});

it('a backend leaving with a request in flight and nowhere to move it: the client gets 4502 once the relink gives up, and resumes itself', async () => {
  const herald = createBackendHerald({ node: 'in-flight' });
  const backend = await serveHerald(herald, { port: 0, host: '127.0.0.1', drainMs: 100 });
  const gateway = await serveGateway({ backends: [`ws://127.0.0.1:${backend.port}/ws`], port: 0, host: '127.0.0.1', relinkTimeoutMs: 500, logger: quiet });
  try {
    const tester = await connect(`ws://127.0.0.1:${gateway.port}/ws`, { headers: { authorization: 'Bearer user:busy' } });
    tester.send({ kind: 'req', id: 'slow-1', type: 'test.Slow', body: { ms: 3000 } });
    await eventually(() => expect(gateway.stats.framesToBackend).toBe(1));
    await backend.close();
    expect(await tester.effectiveClose()).toMatchObject({ code: 4502 });
    expect(tester.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4502 } });
    expect(tester.log.some((message) => message.kind === 'resp' && message.reqId === 'slow-1')).toBe(false);
    expect(gateway.stats).toMatchObject({ relinks: 0, relinkFailures: 1 });
  } finally {
    await gateway.close();
    await backend.close();
  }
});
