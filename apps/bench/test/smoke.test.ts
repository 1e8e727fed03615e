/**
 * The benchmark end to end in smoke mode (tiny counts, about a second per scenario): every
 * server starts, every scenario runs, and the report has a row for each. No figure is judged
 * here; targets are for the full run (`pnpm bench`).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { SCENARIOS, type Results } from '../src/report.ts';

/** Scenario 2's sizes in smoke mode (`SMOKE.fanout.sizes` in src/run.ts), which scenario 15 runs too. */
const SMOKE_FANOUT_SIZES = [10, 40];
const appDir = fileURLToPath(new URL('..', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'herald-bench-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runSmoke(): Promise<{ code: number | null; log: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/run.ts', '--smoke', `--out=${out}`], { cwd: appDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, log });
    });
  });
}

it('runs every scenario in smoke mode and writes a table row for each', async () => {
  const { code, log } = await runSmoke();
  expect(code, log).toBe(0);

  const markdown = readFileSync(join(out, 'latest.md'), 'utf8');
  for (const [n, name] of SCENARIOS) {
    expect(markdown, `summary row of scenario ${n}`).toMatch(new RegExp(`^\\| ${n}\\. ${name} \\|`, 'm'));
    expect(markdown, `section of scenario ${n}`).toContain(`## ${n}. `);
  }
  expect(readFileSync(join(out, 'latest.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);

  // Every server of every scenario ran (a row that failed carries its error).
  const results = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Results;
  const sections = {
    requestResponse: results.requestResponse,
    fanout: results.fanout,
    memory: results.memory,
    longPoll: results.longPoll,
    delivery: results.delivery,
    growth: results.growth,
    hostile: results.hostile.map((row) => ({ ...row, label: 'a hostile session' })),
    history: results.history.map((row) => ({ ...row, label: 'topic history memory' })),
    idempotent: results.idempotent.map((row) => ({ ...row, label: 'idempotent publish' })),
    presence: results.presence.map((row) => ({ ...row, label: 'presence' })),
    metricsCost: results.metricsCost,
  };
  const counts = Object.fromEntries(Object.entries(sections).map(([name, rows]) => [name, rows.length]));
  expect(counts).toEqual({ requestResponse: 16, fanout: 6, memory: 3, longPoll: 2, delivery: 2, growth: 3, hostile: 1, history: 1, metricsCost: 2, idempotent: 1, presence: 1 });
  const failures = Object.values(sections)
    .flat()
    .filter((row) => row.error !== undefined)
    .map((row) => `${row.label}: ${row.error}`);
  expect(failures, log).toEqual([]);
  expect(results.targets.length).toBeGreaterThan(0);
  // Scenario 16 held every session of both servers over two processes each.
  expect(results.sessions?.runs.map((run) => [run.key, run.processes, run.open, run.closed, run.error])).toEqual([
    ['herald-uws', 2, 600, 0, undefined],
    ['uws-raw', 2, 600, 0, undefined],
  ]);
  // Scenario 13 ran its three runs, each to the end of its publishing.
  expect(results.conflation?.runs.map((run) => run.published > 0)).toEqual([true, true, true]);
  // Scenario 15 ran both modes at each fan-out size, and the delta subscribers did get deltas (fewer bytes than the full ones).
  const rows = results.delta?.rows ?? [];
  expect(rows.map((row) => [row.subscribers, row.mode, row.error])).toEqual(
    SMOKE_FANOUT_SIZES.flatMap((size) => [
      [size, 'full', undefined],
      [size, 'delta', undefined],
    ]),
  );
  for (const size of SMOKE_FANOUT_SIZES) {
    const wire = (mode: string) => rows.find((row) => row.subscribers === size && row.mode === mode)?.wireBytes ?? NaN;
    expect(wire('delta')).toBeLessThan(wire('full'));
  }
}, 250_000);
