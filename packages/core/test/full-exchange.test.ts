import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runFullExchange } from './full-exchange.ts';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));
const STEPS = 'open → authenticate → request/response → subscribe/notify → ack → drop → resume recovered → shutdown';

describe('full exchange in memory', () => {
  it('runs on Node', async () => {
    expect((await runFullExchange()).join(' → ')).toBe(STEPS);
  });

  it('runs unchanged on Bun', async () => {
    const { stdout } = await run(bin('bun'), ['--conditions=@herald/source', 'test/full-exchange.run.ts'], { cwd: packageDir });
    expect(stdout).toContain(`full exchange on bun: ok (${STEPS})`);
  });

  it('runs unchanged on Deno', async () => {
    const { stdout } = await run(bin('deno'), ['run', '--conditions=@herald/source', '--allow-read', '--allow-env', 'test/full-exchange.run.ts'], { cwd: packageDir });
    expect(stdout).toContain(`full exchange on deno: ok (${STEPS})`);
  });
});
