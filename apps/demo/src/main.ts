/**
 * `pnpm demo`: the demo on http://localhost:9090 (PORT to change it, HOST to bind another
 * address). With REDIS_URL it runs as one node of a cluster on that Redis (see `cluster.ts`).
 * Logs JSON lines through pino (LOG_LEVEL, default info); behind a proxy set TRUST_PROXY to its
 * addresses (`TRUST_PROXY=127.0.0.1,10.0.0.0/8`), so limits and logs see the clients' addresses.
 * HEALTH_PORT adds a health listener that speaks HTTP/1.0 too, for haproxy's default check.
 * INSPECTOR_TOKEN (16 characters or more) serves /inspector behind that bearer token, read-only
 * unless INSPECTOR_ACTIONS=1; NODE_NAME names the node there and on /metrics.
 * See `server.ts` for what it serves.
 */
import { pino } from 'pino';
import { startDemo } from './server.ts';

const redisUrl = process.env['REDIS_URL'];
const host = process.env['HOST'];
const healthPort = process.env['HEALTH_PORT'];
const inspectorToken = process.env['INSPECTOR_TOKEN'];
const node = process.env['NODE_NAME'];
const trustProxy = process.env['TRUST_PROXY']?.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'info' });
const demo = await startDemo({
  port: Number(process.env['PORT'] ?? 9090),
  herald: { logger, ...(trustProxy === undefined ? {} : { trustProxy }) },
  ...(host === undefined ? {} : { host }),
  ...(redisUrl === undefined ? {} : { redisUrl }),
  ...(healthPort === undefined ? {} : { healthPort: Number(healthPort) }),
  ...(inspectorToken === undefined ? {} : { inspectorToken, inspectorActions: process.env['INSPECTOR_ACTIONS'] === '1' }),
  ...(node === undefined ? {} : { node }),
}).catch((error: unknown) => {
  // A port in use, say: one line that says what to do, not a stack trace.
  console.error(`Herald demo: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
const base = `http://localhost:${demo.port}`;
console.log(`Herald demo on ${base}${redisUrl === undefined ? '' : `, a cluster node on ${redisUrl}`}`);
console.log(`  playground      ${base}/`);
console.log(`  contact center  ${base}/contact-center  (agent: ?role=agent&name=a1&skills=45, consumer: ?role=consumer&name=c1&skill=45)`);
console.log(`  API docs        ${base}/docs  and ${base}/asyncapi.json`);
if (inspectorToken !== undefined) console.log(`  inspector       ${base}/inspector  (the INSPECTOR_TOKEN; ${process.env['INSPECTOR_ACTIONS'] === '1' ? 'actions on' : 'read-only'})`);
console.log(`  WebSocket /ws, long-poll fallback /lp; from a terminal: pnpm --filter @herald/demo client`);

const stop = async () => {
  await demo.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
