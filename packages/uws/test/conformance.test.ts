/** The uWS adapter against the transport-independent conformance suite. */
import { describeConformance } from '@herald/testing/conformance';
import { serveHerald } from '../src/index.ts';

describeConformance({
  name: 'uWebSockets.js',
  forbiddenFrames: { unmasked: 'unread', invalidUtf8: 'drop-connection' },
  start: async (herald) => {
    const server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
    return { url: `ws://127.0.0.1:${server.port}/ws`, stop: () => server.close() };
  },
});
