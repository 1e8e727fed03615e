import { listenTcp } from './tcp-listener.ts';

/**
 * A loopback port nobody listens on right now.
 *
 * @example
 * const port = await freePort();
 * spawn('redis-server', ['--port', String(port)]);
 */
export async function freePort(): Promise<number> {
  const probe = await listenTcp(() => {});
  await probe.close();
  return probe.port;
}
