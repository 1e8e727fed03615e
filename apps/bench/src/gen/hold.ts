/**
 * A generator process of scenario 16: holds idle sessions to one server from one loopback
 * source address, answering keep-alive, so that 100,000 sessions fit under the per-process
 * descriptor limit. Driven over stdin/stdout by `src/sessions-scenario.ts`:
 *
 *   (start)  opens `--warm` sessions            → `WARM`
 *   `open`   opens `--count` more               → `OPEN <first connect, epoch ms> <last ready, epoch ms>`
 *   `state`                                     → `STATE <open> <closed> <keep-alive pings answered>`
 *   stdin closed                                → exits (the kernel closes the sockets)
 *
 * Any session that fails to open ends the process with `FAILED <reason>`.
 */
import { createInterface } from 'node:readline';
import { keepAliveAnswers, openSessions, type Dialect } from './load.ts';
import type { RawWs } from './ws-client.ts';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const arg = (name: string): string => {
  const value = args.get(name);
  if (value === undefined) throw new Error(`hold.ts: --${name}= is required`);
  return value;
};
const dialect = arg('dialect') as Dialect;
const port = Number(arg('port'));
const warm = Number(arg('warm'));
const count = Number(arg('count'));
const firstIndex = Number(arg('first'));
/** Optional: binding a source address makes the kernel search its ports at every connect (see the scenario). */
const source = args.get('source');

const sessions: RawWs[] = [];
const open = async (n: number, offset: number) => {
  sessions.push(...(await openSessions(dialect, port, n, { firstIndex: firstIndex + offset, ...(source === undefined ? {} : { localAddress: source }) })));
};
const fail = (error: unknown) => {
  process.stdout.write(`FAILED ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
};

await open(warm, 0).catch(fail);
process.stdout.write('WARM\n');
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (line === 'open') {
    const start = Date.now();
    open(count, warm)
      .then(() => process.stdout.write(`OPEN ${start} ${Date.now()}\n`))
      .catch(fail);
  } else if (line === 'state') {
    const closed = sessions.filter((ws) => ws.closed).length;
    process.stdout.write(`STATE ${sessions.length - closed} ${closed} ${keepAliveAnswers.herald}\n`);
  }
});
lines.on('close', () => process.exit(0));
