/** The long-poll transport, mounted on uWS next to nothing else, against the conformance suite. */
import { LongPollWebSocket } from '@herald/client';
import { attachFetch, loadUws } from '@herald/uws';
import { describeConformance } from '@herald/testing/conformance';
import { createLongPollHandler } from '../src/index.ts';

describeConformance({
  name: 'long-poll on uWS',
  transport: 'long-poll',
  WebSocket: LongPollWebSocket,
  start: async (herald) => {
    const uws = loadUws();
    const app = uws.App();
    const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 2000, idleTimeoutMs: 3000 });
    attachFetch(app, '/lp', longPoll.fetch);
    attachFetch(app, '/lp/*', longPoll.fetch);
    const listen = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', 0, resolve));
    const port = uws.us_socket_local_port(listen as never);
    return {
      url: `http://127.0.0.1:${port}/lp`,
      stop: async () => {
        await herald.close();
        longPoll.close();
        uws.us_listen_socket_close(listen as never);
      },
    };
  },
});
