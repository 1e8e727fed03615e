/** The demo over real sockets on loopback: uWS on the server, `ws` clients. */
import type { Herald } from '@herald/core';
import { connect, withType, type Tester } from '@herald/testing';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChat } from '../src/app.ts';

let herald: Herald<any>;
let server: HeraldUwsServer;
let url: string;
const open: Tester[] = [];

beforeAll(async () => {
  herald = createChat({ upgradeRateLimit: false });
  server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  url = `ws://127.0.0.1:${server.port}/ws`;
});

afterAll(async () => {
  for (const tester of open) tester.drop();
  await server.close();
});

async function client(token: string): Promise<Tester> {
  const tester = await connect(url, { token });
  open.push(tester);
  return tester;
}

describe('demo chat', () => {
  it('joins a room, publishes to every member and whispers privately', async () => {
    const alice = await client('demo-alice');
    const bob = await client('demo-bob');
    await alice.request('chat.Join', { room: 'e2e' });
    await bob.request('chat.Join', { room: 'e2e' });
    expect((await bob.request('chat.Send', { room: 'e2e', text: 'hi' })).body).toEqual({ offset: 1 });
    expect(await alice.waitFor(withType('chat.Message'))).toMatchObject({ topic: 'room/e2e', offset: 1, body: { from: 'bob', text: 'hi' } });
    await bob.request('chat.Whisper', { to: 'alice', text: 'psst' });
    expect(await alice.waitFor(withType('chat.Whispered'))).toMatchObject({ seq: 1, body: { from: 'bob' } });
    await bob.expectNothing(50, withType('chat.Whispered'));
  });

  it('refuses demo tokens that do not match and rooms that break the schema', async () => {
    const carol = await connect(url);
    open.push(carol);
    expect(await carol.request('herald.Authenticate', { token: 'nope' })).toMatchObject({ code: 401, body: { error: 'invalid_token' } });
    await carol.request('herald.Authenticate', { token: 'demo-carol' });
    expect(await carol.request('chat.Join', { room: 'Not A Room' })).toMatchObject({ code: 400, body: { error: 'validation_failed' } });
  });
});

describe('the demo server (pnpm demo)', () => {
  it('serves the page, the long-poll fallback, the docs and the AsyncAPI document on one port', async () => {
    const { spawn } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/main.ts'], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('Herald demo on') && resolve());
        child.once('exit', (code) => reject(new Error(`demo exited with ${code}`)));
      });
      const base = `http://127.0.0.1:${port}`;
      expect((await fetch(`${base}/`)).headers.get('content-type')).toContain('text/html');
      expect((await (await fetch(`${base}/asyncapi.json`)).json()) as { asyncapi: string }).toMatchObject({ asyncapi: '3.0.0' });
      expect(await (await fetch(`${base}/docs`)).text()).toContain('chat.Send');
      const opened = (await (await fetch(`${base}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1' } })).json()) as { messages: Array<{ type: string }> };
      expect(opened.messages[0]?.type).toBe('herald.Welcome');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
