/** Backends and clients as child processes, for tests that freeze (SIGSTOP) or kill one. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@herald/testing/node';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
/** Starting tsx and uWS on a loaded machine: generous, it only bounds a hung start. */
export const START_BOUND_MS = 30_000;

export interface Child {
  readonly process: ChildProcess;
  /** Every line it printed so far. */
  readonly lines: string[];
  /** Resolves with the first line that starts with `prefix`. */
  line(prefix: string, timeoutMs?: number): Promise<string>;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

function child(script: string, env: Record<string, string>): Child {
  const process_ = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', script], {
    cwd: packageDir,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  const waiters: { prefix: string; resolve: (line: string) => void }[] = [];
  let rest = '';
  process_.stdout?.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of waiters.filter((w) => line.startsWith(w.prefix))) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  return {
    process: process_,
    lines,
    line(prefix, timeoutMs = START_BOUND_MS) {
      const seen = lines.find((line) => line.startsWith(prefix));
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script} printed no "${prefix}" line in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ prefix, resolve: (line) => (clearTimeout(timer), resolve(line)) });
        process_.once('exit', (code) => reject(new Error(`${script} exited with ${code} before "${prefix}"`)));
      });
    },
    async kill() {
      if (process_.exitCode !== null || process_.signalCode !== null) return;
      const exited = new Promise((resolve) => process_.once('exit', resolve));
      process_.kill('SIGCONT');
      process_.kill('SIGKILL');
      await exited;
    },
  };
}

export interface BackendProcess extends Child {
  readonly port: number;
  readonly url: string;
  /** `herald.stats` of the node. */
  stats(): Promise<{ sessions: number; connections: number }>;
}

export async function startBackend(env: Record<string, string> = {}, port?: number): Promise<BackendProcess> {
  const chosen = port ?? (await freePort());
  const started = child('test/backend-node.ts', { PORT: String(chosen), ...env });
  await started.line('ready');
  return {
    ...started,
    port: chosen,
    url: `ws://127.0.0.1:${chosen}/ws`,
    async stats() {
      const response = await fetch(`http://127.0.0.1:${chosen}/test/stats`);
      return (await response.json()) as { sessions: number; connections: number };
    },
  };
}

export async function startClient(url: string, userId: string): Promise<Child & { sessionId: string }> {
  const started = child('test/client-process.ts', { URL: url, USER_ID: userId });
  const welcomed = await started.line('welcomed ');
  return { ...started, sessionId: welcomed.slice('welcomed '.length) };
}
