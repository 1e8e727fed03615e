/**
 * A first run's commands print nothing that looks like a failure: no `npm warn Unknown project
 * config` on npm commands in the repository (pnpm's settings live in pnpm-workspace.yaml, not
 * .npmrc), and no Turborepo telemetry banner from `pnpm build` or `pnpm typecheck` for a user
 * who has never run turbo (a fresh HOME). The turbo commands run `--dry`: nothing is built.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { root } from '../packed/index.ts';

const homes: string[] = [];
afterAll(() => Promise.all(homes.map((home) => rm(home, { recursive: true, force: true }))));

/**
 * A command as typed in a terminal: without what pnpm (running this test) and the test command
 * export (`npm_config_*`, `TURBO_TELEMETRY_DISABLED`, `DO_NOT_TRACK`, `CI`), which would hide
 * the very output looked for.
 */
function terminal(command: string, args: readonly string[], env: Record<string, string> = {}) {
  const inherited = Object.entries(process.env).filter(([name]) => !/^(npm_config_.*|TURBO_TELEMETRY_DISABLED|DO_NOT_TRACK|CI)$/i.test(name));
  return promisify(execFile)(command, args, { cwd: root, env: { ...Object.fromEntries(inherited), ...env }, maxBuffer: 16 * 1024 * 1024 });
}

it('npm commands in the repository warn of no unknown config', async () => {
  const { stdout, stderr } = await terminal('npm', ['config', 'list']);
  expect(stderr).not.toMatch(/npm warn/i);
  expect(stdout).not.toContain('manage-package-manager-versions');
});

it.each(['build', 'typecheck'])('pnpm %s shows no telemetry banner to a first-time user', async (script) => {
  const home = await mkdtemp(join(tmpdir(), 'herald-home-'));
  homes.push(home);
  const { stdout, stderr } = await terminal('pnpm', [script, '--dry=json'], { HOME: home, XDG_CONFIG_HOME: join(home, '.config') });
  expect(JSON.parse(stdout.slice(stdout.indexOf('{')))).toHaveProperty('tasks');
  expect(stdout + stderr).not.toMatch(/Attention|collects completely anonymous telemetry/);
}, 60_000);
