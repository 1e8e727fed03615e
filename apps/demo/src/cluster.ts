/**
 * `pnpm --filter @herald/demo cluster`: the demo as a cluster on one machine — Redis (Debian's
 * `redis-server`, or the one at REDIS_URL), three demo nodes, and haproxy in front on
 * http://localhost:9090 (PORT to change it) doing round-robin without stickiness. Stop a node
 * (the pids are printed) and watch its clients resume on the others.
 */
import { startHaproxy } from '@herald/redis/testing';
import { freePort, sharedRedis, startNode } from './demo-node.ts';

const NODES = Number(process.env['NODES'] ?? 3);
const port = Number(process.env['PORT'] ?? 9090);

const { url: redisUrl, redis } = await sharedRedis();
const ports = await Promise.all(Array.from({ length: NODES }, freePort));
const healthPorts = await Promise.all(Array.from({ length: NODES }, freePort));
const nodes = await Promise.all(ports.map((nodePort, index) => startNode(nodePort, redisUrl, { HEALTH_PORT: String(healthPorts[index]) })));
// haproxy's own default check (`option httpchk`: OPTIONS / HTTP/1.0) on each node's health listener.
const proxy = await startHaproxy(
  ports.map((nodePort, index) => ({ port: nodePort, healthPort: healthPorts[index] as number })),
  { port, host: '0.0.0.0' },
);

const base = `http://localhost:${port}`;
console.log(`Herald demo cluster on ${base}: haproxy round-robin over ${NODES} nodes, Redis at ${redisUrl}`);
nodes.forEach((node, index) => console.log(`  node ${index + 1}  127.0.0.1:${ports[index]}  health 127.0.0.1:${healthPorts[index]}  pid ${node.pid}`));
console.log(`  playground ${base}/   contact center ${base}/contact-center   ready ${base}/readyz`);
console.log('  the contact center keeps its queues in each node\'s memory: in a cluster, use the playground');

const stop = async () => {
  await proxy.stop();
  for (const node of nodes) node.kill('SIGTERM');
  await redis?.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
