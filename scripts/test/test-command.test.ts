/**
 * The README's test command (`bash scripts/test.sh`) is what CI runs, and on a machine that
 * lacks the Debian packages the tests need it says exactly what to install when it is not root,
 * and stops before installing or testing anything. The machine is simulated: a PATH of only the
 * tools the script needs (no chromium, redis-server or taskset on it) and an `id` that answers
 * a user's id. nginx and haproxy are looked for at their absolute paths, so they are expected in
 * the message only where this machine lacks them.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { root } from '../packed/index.ts';

const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

it('the README and .ci/run name the same test command', async () => {
  expect(await readFile(join(root, 'README.md'), 'utf8')).toMatch(/^bash scripts\/test\.sh$/m);
  expect(await readFile(join(root, '.ci/run'), 'utf8')).toMatch(/^bash scripts\/test\.sh /m);
});

it('without root, names the missing Debian packages in one apt-get line and stops with exit 1', async () => {
  const bin = await mkdtemp(join(tmpdir(), 'herald-path-'));
  scratch.push(bin);
  const which = promisify(execFile);
  for (const tool of ['bash', 'dirname', 'node', 'npm', 'pnpm']) {
    const { stdout } = await which('bash', ['-c', `command -v ${tool}`]);
    await symlink(stdout.trim(), join(bin, tool));
  }
  await writeFile(join(bin, 'id'), '#!/bin/sh\necho 1000\n');
  await chmod(join(bin, 'id'), 0o755);
  const env = { PATH: bin, HOME: process.env['HOME'] ?? bin };
  const result = await which(join(bin, 'bash'), [join(root, 'scripts/test.sh')], { cwd: root, env }).then(
    () => ({ code: 0, stdout: '', stderr: '' }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
  );
  const missing = ['chromium', ...(existsSync('/usr/sbin/nginx') ? [] : ['nginx']), 'redis-server', ...(existsSync('/usr/sbin/haproxy') ? [] : ['haproxy']), 'util-linux'];
  expect(result.stderr).toBe(
    'the tests need Debian packages that are missing; install them, then run this again:\n' +
      `  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing.join(' ')}\n`,
  );
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/^pnpm \d+\.\d+\.\d+, node v\d+/);
  expect(result.stdout).not.toContain('installing');
});
