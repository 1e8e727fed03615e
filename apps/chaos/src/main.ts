/**
 * `pnpm chaos [--no-pressure]`: the chaos run (see README). Progress goes to stdout as it
 * happens; the last line is `chaos: {json}`. Exit code 0 when nothing was lost, duplicated or
 * reordered, no request ran twice and every request was accounted for; 1 when something was;
 * 2 when the run itself could not be carried out. Every process it started is stopped at the
 * end, on an error and on Ctrl+C.
 */
import { readConfig } from './config.ts';
import { ProcessGroup } from './process-group.ts';
import { failures } from './report.ts';
import { runChaos } from './run.ts';

const group = new ProcessGroup();
process.on('exit', () => group.killNow());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`chaos: stopped by ${signal}`);
    void group.stopAll().finally(() => process.exit(130));
  });
}

const startedAt = Date.now();
const log = (line: string): void => console.log(`[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${line}`);
let code = 2;
try {
  const config = readConfig(process.argv.slice(2), process.env);
  log(`chaos: ${JSON.stringify(config)}`);
  const report = await runChaos(config, group, log);
  const failed = failures(report);
  log(failed.length === 0 ? 'passed' : `FAILED: ${failed.join(', ')}`);
  console.log(`chaos: ${JSON.stringify(report)}`);
  code = failed.length === 0 ? 0 : 1;
} catch (error) {
  console.error('chaos: the run could not be carried out:', error);
} finally {
  await group.stopAll();
}
process.exit(code);
