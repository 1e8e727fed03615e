/**
 * A real haproxy (Debian's `/usr/sbin/haproxy`) in front of test nodes: round-robin on every
 * request, no stickiness, health checks that take a dead node out within a few hundred
 * milliseconds, and tunnels for WebSockets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@herald/testing/node';

export interface HaproxyOptions {
  /** Default: a free loopback port. */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
}

export interface Haproxy {
  readonly port: number;
  stop(): Promise<void>;
}

const HAPROXY = process.env['HAPROXY'] ?? '/usr/sbin/haproxy';

/**
 * Starts haproxy (HAPROXY to use another binary) in front of nodes on 127.0.0.1 at `backends`,
 * each serving `GET /health`, and resolves once it answers.
 *
 * @example
 * const proxy = await startHaproxy([9091, 9092, 9093], { port: 9090 });
 */
export async function startHaproxy(backends: readonly number[], options: HaproxyOptions = {}): Promise<Haproxy> {
  const port = options.port ?? (await freePort());
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'herald-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  await writeFile(
    config,
    [
      'global',
      '  maxconn 4000',
      'defaults',
      '  mode http',
      '  timeout connect 1s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  timeout tunnel 120s',
      '  retries 3',
      '  option redispatch',
      'frontend herald',
      `  bind ${host}:${port}`,
      '  default_backend nodes',
      'backend nodes',
      '  balance roundrobin',
      // haproxy's default check is `OPTIONS / HTTP/1.0`, which uWS leaves unanswered (PROTOCOL.md, "HTTP versions").
      '  option httpchk',
      '  http-check send meth GET uri /health ver HTTP/1.1 hdr Host localhost',
      '  default-server inter 250ms fall 1 rise 2',
      ...backends.map((backend, index) => `  server node${index + 1} 127.0.0.1:${backend} check`),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(HAPROXY, ['-f', config, '-db'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${errors}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`haproxy did not come up: ${errors}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
