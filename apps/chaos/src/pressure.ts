/**
 * CPU pressure: busy loops in processes of their own, one per core of a two-core machine, so
 * every timer, socket and process of the run competes for the CPU. Each loop also checks now
 * and then that the run is still there and exits if not.
 */
import type { ProcessGroup } from './process-group.ts';

const BUSY_LOOP = 'const parent = process.ppid; for (let i = 1; ; i++) if (i % 50_000_000 === 0) { try { process.kill(parent, 0); } catch { process.exit(); } }';

export function startPressure(group: ProcessGroup, loops = 2): void {
  for (let i = 0; i < loops; i++) group.spawn(process.execPath, ['-e', BUSY_LOOP], { stdio: 'ignore' });
}
