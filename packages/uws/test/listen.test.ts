/** `serveHerald` listens exclusively: a second server on a port in use fails loudly instead of sharing it. */
import { createConformanceHerald } from '@herald/testing/conformance';
import { readFileSync } from 'node:fs';
import { freePort } from '@herald/testing/node';
import { afterEach, describe, expect, it } from 'vitest';
import { serveHerald, type HeraldUwsServer } from '../src/index.ts';

const servers: HeraldUwsServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function serve(options: Parameters<typeof serveHerald>[1]): Promise<HeraldUwsServer> {
  const server = await serveHerald(createConformanceHerald(), { host: '127.0.0.1', drainMs: 0, ...options });
  servers.push(server);
  return server;
}

/** Connections in TIME_WAIT whose local port is `port` (Linux: state 06 in /proc/net/tcp). */
function timeWaitOn(port: number): number {
  const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .filter((line) => line.trim().split(/\s+/)[1]?.endsWith(local) && line.trim().split(/\s+/)[3] === '06').length;
}

describe('serveHerald listen', () => {
  it('refuses a port already in use with EADDRINUSE, naming the port', async () => {
    const first = await serve({ port: 0 });
    const second = serve({ port: first.port });
    await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE', message: `@herald/uws: port ${first.port} on 127.0.0.1 is already in use (EADDRINUSE); stop the other server or choose another port` });
  });

  it('starts again on its port while connections it closed linger in TIME_WAIT', async () => {
    const port = await freePort();
    const first = await serveHerald(createConformanceHerald(), { host: '127.0.0.1', port, drainMs: 0 });
    // The server ends these connections (keep-alive off): their side of the port is left in TIME_WAIT.
    for (let i = 0; i < 3; i++) await fetch(`http://127.0.0.1:${port}/nothing-here`, { headers: { connection: 'close' } }).then((r) => r.text(), () => '');
    await first.close();
    expect(timeWaitOn(port)).toBeGreaterThan(0);
    const again = await serve({ port });
    expect(again.port).toBe(port);
  });

  it('shares the port only when asked to (sharePort)', async () => {
    const port = await freePort();
    const first = await serve({ port, sharePort: true });
    const second = await serve({ port, sharePort: true });
    expect([first.port, second.port]).toEqual([port, port]);
  });
});
