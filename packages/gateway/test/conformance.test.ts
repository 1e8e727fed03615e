/**
 * The conformance suite through the gateway: each test's Herald server on uWS, a gateway in
 * front of it, and the suite's clients connecting to the gateway, over WebSocket and over the
 * gateway's own long-poll endpoints (relayed to the server over WebSocket). A gateway must be
 * invisible to a client: every case a server passes directly passes through it.
 */
import { LongPollWebSocket } from '@herald/client';
import { describeConformance } from '@herald/testing/conformance';
import { serveHerald } from '@herald/uws';
import { serveGateway } from '../src/index.ts';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

for (const transport of ['websocket', 'long-poll'] as const) {
  describeConformance({
    name: `through @herald/gateway (${transport})`,
    ...(transport === 'long-poll' ? { transport, WebSocket: LongPollWebSocket, http10: 'unanswered' as const } : {}),
    forbiddenFrames: { unmasked: 'unread', invalidUtf8: 'drop-connection' },
    start: async (herald) => {
      const server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
      const gateway = await serveGateway({
        backends: [`ws://127.0.0.1:${server.port}/ws`],
        port: 0,
        host: '127.0.0.1',
        relink: false,
        longPoll: { pollTimeoutMs: 2000, idleTimeoutMs: 3000 },
        logger: quiet,
      });
      const url = transport === 'websocket' ? `ws://127.0.0.1:${gateway.port}/ws` : `http://127.0.0.1:${gateway.port}/lp`;
      return {
        url,
        stop: async () => {
          await gateway.close();
          await server.close();
        },
      };
    },
  });
}
