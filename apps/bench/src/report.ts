/**
 * The results of one run and their three renderings: `latest.json` (everything, per window),
 * `latest.md` (the tables and the targets) and `latest.svg` (a hand-written bar chart).
 */
import type { HostileRow } from './gen/hostile.ts';
import type { ConflationFigures } from './conflation-scenario.ts';
import type { DeltaFigures } from './delta-scenario.ts';
import type { SessionsFigures } from './sessions-scenario.ts';

/** Below this server CPU (fraction of its core) a throughput figure says more about the generator. */
export const SATURATED = 0.9;

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  readonly bun: string;
  readonly deno: string;
  readonly pinned: boolean;
}

export interface WindowFigures {
  readonly perSecond: number;
  readonly serverCpu: number;
  readonly generatorCpu: number;
  readonly otherCpu: number;
  readonly stealCpu: number;
}

export interface ThroughputRow {
  readonly key: string;
  readonly label: string;
  /** Connections (or long-poll clients). */
  readonly connections: number;
  readonly perSecond: number;
  readonly serverCpu: number;
  readonly generatorCpu: number;
  readonly windows: readonly WindowFigures[];
  readonly notes: readonly string[];
  readonly error?: string;
}

export interface FanoutRow {
  readonly key: string;
  readonly label: string;
  readonly subscribers: number;
  readonly p50: number;
  readonly p99: number;
  readonly rounds: number;
  readonly cpuMsPerPublish: number;
  readonly missed: number;
  readonly error?: string;
}

export interface MemoryRow {
  readonly key: string;
  readonly label: string;
  readonly sessions: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
  readonly perSession: number;
  /** Of which JS heap in use (after a full GC). */
  readonly heapPerSession: number;
  /** Per-session RSS of every run (the row is the median run). */
  readonly runs: readonly number[];
  /** Server CPU (cores) while the sessions sat idle: its sweep. */
  readonly idleCpu: number;
  /** `idleCpu` of every run. */
  readonly idleCpuRuns?: readonly number[];
  readonly error?: string;
}

/** Scenario 8: topic history in the embedded broker (`src/history-memory.ts`). */
export interface HistoryRow {
  readonly topics: number;
  /** History per topic (`historySize`), all filled. */
  readonly messages: number;
  readonly bodyChars: number;
  /** JS heap per history entry, after full collections. */
  readonly bytesPerEntry: number;
  /** What the broker counts per entry against `historyBytes`. */
  readonly accountedPerEntry: number;
  /** The `historyBytes` of the bounded run, which publishes four times it. */
  readonly budget: number;
  /** JS heap held by the bounded run's history. */
  readonly heldBytes: number;
  readonly accountedBytes: number;
  readonly evicted: number;
  /** Whether a resume from before the evicted messages was answered complete (it must not be). */
  readonly evictedResumeRecovered: boolean;
  readonly error?: string;
}

/** Scenario 11: publishes per second per round, with and without an idempotency key (`src/idempotent.ts`). */
export interface IdempotentRow {
  readonly memory: { readonly plain: number[]; readonly keyed: number[] };
  /** `MemoryBroker` again, the topic with 10 subscribed sessions on in-process counting sockets. */
  readonly memorySubscribed?: { readonly plain: number[]; readonly keyed: number[] };
  readonly redis: { readonly plain: number[]; readonly keyed: number[] };
  readonly error?: string;
}

/** Scenario 12: presence costs in milliseconds per round (`src/presence.ts`). */
export interface PresenceRow {
  readonly members: number;
  readonly joinMs: number[];
  readonly publishMs: number[];
  readonly countSubscribeMs: number[];
  readonly plainSubscribeMs: number[];
  readonly countPushMs: number[];
  readonly error?: string;
}

/** Scenario 14: `herald.v1.msgpack` beside `herald.v1` and the bare-JSON codec ceiling. */
export interface MsgpackFigures {
  /** Request/response rows: `herald-uws` (JSON), `herald-uws-msgpack`, `uws-json` (codec ceiling). */
  readonly requestResponse: ThroughputRow[];
  /** Fan-out rows: `herald-uws` (JSON subscribers) and `herald-uws-msgpack` (MessagePack subscribers). */
  readonly fanout: FanoutRow[];
  /** Payload bytes (WebSocket headers not counted) of one request, one response and one topic notification. */
  readonly bytes: { readonly [encoding in 'json' | 'msgpack']: { readonly request: number; readonly response: number; readonly notification: number } };
}

/** Scenario 10's figures (`gateway-scenario.ts`): msg/s per run direct and through the gateway, KiB RSS per idle session. */
export interface GatewayFigures {
  readonly direct: readonly number[];
  readonly gateway: readonly number[];
  readonly gatewayCpu: readonly number[];
  readonly nodeCpu: readonly number[];
  /** Medians of the runs below. */
  readonly nodeKiBPerSession: number;
  readonly gatewayKiBPerSession: number;
  readonly nodeKiBRuns?: readonly number[];
  readonly gatewayKiBRuns?: readonly number[];
  /** JS heap in use per idle session, KiB, per run. */
  readonly nodeHeapKiBRuns?: readonly number[];
  readonly gatewayHeapKiBRuns?: readonly number[];
  readonly sharedCore: boolean;
}

export interface Target {
  readonly scenario: number;
  readonly target: string;
  readonly measured: string;
  /** null when it could not be judged (a run failed). */
  readonly holds: boolean | null;
  readonly caveat?: string;
}

export interface Results {
  readonly smoke: boolean;
  readonly startedAt: string;
  durationSeconds: number;
  readonly machine: Machine;
  readonly plan: unknown;
  readonly requestResponse: ThroughputRow[];
  readonly fanout: FanoutRow[];
  readonly memory: MemoryRow[];
  readonly longPoll: ThroughputRow[];
  readonly delivery: ThroughputRow[];
  readonly growth: ThroughputRow[];
  readonly hostile: HostileRow[];
  readonly history: HistoryRow[];
  readonly idempotent: IdempotentRow[];
  readonly presence: PresenceRow[];
  /** Scenario 10, when it ran. */
  gateway?: GatewayFigures;
  /** Scenario 13, when it ran. */
  conflation?: ConflationFigures;
  /** Scenario 14, when it ran. */
  msgpack?: MsgpackFigures;
  /** Scenario 15, when it ran. */
  delta?: DeltaFigures;
  /** Scenario 16, when it ran. */
  sessions?: SessionsFigures;
  /** Scenario 9: Herald on uWS with metrics off (`herald-uws`) and on (`herald-uws-metrics`). */
  readonly metricsCost: ThroughputRow[];
  targets: Target[];
  profiles: Array<{ readonly server: string; readonly file: string; readonly busyPercent: number; readonly top: ReadonlyArray<{ name: string; selfPercent: number }> }>;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)}%` : '—');
const pct2 = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(2)}%` : '—');
const ms = (n: number) => (Number.isFinite(n) ? (n < 10 ? n.toFixed(2) : n.toFixed(1)) : '—');
const ratio = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '—');
const kib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : '—');
const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : '—');

export function generatorBound(row: Pick<ThroughputRow, 'serverCpu' | 'error'>): boolean {
  return row.error === undefined && row.serverCpu < SATURATED;
}

function noteOf(row: ThroughputRow): string {
  if (row.error !== undefined) return `failed: ${row.error.split('\n')[0]?.slice(0, 160)}`;
  const notes = [...row.notes];
  if (generatorBound(row)) notes.unshift(`**generator-bound** (server core ${pct(row.serverCpu)} busy)`);
  if (row.windows.length > 1) {
    const rates = row.windows.map((w) => w.perSecond);
    const spread = (Math.max(...rates) - Math.min(...rates)) / row.perSecond;
    if (spread > 0.15) notes.push(`runs spread ${pct(spread)}: ${rates.map(int).join(', ')}`);
  }
  const other = Math.max(...row.windows.map((w) => w.otherCpu + w.stealCpu));
  if (other > 0.15) notes.push(`other CPU load up to ${pct(other)} of a core during a run`);
  return notes.join('; ');
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Rows of scenario 1 at a connection count, keyed by server. */
function byKey(rows: readonly ThroughputRow[], connections: number): Map<string, ThroughputRow> {
  return new Map(rows.filter((r) => r.connections === connections && r.error === undefined).map((r) => [r.key, r]));
}

export const SCENARIOS = [
  [1, 'Request/response'],
  [2, 'Fan-out'],
  [3, 'Memory per idle session'],
  [4, 'Long-poll'],
  [5, 'Delivery confirmation'],
  [6, 'Growth'],
  [7, 'A hostile session'],
  [8, 'Topic history memory'],
  [9, 'Metrics cost'],
  [11, 'Idempotent publish'],
  [12, 'Presence'],
  [13, 'Conflation'],
  [15, 'Delta topics'],
  [16, 'Sessions on one machine'],
] as const;

/** One line per scenario: the headline figure of the run. */
function summaryRows(results: Results): string[][] {
  const deltaRow = results.delta?.rows.findLast((r) => r.mode === 'delta' && r.error === undefined);
  const fullRow = results.delta?.rows.findLast((r) => r.mode === 'full' && r.error === undefined);
  const rr = results.requestResponse;
  const levels = [...new Set(rr.map((r) => r.connections))].sort((a, b) => a - b);
  const top = levels[levels.length - 1] ?? 0;
  const at = byKey(rr, top);
  const herald = at.get('herald-uws');
  const codec = at.get('uws-json');
  const fan = results.fanout.filter((r) => r.error === undefined);
  const maxSubs = Math.max(0, ...fan.map((r) => r.subscribers));
  const fanHerald = fan.find((r) => r.key === 'herald-uws' && r.subscribers === maxSubs);
  const fanRaw = fan.find((r) => r.key === 'uws-raw' && r.subscribers === maxSubs);
  const mem = new Map(results.memory.filter((r) => r.error === undefined).map((r) => [r.key, r]));
  const lp = new Map(results.longPoll.filter((r) => r.error === undefined).map((r) => [r.key, r]));
  const dl = new Map(results.delivery.filter((r) => r.error === undefined).map((r) => [r.key, r]));
  const growth = results.growth.filter((r) => r.error === undefined);
  const g0 = growth[0];
  const gN = growth[growth.length - 1];
  const hostile = results.hostile.filter((r) => r.error === undefined);
  const history = results.history.find((r) => r.error === undefined);
  const idem = results.idempotent.find((r) => r.error === undefined);
  const presence = results.presence.find((r) => r.error === undefined);
  const [cQuiet, cSlow] = results.conflation?.runs ?? [];
  const metricsOff = results.metricsCost.find((r) => r.key === 'herald-uws' && r.error === undefined);
  const metricsOn = results.metricsCost.find((r) => r.key === 'herald-uws-metrics' && r.error === undefined);
  return [
    ['1. Request/response', `Herald on uWS ${int(herald?.perSecond ?? NaN)} msg/s at ${int(top)} connections`, `${ratio((herald?.perSecond ?? NaN) / (codec?.perSecond ?? NaN))} the codec ceiling`],
    [
      '2. Fan-out',
      `Herald p50 ${ms(fanHerald?.p50 ?? NaN)} ms / p99 ${ms(fanHerald?.p99 ?? NaN)} ms to the last of ${int(maxSubs)}`,
      `${ratio((fanHerald?.p50 ?? NaN) / (fanRaw?.p50 ?? NaN))} raw uWS publish (p50)`,
    ],
    [
      '3. Memory per idle session',
      `Herald ${kib(mem.get('herald-uws')?.perSession ?? NaN)} per session`,
      `${ratio((mem.get('herald-uws')?.perSession ?? NaN) / (mem.get('uws-raw')?.perSession ?? NaN))} raw uWS, ${ratio((mem.get('herald-uws')?.perSession ?? NaN) / (mem.get('socketio')?.perSession ?? NaN))} Socket.IO`,
    ],
    ['4. Long-poll', `Herald ${int(lp.get('herald-lp')?.perSecond ?? NaN)} msg/s`, `${ratio((lp.get('herald-lp')?.perSecond ?? NaN) / (lp.get('engineio')?.perSecond ?? NaN))} engine.io polling`],
    ['5. Delivery confirmation', `acked ${int(dl.get('acked')?.perSecond ?? NaN)} notifications/s`, `${ratio((dl.get('acked')?.perSecond ?? NaN) / (dl.get('plain')?.perSecond ?? NaN))} fire-and-forget`],
    ['6. Growth', `Herald ${int(g0?.perSecond ?? NaN)} → ${int(gN?.perSecond ?? NaN)} msg/s (${int(g0?.connections ?? NaN)} → ${int(gN?.connections ?? NaN)} connections)`, `${pct(1 - (gN?.perSecond ?? NaN) / (g0?.perSecond ?? NaN))} loss`],
    [
      '7. A hostile session',
      `well-behaved p99 ${ms(median(hostile.map((r) => r.quiet.p99Ms)))} ms quiet, ${ms(median(hostile.map((r) => r.attacked.p99Ms)))} ms beside the attacker`,
      `${ratio(median(hostile.map((r) => r.attacked.p99Ms / r.quiet.p99Ms)))} a quiet run (p99)`,
    ],
    [
      '8. Topic history memory',
      `${int(history?.bytesPerEntry ?? NaN)} B of heap per history entry (${int(history?.bodyChars ?? NaN)}-character bodies)`,
      `${ratio((history?.heldBytes ?? NaN) / (history?.budget ?? NaN))} historyBytes held under the budget`,
    ],
    [
      '11. Idempotent publish',
      `keyed ${int(median(idem?.redis.keyed ?? []))} publishes/s on Redis, ${int(median(idem?.memory.keyed ?? []))} in memory`,
      `${ratio(median(idem?.redis.keyed ?? []) / median(idem?.redis.plain ?? []))} unkeyed on Redis, ${ratio(median(idem?.memory.keyed ?? []) / median(idem?.memory.plain ?? []))} in memory`,
    ],
    [
      '12. Presence',
      `a join reaches ${int(presence?.members ?? NaN)} members in ${ms(median(presence?.joinMs ?? []))} ms; a count to them in ${ms(median(presence?.countPushMs ?? []))} ms`,
      `${ratio(median(presence?.joinMs ?? []) / median(presence?.publishMs ?? []))} a publish; count-only subscribe ${ratio(median(presence?.countSubscribeMs ?? []) / median(presence?.plainSubscribeMs ?? []))} a plain one`,
    ],
    [
      '13. Conflation',
      `server RSS ${cSlow?.rssMiB.third ?? 'n/a'} → ${cSlow?.rssMiB.end ?? 'n/a'} MiB with ${results.conflation?.slow ?? 'n/a'} slow subscribers, up to ${cSlow?.slowFullMax ?? 'n/a'} of them behind on the server (${int(cSlow?.slowConflated ?? NaN)} conflated frames to them)`,
      `fast p99 ${ratio((cSlow?.p99Ms ?? NaN) / (cQuiet?.p99Ms ?? NaN))} without slow ones`,
    ],
    [
      '15. Delta topics',
      `${int(deltaRow?.wireBytes ?? NaN)} B per publication with deltas, ${int(fullRow?.wireBytes ?? NaN)} B without (${int(deltaRow?.subscribers ?? NaN)} subscribers)`,
      `${ratio((fullRow?.wireBytes ?? NaN) / (deltaRow?.wireBytes ?? NaN))} fewer bytes; fan-out p50 ${ratio((deltaRow?.p50 ?? NaN) / (fullRow?.p50 ?? NaN))} without`,
    ],
    sessionsSummary(results.sessions),
    [
      '9. Metrics cost',
      `Herald on uWS ${int(metricsOn?.perSecond ?? NaN)} msg/s with Prometheus metrics, ${int(metricsOff?.perSecond ?? NaN)} without`,
      `${ratio((metricsOn?.perSecond ?? NaN) / (metricsOff?.perSecond ?? NaN))} off`,
    ],
  ];
}

function sessionsSummary(figures: SessionsFigures | undefined): string[] {
  const of = (key: string) => figures?.runs.filter((r) => r.key === key && r.error === undefined) ?? [];
  const herald = of('herald-uws');
  const raw = of('uws-raw');
  const rss = (rows: typeof herald) => median(rows.map((r) => r.rssPerSession));
  return [
    '16. Sessions on one machine',
    `${int(median(herald.map((r) => r.open)))} Herald sessions open, ${kib(rss(herald))} each, idle CPU ${pct2(median(herald.map((r) => r.idleCpu)))} of a core`,
    `${ratio(rss(herald) / rss(raw))} raw uWS (RSS per session)`,
  ];
}

function sessionsSection(figures: SessionsFigures): string[] {
  const first = figures.runs[0];
  return [
    '## 16. Sessions on one machine',
    '',
    `${int(first?.sessions ?? NaN)} idle authenticated sessions at once, spread over ${first?.processes ?? '—'} server processes of ${int(figures.perProcess)} on core 1 (one process may open ${int(figures.descriptorLimit)} descriptors here), each held by a generator process of its own on core 0 (\`src/gen/hold.ts\`; each server on its own port, so no source address is bound). Herald on uWS runs its default keep-alive (a ping every 25 s; \`src/servers/herald-uws.ts keepalive\`), raw uWS.js keeps the user id of the upgrade's token. RSS per session is the growth of all servers' RSS after a full GC, over the sessions opened after the baseline; accept is from the first connect to the last session ready; idle CPU is all servers' CPU over the idle window, with every session open.`,
    '',
    table(
      ['server', 'open / closed', 'accept', 'RSS per session', 'JS heap per session', 'idle CPU', 'pings answered'],
      figures.runs.map((r) => [
        r.label,
        r.error === undefined ? `${int(r.open)} / ${int(r.closed)}` : `failed: ${r.error.slice(0, 160)}`,
        `${ms(r.acceptMs / 1000)} s`,
        kib(r.rssPerSession),
        kib(r.heapPerSession),
        `${pct2(r.idleCpu)} over ${ms(r.idleSeconds)} s`,
        int(r.pings),
      ]),
    ),
    '',
  ];
}

export function renderMarkdown(results: Results): string {
  const { machine, plan } = results;
  const p = plan as {
    rr: { inFlight: number; runs: number; windowMs: number; warmupMs: number };
    fanout: { rounds: number; passes: number };
    memory: { warm: number; sessions: number; idleCpuMs?: number; runs: number };
    longPoll: { clients: number; batch: number; runs: number };
    delivery: { connections: number; inFlight: number; perTrigger: number; runs: number };
    hostile: { sessions: number; intervalMs: number; quietMs: number; attackMs: number; attackPerSecond: number; runs: number };
  };
  const out: string[] = [];
  out.push(`# Herald benchmark${results.smoke ? ' (smoke run: tiny counts, figures mean nothing)' : ''}`);
  out.push('');
  out.push(
    `Run ${results.startedAt}, ${Math.round(results.durationSeconds)} s. Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Linux ${machine.kernel}; ` +
      `Node ${machine.node}, Bun ${machine.bun}, Deno ${machine.deno}. ` +
      (machine.pinned
        ? 'Each server runs in its own process pinned to core 1 (`taskset -c 1`); the load generator (raw `net` sockets, pre-built masked frames, one write per read) is pinned to core 0.'
        : '**taskset was not available: nothing is pinned, figures are not comparable.**'),
  );
  out.push('');
  out.push(`Throughput figures are medians of ${p.rr.runs} runs (long-poll: ${p.longPoll.runs}, delivery: ${p.delivery.runs}); each run is a fresh server process, ${p.rr.warmupMs / 1000} s of warm-up, then one ${p.rr.windowMs / 1000} s window, and runs are interleaved across servers (A B C, A B C, …). Server and generator CPU are fractions of one core (from /proc/<pid>/stat); a result whose server core is below ${pct(SATURATED)} is marked **generator-bound** (the server had room to spare: the figure is a lower bound for it).`);
  out.push('');
  out.push('## Summary');
  out.push('');
  out.push(table(['scenario', 'headline', 'ratio'], summaryRows(results)));
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push('Ratios pair run i of one configuration with run i of the other (the runs are interleaved, so the two are seconds apart) and judge by the median of those per-run ratios, which cancels the machine\'s slow drifts; the range and the plain ratio of the medians are shown beside it.');
  out.push('');
  out.push(table(['#', 'target', 'measured', 'holds'], results.targets.map((t) => [String(t.scenario), t.target, t.measured + (t.caveat === undefined ? '' : ` (${t.caveat})`), t.holds === null ? 'n/a' : t.holds ? 'yes' : '**no**'])));
  out.push('');

  out.push(`## 1. Request/response`);
  out.push('');
  out.push(`${p.rr.inFlight} requests in flight per connection (closed loop), ~100-byte JSON bodies (\`{"kind":"req","id":…,"type":"bench.Echo","body":{…}}\`); Herald servers answer through the full core (decode, rate limit, retry cache, pass-through schema, encode), and Herald requests carry \`"resp":N\`, the count of responses received, as every \`@herald/client\` request does (PROTOCOL.md, Confirming responses). Ratio: against the codec ceiling (bare JSON.parse + JSON.stringify with reqId on raw uWS.js) at the same connection count.`);
  out.push('');
  const levels = [...new Set(results.requestResponse.map((r) => r.connections))].sort((a, b) => a - b);
  const rrRows: string[][] = [];
  for (const level of levels) {
    const codec = byKey(results.requestResponse, level).get('uws-json');
    for (const row of results.requestResponse.filter((r) => r.connections === level)) {
      rrRows.push([row.label, int(level), row.error === undefined ? int(row.perSecond) : '—', row.error === undefined ? ratio(row.perSecond / (codec?.perSecond ?? NaN)) : '—', pct(row.serverCpu), pct(row.generatorCpu), noteOf(row)]);
    }
  }
  out.push(table(['server', 'connections', 'msg/s', '× codec ceiling', 'server CPU', 'generator CPU', 'note'], rrRows));
  out.push('');

  out.push('## 2. Fan-out');
  out.push('');
  out.push(`One ~100-byte notification published to every subscriber of a topic, ${p.fanout.rounds} times in each of ${p.fanout.passes} passes over the servers (a fresh server per pass; the rounds are pooled); time from the publish request (sent by the generator on a control connection) to the moment the generator has read the frame on the last subscriber's socket, so it includes the generator's reading of every frame. CPU: server CPU per publish.`);
  out.push('');
  const raw = new Map(results.fanout.filter((r) => r.key === 'uws-raw' && r.error === undefined).map((r) => [r.subscribers, r]));
  out.push(
    table(
      ['server', 'subscribers', 'p50 ms', 'p99 ms', '× raw p50', '× raw p99', 'server CPU ms/publish', 'note'],
      results.fanout.map((r) => [
        r.label,
        int(r.subscribers),
        ms(r.p50),
        ms(r.p99),
        ratio(r.p50 / (raw.get(r.subscribers)?.p50 ?? NaN)),
        ratio(r.p99 / (raw.get(r.subscribers)?.p99 ?? NaN)),
        ms(r.cpuMsPerPublish),
        r.error !== undefined ? `failed: ${r.error.slice(0, 160)}` : r.missed > 0 ? `${r.missed} rounds timed out` : '',
      ]),
    ),
  );
  out.push('');

  out.push('## 3. Memory per idle authenticated session');
  out.push('');
  out.push(`RSS of the server process (native memory included) after ${int(p.memory.warm)} warm-up connections and after ${int(p.memory.sessions)} more idle authenticated sessions (Herald: bearer token at the upgrade, subscribed to \`$all\`, which nothing is published to here, so its sessions have no uWS subscription yet (they join at its first publication, some 170 B each); raw uWS.js: token checked at the upgrade, user id kept on the socket; Socket.IO: auth middleware), each read after a full GC. Before the baseline, the warm-up connections carry 1.5 s of request traffic. Every server runs with a young generation of fixed size (\`--min-semi-space-size=16 --max-semi-space-size=16\`, V8's default maximum): otherwise V8 grows it when most young objects survive, as they do while thousands of sessions open, and that fixed cost of some MB would be counted per session (with V8's defaults, Herald measured 2.7–3.7 KiB here on 2026-11-22). Then the server's CPU is read over ${int(p.memory.idleCpuMs ?? NaN)} ms with every session idle (\`idle CPU\`, median of the runs): for Herald, its sweep, which visits every session once a second; the sweep target extrapolates it linearly to 100,000 sessions. Median of ${p.memory.runs} runs (fresh server each).`);
  out.push('');
  const memRaw = results.memory.find((r) => r.key === 'uws-raw' && r.error === undefined);
  const memSio = results.memory.find((r) => r.key === 'socketio' && r.error === undefined);
  out.push(
    table(
      ['server', 'sessions', 'RSS before', 'RSS after', 'RSS per session', '× raw uWS', '× Socket.IO', 'of which JS heap', 'idle CPU', 'note'],
      results.memory.map((r) => [
        r.label,
        int(r.sessions),
        mib(r.rssBefore),
        mib(r.rssAfter),
        kib(r.perSession),
        ratio(r.perSession / (memRaw?.perSession ?? NaN)),
        ratio(r.perSession / (memSio?.perSession ?? NaN)),
        kib(r.heapPerSession),
        Number.isFinite(r.idleCpu) ? `${(median(r.idleCpuRuns ?? [r.idleCpu]) * 100).toFixed(2)}%` : '—',
        r.error === undefined ? (r.runs.length > 1 ? `runs: ${r.runs.map((v) => (v / 1024).toFixed(2)).join(', ')} KiB` : '') : `failed: ${r.error.slice(0, 160)}`,
      ]),
    ),
  );
  out.push('');

  out.push('## 4. Long-poll');
  out.push('');
  out.push(`${int(p.longPoll.clients)} polling clients, each with a held poll and a send connection (keep-alive HTTP/1.1, raw sockets); each send carries ${p.longPoll.batch} request envelopes, the next send leaves once all of their responses came back on the poll. msg/s: responses received per second. Both clients read poll bodies by scanning, not parsing. Herald's long-poll runs on uWS (\`attachHttp\`, no fetch objects); engine.io answers each message like the codec ceiling.`);
  out.push('');
  const eio = results.longPoll.find((r) => r.key === 'engineio' && r.error === undefined);
  out.push(table(['server', 'clients', 'msg/s', '× engine.io', 'server CPU', 'generator CPU', 'note'], results.longPoll.map((r) => [r.label, int(r.connections), int(r.perSecond), ratio(r.perSecond / (eio?.perSecond ?? NaN)), pct(r.serverCpu), pct(r.generatorCpu), noteOf(r)])));
  out.push('');

  out.push('## 5. Delivery confirmation');
  out.push('');
  out.push(`Herald on uWS, ${int(p.delivery.connections)} connections, each with ${p.delivery.inFlight} requests in flight that make the server send ${p.delivery.perTrigger} private notifications (~100-byte bodies) before answering. Acked: \`ctx.notify\` (seq, replay buffer), the client acks cumulatively once per ${p.delivery.perTrigger}. Fire-and-forget: the same frames written with the session's plain send, no replay buffer, no acks. Figures: notifications received per second.`);
  out.push('');
  const plain = results.delivery.find((r) => r.key === 'plain' && r.error === undefined);
  out.push(table(['mode', 'notifications/s', '× fire-and-forget', 'server CPU', 'generator CPU', 'note'], results.delivery.map((r) => [r.label, int(r.perSecond), ratio(r.perSecond / (plain?.perSecond ?? NaN)), pct(r.serverCpu), pct(r.generatorCpu), noteOf(r)])));
  out.push('');

  out.push('## 6. Growth');
  out.push('');
  out.push(`Herald on uWS, request/response as in scenario 1 (${p.rr.inFlight} in flight per connection) at growing connection counts.`);
  out.push('');
  const g0 = results.growth.find((r) => r.error === undefined);
  out.push(table(['connections', 'msg/s', `× at ${int(g0?.connections ?? NaN)}`, 'server CPU', 'generator CPU', 'note'], results.growth.map((r) => [int(r.connections), int(r.perSecond), ratio(r.perSecond / (g0?.perSecond ?? NaN)), pct(r.serverCpu), pct(r.generatorCpu), noteOf(r)])));
  out.push('');

  if (results.hostile.length > 0) {
    const h = p.hostile;
    out.push('## 7. A hostile session');
    out.push('');
    out.push(
      `The demo application (its own zod schemas) on Herald on uWS. ${h.sessions} well-behaved sessions each send a \`chat.Send\` every ${h.intervalMs} ms (open loop) for ${h.quietMs / 1000} s on a quiet server, ` +
        `then for ${h.attackMs / 1000} s while one more session sends ${h.attackPerSecond} requests a second of 64 KB \`ams.aam.SubscribeExConversations\` bodies whose \`convState\` holds ~32,000 invalid items (a tenth of its rate limit); it does not reconnect once closed. ` +
        'Latency: from the send to the answer, as the generator reads it. One fresh server per run.',
    );
    out.push('');
    out.push(
      table(
        ['run', 'quiet p50 / p99 ms', 'attacked p50 / p99 ms', 'attacked max ms', 'p99 × quiet', 'well-behaved failed', 'attacker sent', 'attacker answers', 'attacker closed'],
        results.hostile.map((r, i) => [
          String(i + 1),
          `${ms(r.quiet.p50Ms)} / ${ms(r.quiet.p99Ms)}`,
          `${ms(r.attacked.p50Ms)} / ${ms(r.attacked.p99Ms)}`,
          ms(r.attacked.maxMs),
          ratio(r.attacked.p99Ms / r.quiet.p99Ms),
          int(r.attacked.failed),
          int(r.attacker.sent),
          Object.entries(r.attacker.answers).map(([code, n]) => `${code}: ${n}`).join(', ') || '—',
          r.error ?? (r.attacker.closeCode === null ? 'never' : `${r.attacker.closeCode} after ${ms(r.attacker.closedAfterMs ?? NaN)} ms`),
        ]),
      ),
    );
    out.push('');
  }

  out.push('## 8. Topic history memory');
  out.push('');
  out.push(
    'The embedded broker (`MemoryBroker`) in a process of its own, no server: every topic filled to its `historySize` with chat-sized bodies stringified as `herald.publish` does (`{room, text, from, at}`), JS heap per entry after full collections. ' +
      'Then a broker with a small `historyBytes` is sent four times that much: the heap its history holds, the evictions it counts, and what a resume from the first message (evicted) is answered.',
  );
  out.push('');
  out.push(
    table(
      ['topics × history', 'body chars', 'heap per entry', 'counted per entry', 'historyBytes', 'heap held', 'counted', 'evicted', 'resume behind evicted'],
      results.history.map((r) =>
        r.error !== undefined
          ? [`failed: ${r.error.slice(0, 160)}`, '', '', '', '', '', '', '', '']
          : [
              `${int(r.topics)} × ${int(r.messages)}`,
              int(r.bodyChars),
              `${int(r.bytesPerEntry)} B`,
              `${int(r.accountedPerEntry)} B`,
              mib(r.budget),
              mib(r.heldBytes),
              mib(r.accountedBytes),
              int(r.evicted),
              r.evictedResumeRecovered ? '**recovered (wrong)**' : 'recovered: false',
            ],
      ),
    ),
  );
  out.push('');

  if (results.metricsCost.length > 0) {
    const m = (plan as { metrics?: { connections: number; inFlight: number; runs: number } }).metrics;
    out.push('## 9. Metrics cost');
    out.push('');
    out.push(
      `Herald on uWS, request/response as in scenario 1 at ${int(m?.connections ?? NaN)} connections (${m?.inFlight ?? '?'} in flight each), with metrics off and with a prom-client meter (\`@herald/metrics\`) whose \`/metrics\` is fetched every 5 s (Prometheus scrapes every 15 s by default). ` +
        `${m?.runs ?? '?'} runs, a fresh process each, alternating which mode goes first; the target compares run i of one with run i of the other.`,
    );
    out.push('');
    const off = results.metricsCost.find((r) => r.key === 'herald-uws' && r.error === undefined);
    out.push(
      table(
        ['metrics', 'msg/s', 'runs', '× off', 'server CPU', 'generator CPU', 'note'],
        results.metricsCost.map((r) => [r.key === 'herald-uws' ? 'off' : 'on (Prometheus)', int(r.perSecond), r.windows.map((w) => int(w.perSecond)).join(', '), ratio(r.perSecond / (off?.perSecond ?? NaN)), pct(r.serverCpu), pct(r.generatorCpu), noteOf(r)]),
      ),
    );
    out.push('');
  }
  const rounds = (values: readonly number[], format: (n: number) => string) => values.map(format).join(', ');
  out.push('## 11. Idempotent publish');
  out.push('');
  out.push(
    'In a process of its own, no network: `herald.publish` to one topic, 100 in flight, with and without `{ idempotencyKey }` (a fresh key each), on `MemoryBroker` (no subscribers, then 10 sessions on in-process sockets that count their notifications) and on `RedisBroker` (a local redis-server, no subscribers); rounds alternate which goes first. Publishes per second per round. The target is judged on Redis, where keys hold across nodes; `MemoryBroker` keeps an exact window of up to 100,000 keys in a Map, about 1 µs a lookup and insert, which is as much as its publish.',
  );
  out.push('');
  out.push(
    table(
      ['broker', 'without a key', 'with a key', 'ratio (medians)'],
      results.idempotent.flatMap((r) =>
        r.error !== undefined
          ? [[`failed: ${r.error.slice(0, 160)}`, '', '', '']]
          : (
              [
                ['MemoryBroker, no subscribers', r.memory],
                ['MemoryBroker, 10 subscribers', r.memorySubscribed],
                ['RedisBroker, no subscribers', r.redis],
              ] as const
            ).flatMap(([name, figures]) =>
              figures === undefined ? [] : [[name, rounds(figures.plain, int), rounds(figures.keyed, int), ratio(median(figures.keyed) / median(figures.plain))]],
            ),
      ),
    ),
  );
  out.push('');
  out.push('## 12. Presence');
  out.push('');
  out.push(
    'In a process of its own, no network: sessions on sockets that only count what they are sent. A new member joins a members-mode topic of N members (its `herald.PresenceDiff` reaches all of them) against one `herald.publish` to the same N, interleaved; N sessions subscribe to a count-only topic against N to a topic without presence; one `herald.PresenceCount` push to N. Milliseconds per round.',
  );
  out.push('');
  out.push(
    table(
      ['N', 'join fan-out', 'publish fan-out', 'count-only subscribe of N', 'plain subscribe of N', 'count push to N'],
      results.presence.map((r) =>
        r.error !== undefined
          ? [`failed: ${r.error.slice(0, 160)}`, '', '', '', '', '']
          : [int(r.members), `median ${ms(median(r.joinMs))}`, `median ${ms(median(r.publishMs))}`, rounds(r.countSubscribeMs, ms), rounds(r.plainSubscribeMs, ms), rounds(r.countPushMs, ms)],
      ),
    ),
  );
  out.push('');

  out.push('## 13. Conflation');
  out.push('');
  const c = results.conflation;
  const buffers =
    c === undefined
      ? ''
      : c.buffers.isolated
        ? `in a network namespace of its own whose TCP buffers are small (tcp_rmem ${c.buffers.tcpRmem}, tcp_wmem ${c.buffers.tcpWmem}), so that what a slow one is owed piles up in the server (high-water mark ${int(c.highWaterMark / 1024)} KiB)`
        : `on the host's TCP buffers (tcp_rmem ${c.buffers.tcpRmem}, tcp_wmem ${c.buffers.tcpWmem}: ${c.buffers.reason ?? 'no namespace'}), where the kernel may hold what a slow one is owed`;
  out.push(
    c === undefined
      ? 'Not run.'
      : `Herald on uWS publishes one topic at ${int(c.rate)} messages of ~0.5 KB a second for ${int(c.seconds)} s to ${int(c.subscribers)} subscribers, ${buffers}; ${int(c.slow)} of them read ${int(c.slowBytesPerSecond / 1000)} KB/s through a token bucket, the rest as fast as they can. Three runs: conflated without the slow ones (the same fast ones only), conflated with them, not conflated with them (they catch up from history). Latency is from publish to receipt, over the fast ones, after the first fifth of the run; "held" is what the server's send buffers hold for the slow ones (uWS's, not the kernel's), sampled every second.`,
  );
  out.push('');
  if (c !== undefined) {
    const closes = (r: (typeof c.runs)[number]) => Object.entries(r.closeCodes).map(([code, n]) => `${int(n)} × ${code}`).join(', ') || 'none';
    out.push(
      table(
        ['run', 'fast p50 / p99', 'fewest a fast one got', 'server RSS at ⅓ → end (max)', 'held for slow ones at ⅓ → end (above the mark, most)', 'server CPU', 'slow ones read: frames, conflated, resets', 'age of what they read p50 / p99', 'closed'],
        c.runs.map((r) => [
          r.name,
          `${ms(r.p50Ms)} / ${ms(r.p99Ms)} ms`,
          `${int(r.fastMinReceived)} of ${int(r.published)}`,
          `${r.rssMiB.third} → ${r.rssMiB.end} MiB (${r.rssMiB.max})`,
          r.slow === 0 ? '—' : `${int(r.slowBufferedKiB.third)} → ${int(r.slowBufferedKiB.end)} KiB (${int(r.slowFullMax)} of ${int(r.slow)})`,
          `${r.serverCpuSeconds.toFixed(1)} s`,
          r.slow === 0 ? '—' : `${int(r.slowReceived)}, ${int(r.slowConflated)}, ${int(r.slowResets)}`,
          r.slow === 0 ? '—' : `${(r.slowAgeMs.p50 / 1000).toFixed(1)} / ${(r.slowAgeMs.p99 / 1000).toFixed(1)} s`,
          closes(r),
        ]),
      ),
    );
    out.push('');
  }

  const mp = results.msgpack;
  if (mp !== undefined) {
    out.push('## 14. herald.v1.msgpack');
    out.push('');
    out.push(
      'Herald on uWS with `codecs: [msgpack()]`, its clients offering `herald.v1.msgpack` (the same envelopes as MessagePack in binary frames, requests confirming `resp` as in scenario 1), beside Herald on uWS in `herald.v1` and the bare-JSON codec ceiling of scenario 1, interleaved runs; then one publish to 10,000 MessagePack subscribers beside 10,000 JSON ones. Payload bytes exclude WebSocket headers.',
    );
    out.push('');
    out.push(
      table(
        ['server', 'msg/s (median)', 'runs', 'server CPU', 'generator CPU', 'notes'],
        mp.requestResponse.map((r) => [r.label, r.error === undefined ? int(r.perSecond) : `failed: ${r.error.slice(0, 120)}`, r.windows.map((w) => int(w.perSecond)).join(', '), pct(r.serverCpu), pct(r.generatorCpu), noteOf(r)]),
      ),
    );
    out.push('');
    out.push(
      table(
        ['encoding', 'request', 'response', 'request + response', 'topic notification'],
        (['json', 'msgpack'] as const).map((e) => [e === 'json' ? 'herald.v1 (JSON)' : 'herald.v1.msgpack', `${mp.bytes[e].request} B`, `${mp.bytes[e].response} B`, `${mp.bytes[e].request + mp.bytes[e].response} B`, `${mp.bytes[e].notification} B`]),
      ),
    );
    out.push('');
    out.push(
      table(
        ['subscribers', 'p50', 'p99', 'publishes', 'server CPU per publish'],
        mp.fanout.map((r) => [r.label, r.error === undefined ? `${ms(r.p50)} ms` : `failed: ${r.error.slice(0, 120)}`, `${ms(r.p99)} ms`, int(r.rounds), `${ms(r.cpuMsPerPublish)} ms`]),
      ),
    );
    out.push('');
  }

  const delta = results.delta;
  if (delta !== undefined) {
    out.push('## 15. Delta topics');
    out.push('');
    out.push(
      `Herald on uWS with a topic whose pattern has \`delta: true\` (\`src/servers/herald-delta.ts\`): one publication at a time of a ${int(delta.documentBytes)}-byte JSON document, a few fields changed per revision (\`benchDocument\` in \`src/shared.ts\`), to every subscriber (at each fan-out size of scenario 2), which subscribed with \`delta: "fossil"\` or without; interleaved passes, a fresh server each. Bytes are whole WebSocket frames (payload and header) of the publications after the first (which is always full). Making one delta of the document takes ${delta.createDeltaMicros.toFixed(0)} µs.`,
    );
    out.push('');
    out.push(
      table(
        ['subscribers', 'bytes per notification', 'p50', 'p99', 'server CPU per publication (after the first)', 'publications'],
        delta.rows.map((r) => [
          `${int(r.subscribers)} ${r.mode === 'delta' ? 'with deltas' : 'without'}`,
          r.error === undefined ? `${int(r.wireBytes)} B` : `failed: ${r.error.slice(0, 120)}`,
          `${ms(r.p50)} ms`,
          `${ms(r.p99)} ms`,
          `${ms(median(r.cpuMsPerPublish))} ms (${ms(median(r.cpuMsPerLaterPublish ?? []))} ms)`,
          int(r.rounds),
        ]),
      ),
    );
    out.push('');
  }

  if (results.sessions !== undefined) out.push(...sessionsSection(results.sessions));

  if (results.profiles.length > 0) {
    out.push('## CPU profiles');
    out.push('');
    for (const profile of results.profiles) {
      out.push(`\`${profile.server}\` (\`${profile.file}\`, busy ${profile.busyPercent.toFixed(0)}% of the samples), top self time as a share of the busy samples:`);
      out.push('');
      out.push(table(['function', 'self'], profile.top.map((t) => [t.name, `${t.selfPercent.toFixed(1)}%`])));
      out.push('');
    }
  }
  out.push('![chart](latest.svg)');
  out.push('');
  return out.join('\n');
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly text: string;
  readonly highlight: boolean;
}

/** A horizontal bar chart, one panel per scenario, hand-written SVG. */
export function renderSvg(results: Results): string {
  const panels: Array<{ title: string; bars: Bar[] }> = [];
  const levels = [...new Set(results.requestResponse.map((r) => r.connections))].sort((a, b) => a - b);
  for (const level of levels.slice(0, 2)) {
    panels.push({
      title: `1. Request/response, ${int(level)} connections (msg/s, higher is better)`,
      bars: results.requestResponse
        .filter((r) => r.connections === level)
        .map((r) => ({ label: r.label, value: r.error === undefined ? r.perSecond : 0, text: r.error === undefined ? int(r.perSecond) + (generatorBound(r) ? ' *' : '') : 'failed', highlight: r.key.startsWith('herald') || r.key.startsWith('hono') })),
    });
  }
  const maxSubs = Math.max(0, ...results.fanout.map((r) => r.subscribers));
  panels.push({
    title: `2. Fan-out to ${int(maxSubs)} (p50 ms to the last subscriber, lower is better)`,
    bars: results.fanout.filter((r) => r.subscribers === maxSubs).map((r) => ({ label: r.label, value: r.error === undefined ? r.p50 : 0, text: r.error === undefined ? `${ms(r.p50)} ms (p99 ${ms(r.p99)})` : 'failed', highlight: r.key === 'herald-uws' })),
  });
  panels.push({
    title: '3. Memory per idle authenticated session (KiB RSS, lower is better)',
    bars: results.memory.map((r) => ({ label: r.label, value: r.error === undefined ? r.perSession / 1024 : 0, text: r.error === undefined ? kib(r.perSession) : 'failed', highlight: r.key === 'herald-uws' })),
  });
  panels.push({
    title: '4. Long-poll (msg/s, higher is better)',
    bars: results.longPoll.map((r) => ({ label: r.label, value: r.error === undefined ? r.perSecond : 0, text: r.error === undefined ? int(r.perSecond) + (generatorBound(r) ? ' *' : '') : 'failed', highlight: r.key === 'herald-lp' })),
  });
  panels.push({
    title: '5. Delivery confirmation (notifications/s, higher is better)',
    bars: results.delivery.map((r) => ({ label: r.key === 'acked' ? 'acked (ctx.notify + acks)' : r.key === 'plain' ? 'fire-and-forget' : r.label, value: r.error === undefined ? r.perSecond : 0, text: r.error === undefined ? int(r.perSecond) + (generatorBound(r) ? ' *' : '') : 'failed', highlight: r.key === 'acked' })),
  });
  panels.push({
    title: '6. Growth: Herald on uWS (msg/s by connections)',
    bars: results.growth.map((r) => ({ label: `${int(r.connections)} connections`, value: r.error === undefined ? r.perSecond : 0, text: r.error === undefined ? int(r.perSecond) + (generatorBound(r) ? ' *' : '') : 'failed', highlight: true })),
  });

  const width = 900;
  const labelWidth = 260;
  const barArea = width - labelWidth - 170;
  const rowHeight = 20;
  let y = 66;
  const parts: string[] = [];
  for (const panel of panels) {
    parts.push(`<text x="10" y="${y}" class="title">${escapeXml(panel.title)}</text>`);
    y += 10;
    const max = Math.max(1e-9, ...panel.bars.map((b) => b.value));
    for (const bar of panel.bars) {
      const w = Math.max(1, (bar.value / max) * barArea);
      parts.push(`<text x="${labelWidth - 8}" y="${y + 14}" class="label" text-anchor="end">${escapeXml(bar.label)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowHeight - 6}" class="${bar.highlight ? 'herald' : 'other'}"/>`);
      parts.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 14}" class="value">${escapeXml(bar.text)}</text>`);
      y += rowHeight;
    }
    y += 26;
  }
  const height = y + 10;
  const m = results.machine;
  const caption = `${results.smoke ? 'SMOKE RUN — ' : ''}${results.startedAt.slice(0, 10)} · ${m.cpu}, ${m.cores} cores · server pinned to core 1, generator to core 0 · * generator-bound`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">`,
    '<style>.title{font-size:14px;font-weight:600;fill:#222}.label{font-size:12px;fill:#333}.value{font-size:12px;fill:#333}.herald{fill:#2f6fdb}.other{fill:#9aa4b1}.caption{font-size:11px;fill:#666}</style>',
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="22" class="title" style="font-size:17px">Herald benchmark</text>`,
    `<text x="10" y="38" class="caption">${escapeXml(caption)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
