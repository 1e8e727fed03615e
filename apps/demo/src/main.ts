/**
 * `pnpm demo`: the demo on http://localhost:9090 (PORT to change it). See `server.ts` for what
 * it serves.
 */
import { startDemo } from './server.ts';

const demo = await startDemo({ port: Number(process.env['PORT'] ?? 9090) });
const base = `http://localhost:${demo.port}`;
console.log(`Herald demo on ${base}`);
console.log(`  playground      ${base}/`);
console.log(`  contact center  ${base}/contact-center  (agent: ?role=agent&name=a1&skills=45, consumer: ?role=consumer&name=c1&skill=45)`);
console.log(`  API docs        ${base}/docs  and ${base}/asyncapi.json`);
console.log(`  WebSocket /ws, long-poll fallback /lp; from a terminal: pnpm --filter @herald/demo client`);

const stop = async () => {
  await demo.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
