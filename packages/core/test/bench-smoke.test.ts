/** CI runs a small smoke of the hot-path benchmark: it must run, and fan out one frame. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

it('hot-path benchmark runs (smoke)', async () => {
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--conditions=@herald/source', '--import', 'tsx', 'bench/hot-path.ts', '--smoke'], { cwd });
  expect(stdout).toMatch(/herald core: decode, route, dedup, respond\s+\d+\.\d+ M msg\/s/);
  expect(stdout).toContain('1 distinct frame(s) sent');
  expect(stdout).toMatch(/idle authenticated sessions: 1000, \d+ bytes of JS heap each/);
});
