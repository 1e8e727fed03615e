/** The same application, started by each runtime's script, serves the chat over WebSocket and long-poll. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LongPollWebSocket } from '@herald/client';
import { connect, withType } from '@herald/testing';
import { freePort } from '@herald/testing/node';
import { afterEach, describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const INSPECTOR_TOKEN = 'hono-demo-inspector-token';
let child: ChildProcess | undefined;
afterEach(() => {
  // The runtimes start behind shell shims: end the whole process group, not just the shim.
  if (child?.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  child = undefined;
});

async function start(command: string, args: string[]): Promise<number> {
  const port = await freePort();
  const env = { ...process.env, PORT: String(port), INSPECTOR_TOKEN, INSPECTOR_ACTIONS: '1' };
  child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve, reject) => {
    child?.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('Herald on Hono') && resolve());
    child?.once('exit', (code) => reject(new Error(`${command} exited with ${code}`)));
  });
  return port;
}

const runtimes: Array<[string, string, string[]]> = [
  ['Node', process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/node.ts']],
  ['Bun', bin('bun'), ['--conditions=@herald/source', 'src/bun.ts']],
  ['Deno', bin('deno'), ['run', '--conditions=@herald/source', '--allow-net', '--allow-read', '--allow-env', 'src/deno.ts']],
];

describe.each(runtimes)('the Hono demo on %s', (_name, command, args) => {
  it('chats over WebSocket and over long-poll with the same session semantics', async () => {
    const port = await start(command, args);
    const alice = await connect(`ws://127.0.0.1:${port}/ws`, { token: 'demo-alice' });
    const bob = await connect(`http://127.0.0.1:${port}/lp`, { token: 'demo-bob', WebSocket: LongPollWebSocket });
    await alice.request('chat.Join', { room: 'hono' });
    expect((await bob.request('chat.Send', { room: 'hono', text: 'over http' })).code).toBe(200);
    expect(await alice.waitFor(withType('chat.Message'))).toMatchObject({ topic: 'room/hono', offset: 1, body: { from: 'bob', text: 'over http' } });
    await alice.request('chat.Whisper', { to: 'bob', text: 'over ws' });
    expect(await bob.waitFor(withType('chat.Whispered'))).toMatchObject({ seq: 1, body: { from: 'alice' } });
    const scrape = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(scrape).toMatch(/^herald_requests_total\{type="chat\.Send",code="200"\} 1$/m);
    expect(scrape).toMatch(/^herald_connections_opened_total\{transport="long-poll"\} 1$/m);
    expect(scrape).toMatch(/^herald_connections_opened_total\{transport="websocket"\} 1$/m);
    alice.drop();
    bob.drop();
  }, 20_000);

  it('serves /healthz, /readyz and /inspector, whose API wants the token and disconnects a session (4410)', async () => {
    const port = await start(command, args);
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/inspector`)).headers.get('content-type')).toContain('text/html');
    expect((await fetch(`${base}/inspector/api/snapshot`)).status).toBe(401);
    const carol = await connect(`ws://127.0.0.1:${port}/ws`, { token: 'demo-carol' });
    const authorization = `Bearer ${INSPECTOR_TOKEN}`;
    const snapshot = (await (await fetch(`${base}/inspector/api/snapshot`, { headers: { authorization } })).json()) as {
      nodes: Array<{ node: string; snapshot: { sessions: Array<{ id: string; userId: string }> } }>;
    };
    const session = snapshot.nodes[0]?.snapshot.sessions.find((s) => s.userId === 'carol');
    expect(session).toBeDefined();
    const done = await fetch(`${base}/inspector/api/disconnect`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ node: snapshot.nodes[0]?.node, session: session?.id }),
    });
    expect(done.status).toBe(200);
    expect((await carol.closed).code).toBe(4410);
  }, 20_000);
});
