/**
 * The control side of a Node server process: it prints `READY <port>` once listening, and reads
 * commands from stdin (`gc`, or `gc fill` to run garbage through the young generation first: collect garbage, answered `GC_DONE ok <heapUsed> <external>`; `snapshot <file>`: a heap snapshot, for investigations), so that the runner can
 * measure its RSS after a full collection. Run with `--expose-gc`.
 */
import { createInterface } from 'node:readline';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

/** Short-lived garbage past the young generation's size (the bench fixes it at 2 × 16 MiB). */
function fillNursery(): void {
  let last: unknown;
  for (let i = 0; i < 150_000; i++) last = new Array(64).fill(i);
  void last;
}

export function ready(port: number): void {
  process.stdout.write(`READY ${port}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.startsWith('snapshot ')) {
      process.stdout.write(`SNAPSHOT_DONE ${writeHeapSnapshot(line.slice(9).trim())}\n`);
      return;
    }
    if (line.trim() === 'gc' || line.trim() === 'gc fill') {
      // The young generation's pages become resident as it first fills: a server that allocated
      // little before a measurement would count them (up to 32 MiB) as the sessions' memory.
      if (line.trim() === 'gc fill') fillNursery();
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const { heapUsed, external } = process.memoryUsage();
      if (process.env['BENCH_DEBUG_HEAP']) {
        const spaces = getHeapSpaceStatistics().map((s) => `${s.space_name}=${(s.physical_space_size / 1048576).toFixed(1)}/${(s.space_used_size / 1048576).toFixed(1)}`);
        process.stderr.write(`heap spaces (physical/used MiB): ${spaces.join(' ')}\n`);
      }
      process.stdout.write(`GC_DONE ${gc === undefined ? 'unavailable' : 'ok'} ${heapUsed} ${external}\n`);
    }
  });
  // The runner going away ends the server too.
  lines.on('close', () => process.exit(0));
}
