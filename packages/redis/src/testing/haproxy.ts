/**
 * A real haproxy (Debian's `/usr/sbin/haproxy`) in front of test nodes: round-robin on every
 * request, no stickiness, health checks that take a dead or draining node out within a few
 * hundred milliseconds, and tunnels for WebSockets.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@herald/testing/node';

export interface HaproxyOptions {
  /** Default: a free loopback port. */
  readonly port?: number;
  /** Default `127.0.0.1`. */
  readonly host?: string;
  /** Request headers to show in the request log (`HAPROXY_LOG`), e.g. one that names the client. */
  readonly logHeaders?: readonly string[];
}

/**
 * A node: its port, or its port and the port of its health listener (`serveHerald`'s
 * `healthListener`), which haproxy's own default check (`OPTIONS / HTTP/1.0`) can use.
 */
export type HaproxyBackend = number | { readonly port: number; readonly healthPort: number };

export interface Haproxy {
  readonly port: number;
  stop(): Promise<void>;
}

const HAPROXY = process.env['HAPROXY'] ?? '/usr/sbin/haproxy';
/** A file to append haproxy's request log to (HTTP log format: timers, retries, server), for a run under study. */
const LOG = process.env['HAPROXY_LOG'];

/**
 * Starts haproxy (HAPROXY to use another binary) in front of nodes on 127.0.0.1 at `backends`,
 * and resolves once one of them is ready. Nodes with a health listener are checked with
 * haproxy's default `option httpchk` on it; the others with `GET /readyz` over HTTP/1.1 on
 * their port, since uWS leaves HTTP/1.0 unanswered (PROTOCOL.md, "HTTP versions").
 *
 * @example
 * const proxy = await startHaproxy([9091, 9092, 9093], { port: 9090 });
 * const checked = await startHaproxy([{ port: 9091, healthPort: 9191 }], { port: 9090 });
 */
export async function startHaproxy(backends: readonly HaproxyBackend[], options: HaproxyOptions = {}): Promise<Haproxy> {
  const nodes = backends.map((backend) => (typeof backend === 'number' ? { port: backend, healthPort: undefined } : backend));
  const ownListeners = nodes.every((node) => node.healthPort !== undefined);
  const port = options.port ?? (await freePort());
  const host = options.host ?? '127.0.0.1';
  const dir = await mkdtemp(join(tmpdir(), 'herald-haproxy-'));
  const config = join(dir, 'haproxy.cfg');
  await writeFile(
    config,
    [
      'global',
      '  maxconn 4000',
      ...(LOG ? ['  log stdout format raw local0'] : []),
      'defaults',
      '  mode http',
      ...(LOG ? ['  log global', '  option httplog'] : []),
      '  timeout connect 1s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  timeout tunnel 120s',
      '  retries 3',
      '  option redispatch',
      'frontend herald',
      `  bind ${host}:${port}`,
      ...(LOG ? (options.logHeaders ?? []).map((header) => `  capture request header ${header} len 32`) : []),
      '  default_backend nodes',
      'backend nodes',
      '  balance roundrobin',
      '  option httpchk',
      ...(ownListeners ? [] : ['  http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost']),
      // A check every 250 ms, and one failure marks a node down: a killed node refuses at once
      // and a draining one answers 503. A slow answer is not a failure, though: the check's
      // timeout (the interval, by default) is 2 s, or a node too busy to answer within 250 ms,
      // as all are on a saturated machine, leaves haproxy with no server at all.
      '  timeout check 2s',
      '  default-server inter 250ms fall 1 rise 2',
      ...nodes.map(({ port: node, healthPort }, index) => `  server node${index + 1} 127.0.0.1:${node} check${ownListeners ? ` port ${healthPort}` : ''}`),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(HAPROXY, ['-f', config, '-db'], { stdio: ['ignore', LOG ? 'pipe' : 'ignore', 'pipe'] });
  if (LOG) child.stdout?.pipe(createWriteStream(LOG, { flags: 'a' }));
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${errors}`);
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
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
