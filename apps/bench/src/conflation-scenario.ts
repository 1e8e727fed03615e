/**
 * Scenario 13 in the runner: runs `src/conflation.ts` (its own server and generator, pinned) and
 * turns its figures into the target rows of issue 22's conflation.
 */
import { execFile } from 'node:child_process';
import type { ConflationRun } from './conflation.ts';
import type { SocketBuffers } from './netns.ts';
import { APP_DIR } from './proc.ts';
import type { Target } from './report.ts';

export interface ConflationFigures {
  readonly subscribers: number;
  readonly slow: number;
  readonly rate: number;
  readonly seconds: number;
  readonly slowBytesPerSecond: number;
  readonly highWaterMark: number;
  readonly buffers: SocketBuffers;
  readonly runs: readonly ConflationRun[];
}

/** Whether the slow subscribers of `run` fell behind on the server: at some sample at least half of them were above the high-water mark. */
export function lagged(run: ConflationRun): boolean {
  return run.slow > 0 && run.slowFullMax * 2 >= run.slow;
}

const codes = (run: ConflationRun) => Object.entries(run.closeCodes).map(([code, n]) => `${n} × ${code}`).join(', ') || 'none';

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
  if (!figures.buffers.isolated) log(`conflation: ${figures.buffers.reason ?? 'on the host\'s TCP buffers'}`);
  for (const run of figures.runs) {
    log(
      `conflation: ${run.name}: fast p50/p99 ${run.p50Ms}/${run.p99Ms} ms, RSS ${run.rssMiB.third} → ${run.rssMiB.end} MiB (max ${run.rssMiB.max}), held for slow ones ${run.slowBufferedKiB.third} → ${run.slowBufferedKiB.end} KiB, slow ones read ${run.slowReceived} frames, ${run.slowConflated} conflated, ${run.slowResets} resets, closes: ${codes(run)}`,
    );
  }
  const buffers = figures.buffers.isolated
    ? `TCP buffers of a network namespace of its own (tcp_rmem ${figures.buffers.tcpRmem}, tcp_wmem ${figures.buffers.tcpWmem})`
    : `the host's TCP buffers (tcp_rmem ${figures.buffers.tcpRmem}, tcp_wmem ${figures.buffers.tcpWmem})`;
  const setup = `${figures.subscribers} subscribers, ${figures.slow} reading ${figures.slowBytesPerSecond / 1000} KB/s, ${figures.rate} msg/s of ~0.5 KB for ${figures.seconds} s`;
  const caveat = `${figures.rate} msg/s, not 1,000: 900 fast subscribers at 200/s already kept the server core at 95%; ${buffers}`;
  const targets: Target[] = [];
  if (slow !== undefined) {
    const growth = slow.rssMiB.end / slow.rssMiB.third;
    const control =
      unconflated === undefined
        ? ''
        : `; not conflated: RSS ${unconflated.rssMiB.third} → ${unconflated.rssMiB.end} MiB, held ${unconflated.slowBufferedKiB.third} → ${unconflated.slowBufferedKiB.end} KiB, slow ones got ${unconflated.slowResets} resets, closes ${codes(unconflated)}, read what was ${(unconflated.slowAgeMs.p50 / 1000).toFixed(1)} s old (p50)`;
    const measured = `${slow.rssMiB.third} → ${slow.rssMiB.end} MiB (${growth.toFixed(2)}×; max ${slow.rssMiB.max} MiB); held for the slow ones ${slow.slowBufferedKiB.third} → ${slow.slowBufferedKiB.end} KiB, up to ${slow.slowFullMax} of ${slow.slow} above the high-water mark; they got ${slow.slowConflated} conflated frames of ${slow.slowReceived}, closes ${codes(slow)}${control}`;
    targets.push({
      scenario: 13,
      target: `conflation (${setup}): server memory flat, RSS at the end ≤ 1.1× at a third of the run, with the slow ones behind on the server`,
      // Flat memory proves nothing about conflation unless the server held the slow ones' frames back.
      measured: lagged(slow) ? measured : `not measured: the slow ones never fell behind on the server (${measured})`,
      holds: lagged(slow) && slow.slowConflated > 0 && Number.isFinite(growth) ? growth <= 1.1 : null,
      caveat,
    });
  }
  if (slow !== undefined && quiet !== undefined) {
    const ratio = slow.p99Ms / quiet.p99Ms;
    const lossless = slow.fastMinReceived === slow.published;
    // A baseline whose fast ones lost messages was itself disturbed (a starved generator or server): no ratio against it.
    const baseline = quiet.fastMinReceived === quiet.published && quiet.fastConflated === 0;
    targets.push({
      scenario: 13,
      target: `conflation: fast subscribers' p99 beside the slow ones ≤ 1.2× without them, and every message reaches them`,
      measured: `${baseline ? '' : `not measured: without the slow ones a fast one got only ${quiet.fastMinReceived} of ${quiet.published} (a disturbed run); `}${slow.p99Ms} ms vs ${quiet.p99Ms} ms (${ratio.toFixed(2)}×); the fewest a fast one got: ${slow.fastMinReceived} of ${slow.published} (${slow.fastConflated} conflated frames to fast ones)`,
      holds: Number.isFinite(ratio) && lagged(slow) && baseline ? ratio <= 1.2 && lossless : null,
      caveat,
    });
  }
  return { figures, targets };
}
