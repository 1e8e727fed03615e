/**
 * Scenario 13 in the runner: runs `src/conflation.ts` (its own server and generator, pinned) and
 * turns its figures into the target rows of issue 22's conflation.
 */
import { execFile } from 'node:child_process';
import type { ConflationRun } from './conflation.ts';
import { APP_DIR } from './proc.ts';
import type { Target } from './report.ts';

export interface ConflationFigures {
  readonly subscribers: number;
  readonly slow: number;
  readonly rate: number;
  readonly seconds: number;
  readonly slowBytesPerSecond: number;
  readonly runs: readonly ConflationRun[];
}

export async function scenarioConflation(smoke: boolean, log: (line: string) => void): Promise<{ figures?: ConflationFigures; targets: Target[] }> {
  let figures: ConflationFigures;
  try {
    const args = ['--conditions=@herald/source', '--import', 'tsx', 'src/conflation.ts', ...(smoke ? ['--smoke'] : [])];
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, args, { cwd: APP_DIR, timeout: 600_000, maxBuffer: 1024 * 1024 }, (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out))),
    );
    figures = JSON.parse(stdout.trim().split('\n').pop() ?? '') as ConflationFigures;
  } catch (error) {
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
    log(`conflation failed: ${message}`);
    return { targets: [{ scenario: 13, target: 'conflation: server memory flat with slow subscribers', measured: `failed: ${message}`, holds: null }] };
  }
  const [quiet, slow, unconflated] = figures.runs;
  for (const run of figures.runs) {
    log(
      `conflation: ${run.name}: fast p50/p99 ${run.p50Ms}/${run.p99Ms} ms, RSS ${run.rssMiB.third} → ${run.rssMiB.end} MiB (max ${run.rssMiB.max}), slow read ${(run.slowBytes / 1024).toFixed(0)} KiB with ${run.slowConflated} conflated frames`,
    );
  }
  const setup = `${figures.subscribers} subscribers, ${figures.slow} reading ${figures.slowBytesPerSecond / 1000} KB/s, ${figures.rate} msg/s of ~1 KB for ${figures.seconds} s`;
  const targets: Target[] = [];
  if (slow !== undefined) {
    const growth = slow.rssMiB.end / slow.rssMiB.third;
    targets.push({
      scenario: 13,
      target: `conflation (${setup}): server memory flat, RSS at the end ≤ 1.1× at a third of the run`,
      measured: `${slow.rssMiB.third} → ${slow.rssMiB.end} MiB (${growth.toFixed(2)}×; max ${slow.rssMiB.max} MiB); not conflated: ${unconflated?.rssMiB.third} → ${unconflated?.rssMiB.end} MiB`,
      holds: Number.isFinite(growth) ? growth <= 1.1 : null,
      caveat: '100 msg/s, not 1,000: 900 fast subscribers at 200/s of 1 KB already kept the server core at 95%',
    });
  }
  if (slow !== undefined && quiet !== undefined) {
    const ratio = slow.p99Ms / quiet.p99Ms;
    const lossless = slow.fastMinReceived === slow.published;
    targets.push({
      scenario: 13,
      target: `conflation: fast subscribers' p99 beside the slow ones ≤ 1.2× without them, and every message reaches them`,
      measured: `${slow.p99Ms} ms vs ${quiet.p99Ms} ms (${ratio.toFixed(2)}×); the fewest a fast one got: ${slow.fastMinReceived} of ${slow.published}; slow ones got ${slow.slowConflated} conflated frames`,
      holds: Number.isFinite(ratio) ? ratio <= 1.2 && lossless : null,
    });
  }
  return { figures, targets };
}
