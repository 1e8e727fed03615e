/** The client's scenario on Node, Bun and Deno, against the uWS test server. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startServer, type TestServer } from './fixture.ts';
import { runClientScenario } from './scenario.ts';

const run = promisify(execFile);
const cwd = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const STEPS = 'request/response → subscribe/notify → restart/resume';
let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.stop());

describe('the client on every runtime', () => {
  it('runs on Node (with ws)', async () => {
    expect((await runClientScenario(server.url, WebSocket)).join(' → ')).toBe(STEPS);
  });

  it('runs on Bun (global WebSocket)', async () => {
    const { stdout } = await run(bin('bun'), ['--conditions=@herald/source', 'test/scenario.run.ts', server.url], { cwd });
    expect(stdout).toContain(`client scenario on bun: ok (${STEPS})`);
  });

  it('runs on Deno (global WebSocket)', async () => {
    const { stdout } = await run(bin('deno'), ['run', '--conditions=@herald/source', '--allow-net', '--allow-read', '--allow-env', 'test/scenario.run.ts', server.url], { cwd });
    expect(stdout).toContain(`client scenario on deno: ok (${STEPS})`);
  });
});
