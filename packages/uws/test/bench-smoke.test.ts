/** CI runs a small smoke of the fan-out benchmark: native publish, per-socket sends, Herald. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('fan-out benchmark runs (smoke)', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'bench/fanout.ts', '--smoke'], { cwd });
  expect(stdout).toMatch(/\| 200 \| [\d.]+ ms server \/ [\d.]+ ms to last \| [\d.]+ ms server/);
});
