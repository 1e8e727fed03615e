/**
 * What the inspector costs per request, with no network: the same ~100-byte request in and its
 * answer out on in-process servers, measured in alternating rounds of one process so that the
 * machine's load lands on all alike:
 *
 * - `none`: a server nobody inspects (the hooks are unset);
 * - `attached`: `createInspector` on it (answers counted per type and code);
 * - `tapped`: the same, with the page tailing this very session (every frame redacted and kept).
 *
 * `BASELINE_CORE=<dir>/index.ts` adds `baseline`: the same server from another copy of core's
 * sources (say, main's, from `git archive`), to compare the hooks' cost when nobody inspects.
 *
 *   pnpm --filter @herald/inspector bench          full run
 *   pnpm --filter @herald/inspector bench --smoke  a few thousand requests
 */
import * as core from '@herald/core';
import { createInspector } from '../src/index.ts';

const smoke = process.argv.includes('--smoke');
const N = smoke ? 5_000 : 200_000;
const ROUNDS = smoke ? 2 : 10;
const TOKEN = 'bench-inspector-token-0000';

type Core = Pick<typeof core, 'createHerald' | 'defineContract'>;

function session(from: Core, mode: 'none' | 'attached' | 'tapped') {
  const any = { '~standard': { version: 1 as const, vendor: 'bench', validate: (value: unknown) => ({ value }) } };
  const contract = from.defineContract({ requests: { 'bench.Echo': { request: any, response: any } }, notifications: {} });
  const herald = from.createHerald({
    contract,
    handlers: { 'bench.Echo': (body: unknown) => body },
    upgradeRateLimit: false,
    processingBudget: false,
    limits: { rateLimit: { messagesPerSecond: 1e12, burst: 1e12 } },
  });
  const socket: core.HeraldSocket = { send: () => {}, close: () => {}, bufferedAmount: 0 };
  const connection = herald.open(socket, { ok: true, protocol: 'herald.v1', client: 'native', principal: { userId: 'u' } });
  if (mode !== 'none') {
    const inspector = createInspector(herald as core.Herald<any>, { token: TOKEN });
    if (mode === 'tapped') {
      const sessionId = (herald as core.Herald<any>).inspection().snapshot().sessions[0]?.id ?? '';
      // The page's first read starts the tap; the tail then keeps the last 200 frames.
      void inspector.fetch(new Request(`http://bench/inspector/api/frames?session=${sessionId}&after=0`, { headers: { authorization: `Bearer ${TOKEN}` } }));
    }
  }
  let id = 0;
  return () => {
    for (let i = 0; i < N; i++) connection.receive(`{"kind":"req","resp":${id},"id":"${++id}","type":"bench.Echo","body":{"user":"u-10077","text":"hello there, general kenobi","n":12345}}`);
  };
}

const runs: Array<[string, () => void]> = [
  ['none', session(core, 'none')],
  ['attached', session(core, 'attached')],
  ['tapped', session(core, 'tapped')],
];
const baseline = process.env['BASELINE_CORE'];
if (baseline !== undefined) runs.unshift(['baseline', session((await import(baseline)) as Core, 'none')]);

const nsPerRequest = new Map<string, number[]>(runs.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? runs : [...runs].reverse();
  for (const [name, run] of order) {
    const started = performance.now();
    run();
    nsPerRequest.get(name)?.push(((performance.now() - started) * 1e6) / N);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const reference = median(nsPerRequest.get(baseline === undefined ? 'none' : 'baseline') ?? []);
for (const [name, values] of nsPerRequest) {
  console.log(`${name.padEnd(9)} ${median(values).toFixed(0).padStart(5)} ns per request  (${(median(values) / reference).toFixed(3)}× ${baseline === undefined ? 'none' : 'baseline'}; median of ${ROUNDS} rounds of ${N})`);
}
process.exit(0);
