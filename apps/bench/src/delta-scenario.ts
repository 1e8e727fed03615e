/**
 * Scenario 15: a delta topic (issue 22). One publication of a ~2 KB JSON document (a few fields
 * changed per revision) to N subscribers on Herald on uWS (each fan-out size of scenario 2),
 * subscribed with `delta: "fossil"` or without, in interleaved passes on fresh server processes:
 * bytes on the wire per notification, server CPU per publication, and the time until the last
 * subscriber has it.
 */
import { fossilDelta } from '@herald/core/fossil-delta';
import { fanout } from './gen/load.ts';
import { ServerProcess, type ServerSpec } from './proc.ts';
import { median, percentile, type Target } from './report.ts';
import { benchDocument } from './shared.ts';

export interface DeltaRow {
  readonly mode: 'full' | 'delta';
  readonly subscribers: number;
  /** Mean bytes on the wire (payload and WebSocket header) of one notification, publications after the first. */
  readonly wireBytes: number;
  readonly p50: number;
  readonly p99: number;
  /** Server CPU milliseconds per publication, per pass (whole rounds, the publisher's request included). */
  readonly cpuMsPerPublish: readonly number[];
  /** The same without the first publication (full in both modes; with deltas, subscribers also move to the delta fan-out then). */
  readonly cpuMsPerLaterPublish: readonly number[];
  /** Median delivery time per pass, for paired ratios. */
  readonly p50PerPass: readonly number[];
  readonly rounds: number;
  readonly missed: number;
  readonly error?: string;
}

export interface DeltaFigures {
  readonly documentBytes: number;
  /** Microseconds to make one delta of the document, in this process (the part of a publication's CPU deltas add). */
  readonly createDeltaMicros: number;
  readonly rows: readonly DeltaRow[];
}

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** The median time fossil takes to make the delta between two revisions of the document. */
function createDeltaMicros(): number {
  const fossil = fossilDelta();
  const utf8 = new TextEncoder();
  const revisions = Array.from({ length: 64 }, (_, rev) => utf8.encode(JSON.stringify(benchDocument(rev + 1))));
  const samples: number[] = [];
  for (let batch = 0; batch < 20; batch++) {
    const start = performance.now();
    for (let i = 1; i < revisions.length; i++) fossil.create(revisions[i - 1] as Uint8Array, revisions[i] as Uint8Array);
    samples.push(((performance.now() - start) * 1000) / (revisions.length - 1));
  }
  return median(samples);
}

export async function scenarioDelta(
  plan: { readonly sizes: readonly number[]; readonly rounds: number; readonly passes: number; readonly gapMs: number; readonly timeoutMs: number; readonly warmupRounds: number },
  spec: () => ServerSpec,
  log: (line: string) => void,
): Promise<{ figures: DeltaFigures; targets: Target[] }> {
  const rows: DeltaRow[] = [];
  for (const subscribers of plan.sizes) rows.push(...(await atSize(plan, subscribers, spec, log)));
  const figures: DeltaFigures = { documentBytes: JSON.stringify(benchDocument(1)).length, createDeltaMicros: createDeltaMicros(), rows };
  return { figures, targets: deltaTargets(figures) };
}

async function atSize(
  plan: { readonly rounds: number; readonly passes: number; readonly gapMs: number; readonly timeoutMs: number; readonly warmupRounds: number },
  subscribers: number,
  spec: () => ServerSpec,
  log: (line: string) => void,
): Promise<DeltaRow[]> {
  const samples = new Map<DeltaRow['mode'], { delivery: number[]; cpu: number[]; later: number[]; p50s: number[]; wire: number[]; missed: number; error?: string }>();
  const modes: Array<DeltaRow['mode']> = ['full', 'delta'];
  for (let pass = 1; pass <= plan.passes; pass++) {
    for (const mode of pass % 2 === 1 ? modes : [...modes].reverse()) {
      const entry = samples.get(mode) ?? { delivery: [], cpu: [], later: [], p50s: [], wire: [], missed: 0 };
      samples.set(mode, entry);
      const server = await ServerProcess.start(spec(), 1);
      try {
        const result = await fanout('herald', server.port, server, {
          subscribers,
          rounds: plan.rounds,
          gapMs: plan.gapMs,
          timeoutMs: plan.timeoutMs,
          subscription: mode === 'delta' ? { topic: 'doc/bench', delta: 'fossil' } : { topic: 'doc/bench' },
          publish: { type: 'bench.PublishDoc', body: (round) => ({ rev: round + 1 }) },
          warmupRounds: plan.warmupRounds,
        });
        entry.delivery.push(...result.deliveryMs);
        entry.p50s.push(percentile(result.deliveryMs, 50));
        entry.cpu.push(result.serverCpuMsPerPublish);
        entry.later.push(result.serverCpuMsPerLaterPublish);
        entry.wire.push(result.wireBytesPerNotification);
        entry.missed += result.missed;
        log(
          `delta pass ${pass}: ${mode}, ${subscribers} subscribers: ${result.wireBytesPerNotification.toFixed(0)} B per notification, ` +
            `p50 ${percentile(result.deliveryMs, 50).toFixed(2)} ms, p99 ${percentile(result.deliveryMs, 99).toFixed(2)} ms, server ${result.serverCpuMsPerPublish.toFixed(2)} ms CPU per publication (${result.serverCpuMsPerLaterPublish.toFixed(2)} after the first)`,
        );
      } catch (error) {
        entry.error ??= errorText(error);
        log(`delta pass ${pass}: ${mode} failed: ${errorText(error)}`);
      } finally {
        await server.stop();
      }
    }
  }
  return modes.map((mode) => {
    const entry = samples.get(mode);
    const base = { mode, subscribers };
    if (entry === undefined || entry.error !== undefined || entry.delivery.length === 0) {
      return { ...base, wireBytes: NaN, p50: NaN, p99: NaN, cpuMsPerPublish: [], cpuMsPerLaterPublish: [], p50PerPass: [], rounds: 0, missed: entry?.missed ?? 0, error: entry?.error ?? 'no round finished' };
    }
    return {
      ...base,
      wireBytes: median(entry.wire),
      p50: percentile(entry.delivery, 50),
      p99: percentile(entry.delivery, 99),
      cpuMsPerPublish: entry.cpu,
      cpuMsPerLaterPublish: entry.later,
      p50PerPass: entry.p50s,
      rounds: entry.delivery.length,
      missed: entry.missed,
    };
  });
}

/** Per-pass ratios of `delta` to `full`, their median, and a text with their spread. */
function pairedRatio(delta: readonly number[], full: readonly number[]): { ratio: number; text: string } {
  if (delta.length === 0 || delta.length !== full.length) return { ratio: NaN, text: 'not measured' };
  const ratios = delta.map((d, i) => d / (full[i] as number));
  const ratio = median(ratios);
  return { ratio, text: `${ratio.toFixed(2)}×${ratios.length > 1 ? ` (per pass ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})` : ''}` };
}

/** The targets at the largest fan-out (10,000 in a full run), and server CPU at each smaller one too. */
/** Server CPU per publication after the first, with deltas against without; the first one's share said beside it. */
function cpuTarget(delta: DeltaRow, full: DeltaRow, figures: DeltaFigures, judge: (r: number, holds: (r: number) => boolean) => boolean | null): Target {
  const later = pairedRatio(delta.cpuMsPerLaterPublish, full.cpuMsPerLaterPublish);
  const all = pairedRatio(delta.cpuMsPerPublish, full.cpuMsPerPublish);
  return {
    scenario: 15,
    target: `delta topic: server CPU per publication to ${delta.subscribers.toLocaleString('en-US')} subscribers ≤ 1.3× without deltas`,
    measured:
      `${later.text}: ${median(delta.cpuMsPerLaterPublish).toFixed(2)} vs ${median(full.cpuMsPerLaterPublish).toFixed(2)} ms per publication after the first ` +
      `(making the delta: ${figures.createDeltaMicros.toFixed(0)} µs of it); the first one included: ${all.ratio.toFixed(2)}× (${median(delta.cpuMsPerPublish).toFixed(2)} vs ${median(full.cpuMsPerPublish).toFixed(2)} ms)`,
    holds: judge(later.ratio, (r) => r <= 1.3),
    caveat: 'CPU of the whole server process (the publisher request, encoding, the writes to every socket), read from /proc in 10 ms ticks',
  };
}

export function deltaTargets(figures: DeltaFigures): Target[] {
  const sizes = [...new Set(figures.rows.map((r) => r.subscribers))].sort((a, b) => a - b);
  const largest = sizes[sizes.length - 1];
  const at = (subscribers: number | undefined) => ({
    full: figures.rows.find((r) => r.mode === 'full' && r.subscribers === subscribers),
    delta: figures.rows.find((r) => r.mode === 'delta' && r.subscribers === subscribers),
  });
  const { full, delta } = at(largest);
  const judge = (r: number, holds: (r: number) => boolean) => (Number.isFinite(r) ? holds(r) : null);
  const failed = full?.error ?? delta?.error;
  if (full === undefined || delta === undefined || failed !== undefined) {
    return [{ scenario: 15, target: 'delta topics: ≥ 5× fewer bytes per publication', measured: `failed: ${failed ?? 'not run'}`, holds: null }];
  }
  const smaller: Target[] = [];
  for (const size of sizes.slice(0, -1)) {
    const pair = at(size);
    if (pair.full === undefined || pair.delta === undefined || pair.full.error !== undefined || pair.delta.error !== undefined) continue;
    smaller.push(cpuTarget(pair.delta, pair.full, figures, judge));
  }
  const subscribers = delta.subscribers.toLocaleString('en-US');
  const fewer = full.wireBytes / delta.wireBytes;
  const time = pairedRatio(delta.p50PerPass, full.p50PerPass);
  const missed = delta.missed + full.missed;
  return [
    ...smaller,
    {
      scenario: 15,
      target: `delta topic, a ${(figures.documentBytes / 1024).toFixed(1)} KB JSON document with a few fields changed per publication: ≥ 5× fewer bytes on the wire per publication than without deltas`,
      measured: `${delta.wireBytes.toFixed(0)} B vs ${full.wireBytes.toFixed(0)} B per notification (WebSocket frame, header included): ${fewer.toFixed(1)}× fewer`,
      holds: judge(fewer, (r) => r >= 5),
    },
    cpuTarget(delta, full, figures, judge),
    {
      scenario: 15,
      target: `delta topic: fan-out to ${subscribers} subscribers ≤ 1.2× the time without deltas (p50)`,
      measured: `${time.text}: p50 ${delta.p50.toFixed(2)} vs ${full.p50.toFixed(2)} ms, p99 ${delta.p99.toFixed(2)} vs ${full.p99.toFixed(2)} ms${missed > 0 ? `; ${missed} rounds missed their deadline` : ''}`,
      holds: judge(time.ratio, (r) => r <= 1.2) === null ? null : (time.ratio <= 1.2 && missed === 0),
    },
  ];
}
