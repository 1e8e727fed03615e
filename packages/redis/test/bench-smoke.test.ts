/** CI runs a small smoke of the Redis benchmark: it must run and report every measure. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('redis benchmark runs (smoke)', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'bench/throughput.ts', '--smoke'], { cwd });
  expect(stdout).toMatch(/publish, one at a time:\s+[\d,]+\/s/);
  expect(stdout).toMatch(/publish, 100 in flight:\s+[\d,]+\/s/);
  expect(stdout).toMatch(/publish → other node:\s+p50 [\d.]+ ms, p99 [\d.]+ ms/);
  expect(stdout).toMatch(/private notify, stored:\s+[\d,]+\/s/);
});
