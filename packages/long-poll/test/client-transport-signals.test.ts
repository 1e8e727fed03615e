/**
 * `@herald/client`'s long-poll transport gives every HTTP exchange a signal of its own: one signal shared by
 * all of a connection's fetches gathered an abort listener per request (1,500 in 6 s under
 * load, and Node's MaxListenersExceededWarning). A real uWS server with the long-poll endpoints.
 */
import { getEventListeners } from 'node:events';
import { createClient, longPollTransport } from '@herald/client';
import { createConformanceHerald, type ConformanceContract } from '@herald/testing/conformance';
import { attachHttp, loadUws, serveHerald } from '@herald/uws';
import { expect, it } from 'vitest';
import { createLongPollHandler } from '../src/index.ts';

it('a signal per request, none gathering listeners, and close aborts the poll in flight', async () => {
  const herald = createConformanceHerald();
  const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 1000 });
  const app = loadUws().App();
  attachHttp(app, '/lp', longPoll.handle);
  attachHttp(app, '/lp/*', longPoll.handle);
  const server = await serveHerald(herald, { app, port: 0, host: '127.0.0.1', drainMs: 0 });
  const signals: AbortSignal[] = [];
  const recording: typeof fetch = (input, init) => {
    if (init?.signal) signals.push(init.signal);
    return fetch(input, init);
  };
  const client = createClient<ConformanceContract>({
    transport: longPollTransport({ url: `http://127.0.0.1:${server.port}/lp`, fetch: recording }),
    token: 'user:ann',
    onError: () => {},
  });
  try {
    for (let i = 0; i < 40; i++) expect(await client.request('conf.Echo', { text: `n${i}` })).toEqual({ text: `n${i}` });
    expect(signals.length).toBeGreaterThan(40);
    expect(new Set(signals).size).toBe(signals.length);
    for (const signal of signals) expect(getEventListeners(signal, 'abort').length).toBeLessThanOrEqual(1);
    const held = signals.at(-1) as AbortSignal;
    expect(held.aborted).toBe(false);
    client.close();
    expect(held.aborted).toBe(true);
  } finally {
    client.close();
    await server.close();
    await longPoll.close();
    await herald.close();
  }
}, 60_000);
