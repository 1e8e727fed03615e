/**
 * `pnpm --filter @herald/demo gateway`: the demo behind `@herald/gateway` — Redis (Debian's
 * `redis-server`, or the one at REDIS_URL), two demo nodes sharing sessions and topics through
 * it, and the gateway on http://localhost:9090 (PORT to change it). WebSocket sessions are
 * relayed by the gateway, and so are long-poll ones (its own `/lp`, over a WebSocket leg to a
 * node); the pages and other HTTP requests are passed to a node. Stop a node
 * (`kill <pid>`, the pids are printed) and the sessions on it move to the other one without
 * their pages seeing a disconnect.
 */
import { serveGateway } from '@herald/gateway';
import { freePort, sharedRedis, startNode } from './demo-node.ts';

const port = Number(process.env['PORT'] ?? 9090);

const { url: redisUrl, redis } = await sharedRedis();
const ports = await Promise.all([freePort(), freePort()]);
const nodes = await Promise.all(ports.map((nodePort) => startNode(nodePort, redisUrl)));
const gateway = await serveGateway({ backends: ports.map((nodePort) => `ws://127.0.0.1:${nodePort}/ws`), strategy: 'least-connections', port, host: '0.0.0.0' });

// Pages and scripts (everything but /ws and the gateway's own /lp): passed to the first healthy node as they are.
gateway.app.any('/*', (res, req) => {
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
console.log(`  playground ${base}/   (kill a node's pid: its sessions move to the other node)`);
setInterval(() => {
  const { linksOpen, relinks, lastRelinkMs, framesToClient, framesToBackend } = gateway.stats;
  if (linksOpen + relinks > 0) console.log(`  gateway: ${linksOpen} links, ${relinks} relinks (last ${lastRelinkMs} ms), ${framesToClient} frames to clients, ${framesToBackend} to nodes`);
}, 10_000).unref();

const stop = async () => {
  await gateway.close();
  for (const node of nodes) node.kill('SIGTERM');
  await redis?.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
