/**
 * What the multi-node demos (`cluster.ts`, `gateway.ts`) share: free loopback ports, demo nodes
 * started as child processes (each resolves once it listens), and the Redis they share.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startRedis, type RedisServer } from '@herald/redis/testing';

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port: free } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return free;
}

/** A demo node (`main.ts`) on `nodePort`, on the Redis at `redisUrl`; `env` adds to its environment. */
export function startNode(nodePort: number, redisUrl: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', fileURLToPath(new URL('main.ts', import.meta.url))], {
    env: { ...process.env, ...env, PORT: String(nodePort), HOST: '127.0.0.1', REDIS_URL: redisUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('Herald demo on')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`node on ${nodePort} exited with ${code}`)));
  });
}

/** The Redis at REDIS_URL, or one started here (`redis` is set then, to stop it with the demo). */
export async function sharedRedis(): Promise<{ url: string; redis: RedisServer | undefined }> {
  const url = process.env['REDIS_URL'];
  if (url !== undefined) return { url, redis: undefined };
  const redis = await startRedis();
  return { url: redis.url, redis };
}
