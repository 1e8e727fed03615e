/**
 * @herald/hono against the conformance suite on Node, Bun and Deno, over WebSocket and over
 * long-poll: one test file per runtime (`conformance-<runtime>.test.ts`), so they run side by
 * side. Node runs in the test's process; Bun and Deno run `serve.run.ts` as child processes
 * (each test starts a fresh server, built from the same conformance application).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LongPollWebSocket } from '@herald/client';
import { describeConformance, type StartedServer } from '@herald/testing/conformance';
import { serveConformance } from './serve.ts';

const cwd = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

async function inChild(command: string, args: string[], path: string): Promise<StartedServer> {
  const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\d+)/.exec(output);
      if (match !== null) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`${command} exited with ${code} before listening: ${output}`)));
  });
  return {
    url: `${path.startsWith('/lp') ? 'http' : 'ws'}://127.0.0.1:${port}${path}`,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end('stop\n');
      }),
  };
}

async function inProcess(path: string): Promise<StartedServer> {
  const served = await serveConformance();
  return { url: `${path.startsWith('/lp') ? 'http' : 'ws'}://127.0.0.1:${served.port}${path}`, stop: () => served.stop() };
}

type ForbiddenFrames = Parameters<typeof describeConformance>[0]['forbiddenFrames'];

/** Deno's WebSocket reads an unmasked client frame like a masked one and drops a connection on bad UTF-8 without a close frame (its decisions, before Herald's code). */
const runtimes: Record<'node' | 'bun' | 'deno', [string, (path: string) => Promise<StartedServer>, ForbiddenFrames?]> = {
  node: ['Hono on Node', inProcess],
  bun: ['Hono on Bun', (path) => inChild(bin('bun'), ['--conditions=@herald/source', 'test/serve.run.ts'], path)],
  deno: ['Hono on Deno', (path) => inChild(bin('deno'), ['run', '--conditions=@herald/source', '--allow-net', '--allow-read', '--allow-env', 'test/serve.run.ts'], path), { unmasked: 'read-as-masked', invalidUtf8: 'drop-connection' }],
};

/** Registers the suite on one runtime, over WebSocket and over long-poll. */
export function describeOn(runtime: keyof typeof runtimes): void {
  const [name, start, forbiddenFrames] = runtimes[runtime];
  describeConformance({ name: `${name} (WebSocket)`, start: () => start('/ws'), ...(forbiddenFrames === undefined ? {} : { forbiddenFrames }) });
  describeConformance({ name: `${name} (long-poll)`, transport: 'long-poll', WebSocket: LongPollWebSocket, start: () => start('/lp') });
}

