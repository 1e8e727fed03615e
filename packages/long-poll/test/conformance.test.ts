/**
 * The long-poll transport, mounted on uWS next to nothing else, against the conformance suite:
 * natively (`attachHttp`, the way to serve it on uWS) and through the fetch bridge (`attachFetch`,
 * the same `fetch` entry Hono, Bun and Deno use).
 */
import { LongPollWebSocket } from '@herald/client';
import { attachFetch, attachHttp, loadUws } from '@herald/uws';
import { describeConformance } from '@herald/testing/conformance';
import { createLongPollHandler } from '../src/index.ts';

for (const mount of ['attachHttp', 'attachFetch'] as const) {
  describeConformance({
    name: `long-poll on uWS (${mount})`,
    transport: 'long-poll',
    WebSocket: LongPollWebSocket,
    http10: 'unanswered',
    start: async (herald) => {
      const uws = loadUws();
      const app = uws.App();
      const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 2000, idleTimeoutMs: 3000 });
      for (const pattern of ['/lp', '/lp/*']) {
        if (mount === 'attachHttp') attachHttp(app, pattern, longPoll.handle);
        else attachFetch(app, pattern, longPoll.fetch);
      }
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
}
