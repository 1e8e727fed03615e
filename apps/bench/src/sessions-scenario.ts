/**
 * Scenario 16: 100,000 idle authenticated sessions on one machine (issue 22), Herald on uWS with
 * its default keep-alive beside raw uWS.js. One process may open at most `RLIMIT_NOFILE`
 * descriptors here (20,000, and no way to raise it), so the sessions are spread over as many
 * server processes as that takes, each held by a generator process of its own
 * (`src/gen/hold.ts`). Servers share core 1, generators core 0. Each server has its own port,
 * so 127.0.0.1's ephemeral ports suffice: the kernel reuses a source port towards another
 * destination. Binding a source address per generator instead (`--source`) made the kernel
 * search its bound ports at every connect: 16,667 sessions took 29 s to open instead of 4.6 s,
 * and with six generators at once handshakes waited past uWS's 10 s HTTP timeout.
 *
 * Per run: every server's RSS after a full GC with a few warm sessions and again with all of
 * them (the difference over the sessions opened between is RSS per session), the time from the
 * first connect to the last session ready, every server's CPU over an idle window longer than
 * a keep-alive interval (Herald: its sweep and the pings it sends), and what stayed open.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { APP_DIR, HAS_TASKSET, ServerProcess, type ServerSpec } from './proc.ts';
import { median, type Target } from './report.ts';

export interface SessionsPlan {
  readonly sessions: number;
  /** At least this many server processes (the smoke run takes two, to run the spreading). */
  readonly minProcesses: number;
  /** Sessions each process opens before the baseline is read. */
  readonly warm: number;
  /** At least a keep-alive interval (25 s), so that every Herald session is pinged and answers. */
  readonly idleMs: number;
  readonly settleMs: number;
  readonly runs: number;
}

export interface SessionsRun {
  readonly key: string;
  readonly label: string;
  /** Sessions open at once, over all processes. */
  readonly sessions: number;
  readonly processes: number;
  /** From the first connect to the last session ready, over all generators. */
  readonly acceptMs: number;
  readonly rssPerSession: number;
  readonly heapPerSession: number;
  /** All servers' CPU over the idle window, in cores. */
  readonly idleCpu: number;
  readonly idleSeconds: number;
  readonly open: number;
  readonly closed: number;
  /** Herald keep-alive pings the generators answered, from the first connect to the end of the idle window. */
  readonly pings: number;
  readonly error?: string;
}

export interface SessionsFigures {
  readonly descriptorLimit: number;
  readonly perProcess: number;
  readonly runs: readonly SessionsRun[];
}

/** Herald's default `pingIntervalMs`: an idle window longer than this has pinged every session. */
const KEEP_ALIVE_INTERVAL_MS = 25_000;
/** Descriptors a process keeps for itself (listeners, pipes, the runtime's own). */
const DESCRIPTOR_RESERVE = 1000;
const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—');

/** The soft `RLIMIT_NOFILE` of this process, which its children inherit. */
export function descriptorLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const soft = Number(line?.split(/\s{2,}/)[1]);
  return Number.isFinite(soft) ? soft : 1024;
}

/** One `src/gen/hold.ts` process, read line by line. */
class Holder {
  private readonly lines: string[] = [];
  private waiter: ((line: string) => void) | undefined;
  private stderr = '';

  constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('FAILED ')) this.stderr += line;
      const waiter = this.waiter;
      if (waiter === undefined) this.lines.push(line);
      else {
        this.waiter = undefined;
        waiter(line);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-2000)));
  }

  static spawn(args: readonly string[]): Holder {
    const command = [process.execPath, '--conditions=@herald/source', '--import', 'tsx', 'src/gen/hold.ts', ...args];
    const [file, rest] = HAS_TASKSET ? ['taskset', ['-c', '0', ...command]] : [command[0] as string, command.slice(1)];
    return new Holder(spawn(file as string, rest as string[], { cwd: APP_DIR, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  /** The next line, which must start with `prefix`. */
  async next(prefix: string, timeoutMs: number): Promise<string[]> {
    const line = await new Promise<string>((resolve, reject) => {
      const queued = this.lines.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error(`no ${prefix} within ${timeoutMs} ms: ${this.stderr}`)), timeoutMs);
      this.child.once('exit', (code) => reject(new Error(`generator exited with ${code}: ${this.stderr}`)));
      this.waiter = (l) => {
        clearTimeout(timer);
        resolve(l);
      };
    });
    if (!line.startsWith(`${prefix}`)) throw new Error(`expected ${prefix}, got: ${line} ${this.stderr}`);
    return line.split(' ').slice(1);
  }

  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  stop(): void {
    this.child.stdin?.end();
    setTimeout(() => this.child.kill('SIGKILL'), 5000).unref();
  }
}

interface Candidate {
  readonly key: string;
  readonly label: string;
  readonly dialect: 'herald' | 'raw';
  spec(): ServerSpec;
}

async function oneRun(candidate: Candidate, plan: SessionsPlan, processes: number, perProcess: number): Promise<SessionsRun> {
  const servers: ServerProcess[] = [];
  const holders: Holder[] = [];
  try {
    servers.push(...(await Promise.all(Array.from({ length: processes }, () => ServerProcess.start(candidate.spec(), 1)))));
    const count = perProcess - plan.warm;
    for (const [i, server] of servers.entries()) {
      holders.push(
        Holder.spawn([`--dialect=${candidate.dialect}`, `--port=${server.port}`, `--warm=${plan.warm}`, `--count=${count}`, `--first=${i * perProcess}`]),
      );
    }
    await Promise.all(holders.map((h) => h.next('WARM', 120_000)));
    await sleep(plan.settleMs);
    const heapBefore = await Promise.all(servers.map((s) => s.gc(true)));
    const rssBefore = servers.map((s) => s.rss());

    for (const h of holders) h.send('open');
    const opened = await Promise.all(holders.map((h) => h.next('OPEN', 600_000)));
    const acceptMs = Math.max(...opened.map(([, end]) => Number(end))) - Math.min(...opened.map(([start]) => Number(start)));
    await sleep(plan.settleMs);
    const heapAfter = await Promise.all(servers.map((s) => s.gc(true)));
    await sleep(200);
    const rssAfter = servers.map((s) => s.rss());

    const cpu0 = servers.map((s) => s.cpu());
    const t0 = performance.now();
    await sleep(plan.idleMs);
    const idleSeconds = (performance.now() - t0) / 1000;
    const idleCpu = servers.reduce((sum, s, i) => sum + s.cpu() - (cpu0[i] as number), 0) / idleSeconds;

    const states = await Promise.all(
      holders.map(async (h) => {
        h.send('state');
        return (await h.next('STATE', 30_000)).map(Number) as [number, number, number];
      }),
    );
    const added = processes * count;
    const sum = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
    const heapUsed = (readings: ReadonlyArray<{ heapUsed: number } | undefined>) => sum(readings.map((r) => r?.heapUsed ?? NaN));
    return {
      key: candidate.key,
      label: candidate.label,
      sessions: processes * perProcess,
      processes,
      acceptMs,
      rssPerSession: (sum(rssAfter) - sum(rssBefore)) / added,
      heapPerSession: (heapUsed(heapAfter) - heapUsed(heapBefore)) / added,
      idleCpu,
      idleSeconds,
      open: sum(states.map(([open]) => open)),
      closed: sum(states.map(([, closed]) => closed)),
      pings: sum(states.map(([, , pings]) => pings)),
    };
  } finally {
    for (const h of holders) h.stop();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export async function scenarioSessions(
  plan: SessionsPlan,
  candidates: { readonly herald: () => ServerSpec; readonly raw: () => ServerSpec },
  log: (line: string) => void,
): Promise<{ figures: SessionsFigures; targets: Target[] }> {
  const limit = descriptorLimit();
  const processes = Math.max(plan.minProcesses, Math.ceil(plan.sessions / Math.max(plan.warm + 1, limit - DESCRIPTOR_RESERVE)));
  const perProcess = Math.ceil(plan.sessions / processes);
  const kinds: Candidate[] = [
    { key: 'herald-uws', label: 'Herald on uWS (default keep-alive)', dialect: 'herald', spec: candidates.herald },
    { key: 'uws-raw', label: 'raw uWS.js', dialect: 'raw', spec: candidates.raw },
  ];
  log(`sessions: ${int(processes * perProcess)} sessions as ${processes} server processes of ${int(perProcess)} (RLIMIT_NOFILE ${int(limit)} per process)`);
  const runs: SessionsRun[] = [];
  for (let run = 1; run <= plan.runs; run++) {
    for (const kind of kinds) {
      try {
        const row = await oneRun(kind, plan, processes, perProcess);
        runs.push(row);
        log(
          `sessions run ${run}: ${kind.label}: ${int(row.open)} open, ${int(row.closed)} closed, accepted in ${(row.acceptMs / 1000).toFixed(1)} s, ${(row.rssPerSession / 1024).toFixed(2)} KiB RSS per session (JS heap ${(row.heapPerSession / 1024).toFixed(2)} KiB), idle CPU ${(row.idleCpu * 100).toFixed(2)}% of a core, ${int(row.pings)} pings answered`,
        );
      } catch (error) {
        log(`sessions run ${run}: ${kind.label} failed: ${errorText(error)}`);
        const nan = { acceptMs: NaN, rssPerSession: NaN, heapPerSession: NaN, idleCpu: NaN, idleSeconds: NaN, open: 0, closed: 0, pings: 0 };
        runs.push({ key: kind.key, label: kind.label, sessions: processes * perProcess, processes, ...nan, error: errorText(error) });
      }
    }
  }
  return { figures: { descriptorLimit: limit, perProcess, runs }, targets: sessionsTargets(plan, processes * perProcess, runs) };
}

function sessionsTargets(plan: SessionsPlan, sessions: number, runs: readonly SessionsRun[]): Target[] {
  const ok = (key: string) => runs.filter((r) => r.key === key && r.error === undefined);
  const herald = ok('herald-uws');
  const raw = ok('uws-raw');
  const failed = runs.find((r) => r.error !== undefined);
  const failure = failed === undefined ? '' : `; ${failed.label} failed: ${failed.error}`;
  const list = (rows: readonly SessionsRun[], of: (r: SessionsRun) => string) => rows.map(of).join(', ');
  const kib = (r: SessionsRun) => (r.rssPerSession / 1024).toFixed(2);
  const heraldRss = median(herald.map((r) => r.rssPerSession));
  const rawRss = median(raw.map((r) => r.rssPerSession));
  const ratio = heraldRss / rawRss;
  const idleCpu = median(herald.map((r) => r.idleCpu));
  const pinged = plan.idleMs > KEEP_ALIVE_INTERVAL_MS;
  const allHeld = herald.length > 0 && herald.every((r) => r.open === sessions && r.closed === 0 && (!pinged || r.pings >= sessions));
  const n = int(sessions);
  return [
    {
      scenario: 16,
      target: `${n} idle authenticated sessions on one machine with keep-alive running (issue 22)`,
      measured: herald.length === 0 ? `no run finished${failure}` : `${list(herald, (r) => `${int(r.open)} open and ${int(r.closed)} closed after ${r.idleSeconds.toFixed(0)} s idle, ${int(r.pings)} keep-alive pings answered`)}; ${herald[0]?.processes} server processes${failure}`,
      holds: herald.length === 0 ? null : allHeld,
      ...(pinged ? {} : { caveat: `the idle window is shorter than a keep-alive interval (${KEEP_ALIVE_INTERVAL_MS / 1000} s): pings not required` }),
    },
    {
      scenario: 16,
      target: `RSS per idle session at ${n} sessions ≤ 2× raw uWS.js (issue 22)`,
      measured: `${ratio.toFixed(2)}× (Herald ${(heraldRss / 1024).toFixed(2)} KiB [${list(herald, kib)}], raw uWS.js ${(rawRss / 1024).toFixed(2)} KiB [${list(raw, kib)}]; Herald's JS heap ${(median(herald.map((r) => r.heapPerSession)) / 1024).toFixed(2)} KiB)`,
      holds: Number.isFinite(ratio) ? ratio <= 2 : null,
    },
    {
      scenario: 16,
      target: `sweep CPU at ${n} idle sessions ≤ 5% of one core (issue 22)`,
      measured: `${(idleCpu * 100).toFixed(2)}% of a core, all server processes, keep-alive pings included [${list(herald, (r) => `${(r.idleCpu * 100).toFixed(2)}%`)}] (raw uWS.js ${(median(raw.map((r) => r.idleCpu)) * 100).toFixed(2)}%)`,
      holds: Number.isFinite(idleCpu) ? idleCpu <= 0.05 : null,
    },
    {
      scenario: 16,
      target: `time to accept ${n} connections (reported)`,
      measured: `Herald ${list(herald, (r) => `${(r.acceptMs / 1000).toFixed(1)} s`)}, raw uWS.js ${list(raw, (r) => `${(r.acceptMs / 1000).toFixed(1)} s`)} (first connect to last session ready, ${herald[0]?.processes ?? '—'} generators of 200 handshakes in flight each)`,
      holds: null,
    },
  ];
}
