/**
 * `pnpm demo` as a person runs it from the repository's root: a second one on a port in use
 * exits non-zero with one line naming the port (uWS would otherwise share the port and split the
 * connections), and Ctrl-C (SIGINT to the terminal's process group) ends the first with exit 0
 * and none of pnpm's failure noise (`ELIFECYCLE`, `ERR_PNPM_RECURSIVE_RUN_FIRST_FAIL`). Meanwhile
 * the first logs through pino (JSON lines), as an operator reads them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@herald/testing/node';
import { afterEach, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../..', import.meta.url));
/** tsx compiling the demo on a busy machine. */
const PATIENCE_MS = 90_000;

interface Demo {
  readonly child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

const started: Demo[] = [];
afterEach(() => {
  for (const demo of started.splice(0)) if (demo.child.exitCode === null && demo.child.pid !== undefined) process.kill(-demo.child.pid, 'SIGKILL');
});

/** `pnpm demo` in a process group of its own, as a terminal starts it. */
function pnpmDemo(port: number): Demo {
  const child = spawn('pnpm', ['demo'], { cwd: root, detached: true, env: { ...process.env, PORT: String(port), LOG_LEVEL: 'info', FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const demo = { child, output: () => text, exited };
  started.push(demo);
  return demo;
}

async function until(condition: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

it(
  'a second demo on a port in use exits 1 naming the port; the first logs through pino; Ctrl-C ends it with exit 0, quietly',
  async () => {
    const port = await freePort();
    const first = pnpmDemo(port);
    await until(() => first.output().includes('Herald demo on') || first.child.exitCode !== null, () => first.output());
    expect(first.output()).toContain(`Herald demo on http://localhost:${port}`);

    const second = pnpmDemo(port);
    expect(await second.exited).toBe(1);
    expect(second.output()).toContain(`Herald demo: @herald/uws: port ${port} on 0.0.0.0 is already in use (EADDRINUSE); stop the other server or choose another port`);
    expect(second.output()).not.toContain('Herald demo on');
    // The first still serves, alone on its port, and logs through pino: a refused credential
    // is one JSON line, without the token.
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    const refused = await fetch(`http://127.0.0.1:${port}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', authorization: 'Bearer not-a-demo-token' } });
    expect(refused.status).toBe(401);
    const logged = () => first.output().split('\n').find((line) => line.includes('"event":"auth_failed"'));
    await until(() => logged() !== undefined, () => first.output());
    expect(JSON.parse(logged() ?? '')).toMatchObject({ level: 30, event: 'auth_failed', address: '127.0.0.1', msg: 'authentication failed' });
    expect(first.output()).not.toContain('not-a-demo-token');

    process.kill(-(first.child.pid as number), 'SIGINT');
    expect(await first.exited).toBe(0);
    expect(first.output()).not.toMatch(/ELIFECYCLE|ERR_PNPM|SIGINT|Error/);
  },
  3 * PATIENCE_MS,
);
