/**
 * A uWS server for the long-poll tests: WebSocket on /ws and long-poll on /lp on one port,
 * behind a relay that can refuse WebSocket upgrades the way a proxy without Upgrade support
 * does (HTTP 400), while passing plain HTTP through.
 */
import type { Herald } from '@herald/core';
import { startRelay } from '@herald/testing/node';
import { attachFetch, attachHerald, attachHttp, loadUws } from '@herald/uws';
import { createLongPollHandler, type LongPollHandler, type LongPollOptions } from '../src/index.ts';

export interface Running {
  /** The relay's origin, e.g. `http://127.0.0.1:41234`. */
  readonly origin: string;
  readonly longPoll: LongPollHandler;
  /** While true, the relay refuses every WebSocket upgrade. */
  blockWebSockets: boolean;
  stop(): Promise<void>;
}

/** `mount`: uWS's own requests (`attachHttp`, the default) or fetch ones (`attachFetch`). */
export async function serve(herald: Herald<any>, options: LongPollOptions = {}, mount: 'attachHttp' | 'attachFetch' = 'attachHttp'): Promise<Running> {
  const uws = loadUws();
  const app = uws.App();
  attachHerald(app, herald, { path: '/ws' }, uws);
  const longPoll = createLongPollHandler(herald, options);
  for (const pattern of ['/lp', '/lp/*']) {
    if (mount === 'attachHttp') attachHttp(app, pattern, longPoll.handle);
    else attachFetch(app, pattern, longPoll.fetch);
  }
  const listen = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', 0, resolve));
  const backend = uws.us_socket_local_port(listen as never);
  const state = { blockWebSockets: false };
  const relay = await startRelay({ backend: () => backend, refuseUpgrades: () => state.blockWebSockets });
  return Object.assign(state, {
    origin: `http://127.0.0.1:${relay.port}`,
    longPoll,
    stop: async () => {
      await herald.close();
      longPoll.close();
      uws.us_listen_socket_close(listen as never);
      await relay.close();
    },
  });
}
