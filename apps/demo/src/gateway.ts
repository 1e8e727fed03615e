/**
 * `pnpm --filter @herald/demo gateway`: the demo behind `@herald/gateway` — Redis (Debian's
 * `redis-server`, or the one at REDIS_URL), two demo nodes sharing sessions and topics through
 * it, and the gateway on http://localhost:9090 (PORT to change it). WebSocket sessions are
 * relayed by the gateway, and so are long-poll ones (its own `/lp`, over a WebSocket leg to a
 * node); the pages and other HTTP requests are passed to a node. Stop a node
 * (`kill <pid>`, the pids are printed) and the sessions on it move to the other one without
 * their pages seeing a disconnect.
 */
import type { ChildProcess } from 'node:child_process';
import { serveGateway } from '@herald/gateway';
import { freePort, sharedRedis, startNode } from './demo-node.ts';

const port = Number(process.env['PORT'] ?? 9090);

const { url: redisUrl, redis } = await sharedRedis();
const ports = await Promise.all([freePort(), freePort()]);
const nodes = await Promise.all(ports.map((nodePort) => startNode(nodePort, redisUrl)));
let stopping = false;

/** A node that exits (a kill, a crash) is started again on its port, as a supervisor would. */
function supervise(index: number): void {
  const node = nodes[index] as ChildProcess;
  node.once('exit', (code, signal) => {
    if (stopping) return;
    console.log(`  node ${index + 1} (pid ${node.pid}) exited (${signal ?? code}); its sessions moved; starting it again in 2 s`);
    setTimeout(() => {
      startNode(ports[index] as number, redisUrl).then(
        (again) => {
          nodes[index] = again;
          console.log(`  node ${index + 1} is back: pid ${again.pid}`);
          supervise(index);
        },
        (error: unknown) => console.log(`  node ${index + 1} did not start again: ${String(error)}`),
      );
    }, 2000).unref();
  });
}
nodes.forEach((_, index) => supervise(index));
const gateway = await serveGateway({ backends: ports.map((nodePort) => `ws://127.0.0.1:${nodePort}/ws`), strategy: 'least-connections', port, host: '0.0.0.0' });

// Pages and scripts (everything but /ws and the gateway's own /lp): passed to the first healthy node as they are.
gateway.app.any('/*', (res, req) => {
  // A WebSocket upgrade on a path the gateway does not route: fetch cannot pass it on.
  if (req.getHeader('upgrade') !== '') return void res.writeStatus('404 Not Found').end('not a WebSocket route: use /ws');
  const method = req.getMethod().toUpperCase();
  const query = req.getQuery();
  const path = query ? `${req.getUrl()}?${query}` : req.getUrl();
  const headers: Record<string, string> = {};
  req.forEach((name, value) => {
    if (name !== 'host' && name !== 'connection' && name !== 'content-length') headers[name] = value;
  });
  let aborted = false;
  res.onAborted(() => (aborted = true));
  const chunks: Buffer[] = [];
  res.onData((chunk, last) => {
    chunks.push(Buffer.from(chunk.slice(0)));
    if (!last) return;
    const backend = gateway.backends.find((candidate) => candidate.healthy) ?? gateway.backends[0];
    const origin = new URL(backend?.url ?? `ws://127.0.0.1:${ports[0]}/ws`);
    const body = method === 'GET' || method === 'HEAD' ? undefined : Buffer.concat(chunks);
    fetch(`http://${origin.host}${path}`, { method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual' }).then(
      async (response) => {
        const payload = Buffer.from(await response.arrayBuffer());
        if (aborted) return;
        res.cork(() => {
          res.writeStatus(`${response.status} ${response.statusText}`);
          response.headers.forEach((value, name) => {
            if (name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection' && name !== 'content-encoding') res.writeHeader(name, value);
          });
          res.end(payload);
        });
      },
      () => {
        if (!aborted) res.cork(() => res.writeStatus('502 Bad Gateway').end('no node answered'));
      },
    );
  });
});

const base = `http://localhost:${gateway.port}`;
console.log(`Herald demo behind @herald/gateway on ${base}: ${nodes.length} nodes on Redis at ${redisUrl}`);
nodes.forEach((node, index) => console.log(`  node ${index + 1}  ws://127.0.0.1:${ports[index]}/ws  pid ${node.pid}`));
console.log(`  playground ${base}/   (kill a node's pid: its sessions move to the other node, and it comes back)`);
let lastLine = '';
setInterval(() => {
  const { linksOpen, relinks, lastRelinkMs, framesToClient, framesToBackend } = gateway.stats;
  const line = `  gateway: ${linksOpen} links, ${relinks} relinks (last ${lastRelinkMs} ms), ${framesToClient} frames to clients, ${framesToBackend} to nodes`;
  // Only when something moved since the last line.
  if (linksOpen + relinks > 0 && line !== lastLine) console.log(line);
  lastLine = line;
}, 10_000).unref();

const stop = async () => {
  stopping = true;
  await gateway.close();
  for (const node of nodes) node.kill('SIGTERM');
  await redis?.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
