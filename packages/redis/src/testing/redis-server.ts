/**
 * A real `redis-server` for tests (Debian's package): on a free loopback port, without
 * persistence, stopped by the test. `restart` brings it back on the same port, empty, as a
 * Redis that lost its memory would.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '@herald/testing/node';

export interface RedisServerOptions {
  /** Default: a free loopback port. */
  readonly port?: number;
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server (SIGKILL) and waits until it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same port, with nothing in it (nothing happens while it runs). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

const REDIS_SERVER = process.env['REDIS_SERVER'] ?? 'redis-server';

async function waitForPort(port: number, deadline: number): Promise<void> {
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Starts `redis-server` (REDIS_SERVER to use another binary) and resolves once it listens.
 *
 * @example
 * const redis = await startRedis();
 * const broker = new RedisBroker({ redis: redis.url });
 * // …
 * await redis.stop();
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  let server: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    if (server !== undefined && server.exitCode === null) return;
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    server = child;
    await waitForPort(port, Date.now() + 10_000);
  };
  const kill = async (): Promise<void> => {
    const child = server;
    server = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}
