/**
 * A real nginx (Debian's `/usr/sbin/nginx`) in front of a server: in the foreground, with a
 * prefix and configuration of its own in a temporary directory, on a free loopback port. It
 * passes WebSocket upgrades on, or does not (the seed's "broken proxy": the handshake reaches
 * the server without `Upgrade`, so it cannot be upgraded, and clients fall back to long-poll).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

const NGINX = '/usr/sbin/nginx';

/** A running nginx. */
export interface Nginx {
  readonly port: number;
  readonly process: ChildProcess;
  /** Kills it (SIGKILL, after SIGCONT if it was frozen) and removes its directory. */
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Default 60s: how long nginx waits for the backend to say anything on an open connection. */
  readonly readTimeout?: string;
  /**
   * Also proxy every other path (pages, scripts), passing the browser's Host on: to the backend
   * with `true`, or to the server on this loopback port.
   */
  readonly pages?: boolean | number;
  /** Add the client's address to `X-Forwarded-For` on /ws and /lp, as a load balancer does. */
  readonly forwardedFor?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts nginx proxying /ws and /lp (and with `pages` every other path) to the server on the
 * loopback port `backend`, with WebSocket upgrades passed on (`'upgrade'`) or not (`'no-upgrade'`).
 *
 * @example
 * const proxy = await startNginx(server.port, 'no-upgrade');
 * const client = createClient({ transport: autoTransport({ url: `ws://127.0.0.1:${proxy.port}/ws` }), token });
 * // … the client works over long-poll
 * await proxy.stop();
 */
export async function startNginx(backend: number, webSocket: 'upgrade' | 'no-upgrade', options: NginxOptions = {}): Promise<Nginx> {
  if (!existsSync(NGINX)) throw new Error(`${NGINX} is missing: apt-get install nginx (.ci/run does)`);
  const dir = mkdtempSync(join(tmpdir(), 'herald-nginx-'));
  const port = await freePort();
  const upgrade =
    webSocket === 'upgrade'
      ? 'proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade";'
      : // keep-alive to the upstream, but no Upgrade/Connection forwarding: the handshake arrives without `Upgrade`
        'proxy_http_version 1.1; proxy_set_header Connection "";';
  const host = `proxy_set_header Host $http_host;${options.forwardedFor === true ? ' proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;' : ''}`;
  const pages = options.pages === true ? backend : options.pages === false ? undefined : options.pages;
  writeFileSync(
    join(dir, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location /ws { proxy_pass http://127.0.0.1:${backend}; ${upgrade} ${host} proxy_read_timeout ${options.readTimeout ?? '60s'}; }
    location /lp { proxy_pass http://127.0.0.1:${backend}; proxy_http_version 1.1; ${host} proxy_buffering off; proxy_read_timeout 60s; }
${pages === undefined ? '' : `    location / { proxy_pass http://127.0.0.1:${pages}; proxy_http_version 1.1; ${host} }`}
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  // nginx writes its pid file once its listening socket is bound. Generous: the machine may be loaded.
  const deadline = Date.now() + 15_000;
  while (!existsSync(join(dir, 'nginx.pid'))) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode} on start: see ${dir}/error.log`);
    if (Date.now() > deadline) throw new Error('timed out waiting for nginx to start');
    await sleep(20);
  }
  return {
    port,
    process: child,
    stop: async () => {
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
