/**
 * The control side of a Node server process: it prints `READY <port>` once listening, and reads
 * commands from stdin (`gc`: collect garbage, answered `GC_DONE ok <heapUsed> <external>`; `snapshot <file>`: a heap snapshot, for investigations), so that the runner can
 * measure its RSS after a full collection. Run with `--expose-gc`.
 */
import { createInterface } from 'node:readline';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';

export function ready(port: number): void {
  process.stdout.write(`READY ${port}\n`);
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.startsWith('snapshot ')) {
      process.stdout.write(`SNAPSHOT_DONE ${writeHeapSnapshot(line.slice(9).trim())}\n`);
      return;
    }
    if (line.trim() === 'gc') {
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
