/**
 * The seed's "upgraded JMeter": N clients send a mix of requests for a while, either keeping
 * a fixed number in flight (pipelining) or at a fixed rate, and the runner reports throughput,
 * errors and a latency histogram. It talks `ws` directly and builds each frame by string
 * concatenation, so the generator stays cheap next to the server it measures.
 */
import { PROTOCOL_NAME } from '@herald/core';

/** One kind of request in the mix. */
export interface LoadMessage {
  readonly type: string;
  readonly body?: unknown;
  /** Relative share of the mix (default 1). */
  readonly weight?: number;
}

export interface LoadOptions {
  readonly url: string;
  /** Concurrent connections (default 10). */
  readonly clients?: number;
  readonly durationMs?: number;
  /** Requests kept in flight per client (default 1); ignored when `ratePerClient` is set. */
  readonly pipeline?: number;
  /** Requests per second per client, open-loop, instead of pipelining. */
  readonly ratePerClient?: number;
  readonly mix: readonly LoadMessage[];
  /** In-session token for every client (or a function of the client index). */
  readonly token?: string | ((client: number) => string);
  readonly headers?: Record<string, string>;
  /** Called about once a second with a one-line summary; default prints to stderr. */
  readonly onProgress?: (line: string) => void;
}

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

export interface LoadResult {
  readonly clients: number;
  readonly durationMs: number;
  readonly sent: number;
  readonly ok: number;
  /** Responses with a code other than 200, by code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Connections that closed before the end, by close code. */
  readonly closes: Readonly<Record<string, number>>;
  readonly perSecond: number;
  /** Round-trip latency in milliseconds. */
  readonly latencyMs: LatencySummary;
}

/** Counters and round-trip samples of one run. */
class Stats {
  latencies = new Float64Array(1 << 16);
  samples = 0;
  sent = 0;
  ok = 0;
  readonly errors: Record<string, number> = {};
  readonly closes: Record<string, number> = {};

  record(ms: number, code: number | undefined): void {
    if (this.samples === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.samples++] = ms;
    if (code === 200) this.ok++;
    else this.errors[String(code)] = (this.errors[String(code)] ?? 0) + 1;
  }
}

interface Socket {
  readonly readyState: number;
  readonly OPEN: number;
  send(data: string): void;
  terminate(): void;
  on(event: string, listener: (...args: any[]) => void): void;
}

/** One connection of the run: sends, matches responses to send times, keeps the pipeline full. */
class LoadClient {
  private readonly inFlight = new Map<string, number>();
  private next = 0;

  constructor(
    readonly socket: Socket,
    private readonly index: number,
    private readonly state: { running: boolean; nextTail(): string },
    private readonly stats: Stats,
    private readonly closedLoop: boolean,
  ) {}

  readonly send = (): void => {
    if (!this.state.running || this.socket.readyState !== this.socket.OPEN) return;
    const id = `${this.index}.${++this.next}`;
    this.socket.send('{"kind":"req","id":"' + id + this.state.nextTail());
    this.inFlight.set(id, performance.now());
    this.stats.sent++;
  };

  /** Resolves once open (and authenticated, with a token). */
  ready(token: string | undefined): Promise<this> {
    return new Promise((resolve, reject) => {
      let authenticated = token === undefined;
      this.socket.on('open', () => {
        if (authenticated) resolve(this);
        else this.socket.send(JSON.stringify({ kind: 'req', id: 'auth', type: 'herald.Authenticate', body: { token } }));
      });
      this.socket.on('message', (data: unknown) => {
        const message = JSON.parse(String(data)) as { kind: string; reqId?: string; code?: number };
        if (message.kind === 'ping') return this.socket.send('{"kind":"pong"}');
        if (message.kind !== 'resp' || message.reqId === undefined) return;
        if (!authenticated && message.reqId === 'auth') {
          if (message.code !== 200) return reject(new Error(`load client ${this.index}: authentication refused (${message.code})`));
          authenticated = true;
          return resolve(this);
        }
        const at = this.inFlight.get(message.reqId);
        if (at === undefined) return;
        this.inFlight.delete(message.reqId);
        this.stats.record(performance.now() - at, message.code);
        if (this.closedLoop) this.send();
      });
      this.socket.on('close', (code: number) => {
        if (this.state.running) this.stats.closes[String(code)] = (this.stats.closes[String(code)] ?? 0) + 1;
      });
      this.socket.on('error', reject);
    });
  }
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** Formats a result as a short report with a latency histogram. */
export function formatLoadResult(result: LoadResult): string {
  const { latencyMs: l } = result;
  const errors = Object.entries(result.errors).map(([code, n]) => `${code}×${n}`).join(' ') || 'none';
  const closes = Object.entries(result.closes).map(([code, n]) => `${code}×${n}`).join(' ') || 'none';
  return [
    `${result.clients} clients, ${(result.durationMs / 1000).toFixed(1)} s: ${result.sent} sent, ${result.ok} ok, ${Math.round(result.perSecond)} req/s`,
    `latency ms  p50 ${l.p50.toFixed(2)}  p90 ${l.p90.toFixed(2)}  p99 ${l.p99.toFixed(2)}  max ${l.max.toFixed(2)}`,
    `errors: ${errors}; early closes: ${closes}`,
  ].join('\n');
}

/**
 * Runs a load scenario against a Herald server and resolves to its figures.
 *
 * @example
 * const result = await runLoad({
 *   url: 'ws://127.0.0.1:9090/ws',
 *   clients: 100,
 *   pipeline: 10,
 *   durationMs: 10_000,
 *   token: (i) => `demo-user${i}`,
 *   mix: [{ type: 'chat.Send', body: { room: 'lobby', text: 'hello' }, weight: 9 }, { type: 'chat.Join', body: { room: 'lobby' } }],
 * });
 * console.log(formatLoadResult(result));
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const { default: WebSocket } = await import('ws');
  const clients = options.clients ?? 10;
  const durationMs = options.durationMs ?? 10_000;
  const pipeline = Math.max(1, options.pipeline ?? 1);
  const progress = options.onProgress ?? ((line: string) => console.error(line));
  const weights = options.mix.map((m) => m.weight ?? 1);
  const total = weights.reduce((a, b) => a + b, 0);
  const tails = options.mix.map((m) => `","type":"${m.type}"${m.body === undefined ? '' : `,"body":${JSON.stringify(m.body)}`}}`);
  let pick = 0;
  const nextTail = (): string => {
    // deterministic weighted round-robin: no Math.random on the hot path
    pick = (pick + 1) % total;
    let acc = 0;
    for (let i = 0; i < weights.length; i++) if (pick < (acc += weights[i] as number)) return tails[i] as string;
    return tails[0] as string;
  };

  const stats = new Stats();
  const state = { running: true, nextTail };
  const loaders = await Promise.all(
    Array.from({ length: clients }, (_, index) => {
      const token = typeof options.token === 'function' ? options.token(index) : options.token;
      const socket = new WebSocket(options.url, PROTOCOL_NAME, { headers: options.headers ?? {} });
      return new LoadClient(socket, index, state, stats, options.ratePerClient === undefined).ready(token);
    }),
  );

  const started = performance.now();
  for (const loader of loaders) for (let i = 0; i < (options.ratePerClient === undefined ? pipeline : 0); i++) loader.send();
  const timers = options.ratePerClient === undefined ? [] : loaders.map((loader) => setInterval(loader.send, 1000 / (options.ratePerClient as number)));
  let lastSent = 0;
  const ticker = setInterval(() => {
    const elapsed = (performance.now() - started) / 1000;
    progress(`[${elapsed.toFixed(0)} s] sent ${stats.sent} (+${stats.sent - lastSent}/s), ok ${stats.ok}, errors ${Object.values(stats.errors).reduce((a, b) => a + b, 0)}`);
    lastSent = stats.sent;
  }, 1000);
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  state.running = false;
  clearInterval(ticker);
  for (const timer of timers) clearInterval(timer);
  const elapsedMs = performance.now() - started;
  for (const loader of loaders) loader.socket.terminate();
  const { latencies, samples, sent, ok, errors, closes } = stats;

  const sorted = latencies.slice(0, samples).sort();
  return {
    clients,
    durationMs: elapsedMs,
    sent,
    ok,
    errors,
    closes,
    perSecond: (samples * 1000) / elapsedMs,
    latencyMs: { p50: percentile(sorted, 50), p90: percentile(sorted, 90), p99: percentile(sorted, 99), max: samples === 0 ? 0 : (sorted[samples - 1] as number) },
  };
}
