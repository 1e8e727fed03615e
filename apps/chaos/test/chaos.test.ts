/**
 * The chaos run in small, as `pnpm chaos` runs it: 100 clients, 30 s under fire (node kills,
 * a Redis restart, frozen and reset links), read from its last line. Without the busy loops:
 * under `pnpm test` the other test files are the pressure, and busy loops would starve them.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { ChaosReport } from '../src/report.ts';

const appDir = fileURLToPath(new URL('..', import.meta.url));
const TEST_TIMEOUT_MS = 90_000;

function runChaos(env: Record<string, string>): Promise<{ code: number | null; log: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/main.ts', '--no-pressure'], {
      cwd: appDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    // SIGTERM first: the run stops every process it started.
    const timer = setTimeout(() => child.kill('SIGTERM'), TEST_TIMEOUT_MS - 5000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, log });
    });
  });
}

it(
  'loses, duplicates and reorders nothing and runs no request twice under 30 s of chaos',
  async () => {
    const { code, log } = await runChaos({ CHAOS_SECONDS: '30', CHAOS_CLIENTS: '100', CHAOS_KILLS: '3' });
    const line = log
      .split('\n')
      .reverse()
      .find((candidate) => candidate.startsWith('chaos: {'));
    expect(line, log).toBeDefined();
    console.log(line);
    const report = JSON.parse((line as string).slice('chaos: '.length)) as ChaosReport;

    expect(report.kills, log).toBe(3);
    expect(report.redisRestarts).toBe(1);
    expect(report.delivered).toBeGreaterThan(0);
    expect(
      { lost: report.lost, duplicated: report.duplicated, reordered: report.reordered, ranTwice: report.ranTwice, unaccounted: report.unaccounted },
      line,
    ).toEqual({ lost: 0, duplicated: 0, reordered: 0, ranTwice: 0, unaccounted: 0 });
    expect(report.answered + report.outcomeUnknown + report.failed).toBe(report.requests);
    expect(code, log).toBe(0);
  },
  TEST_TIMEOUT_MS,
);
