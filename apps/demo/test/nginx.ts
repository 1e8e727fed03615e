/**
 * Debian's nginx in the foreground with a prefix of its own, on a free loopback port, proxying
 * to a backend: with WebSocket upgrades passed on, or without (the "broken proxy" of the seed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@herald/testing/node';

const NGINX = '/usr/sbin/nginx';

export interface Nginx {
  readonly port: number;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface NginxOptions {
  /** Default 60s: how long nginx waits for the backend to say anything on an open connection. */
  readonly readTimeout?: string;
  /** Also proxy every other path (the demo's pages), passing the browser's Host on. */
  readonly pages?: boolean;
  /** Add the client's address to `X-Forwarded-For` on /ws and /lp, as a load balancer does. */
  readonly forwardedFor?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts nginx proxying /ws (and /lp, and with `pages` everything) to `backend`. */
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
${options.pages === true ? `    location / { proxy_pass http://127.0.0.1:${backend}; proxy_http_version 1.1; ${host} }` : ''}
  }
}
`,
  );
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (!existsSync(join(dir, 'nginx.pid'))) {
    if (Date.now() > deadline) throw new Error('timed out waiting for nginx to start');
    await sleep(20);
  }
  await sleep(100);
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
