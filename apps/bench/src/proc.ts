/**
 * Server processes and what the runner reads of them: each server is spawned pinned to one
 * core (`taskset -c 1`), announces `READY <port>`, and is measured from /proc: CPU time
 * (utime + stime of every thread, /proc/<pid>/stat) and resident memory (VmRSS, native included).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APP_DIR = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

/** Clock ticks per second of /proc/<pid>/stat times. */
export const CLOCK_TICKS = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(out.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
})();

export const HAS_TASKSET = spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;

/** Pins every thread of this process (the generator) to `core`; false when taskset is missing. */
export function pinSelf(core: number): boolean {
  if (!HAS_TASKSET) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', String(core), String(process.pid)], { stdio: 'ignore' }).status === 0;
}

/** CPU seconds (user + system, all threads) a process has used. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds this process has used (the generator). */
export function selfCpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** Machine-wide CPU ticks from /proc/stat: busy (everything but idle and iowait) and steal, summed over cores. */
export function machineTicks(): { busy: number; steal: number } {
  const line = readFileSync('/proc/stat', 'latin1').split('\n', 1)[0] ?? '';
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number) as number[];
  void idle;
  void iowait;
  return { busy: ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / CLOCK_TICKS, steal: (steal ?? 0) / CLOCK_TICKS };
}

/** Resident set size in bytes (native memory included). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1');
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

/** The real binaries of the `bun` and `deno` npm packages (not their shell shims). */
export function runtimeBinary(name: 'bun' | 'deno'): string {
  const root = dirname(require.resolve(`${name}/package.json`));
  return name === 'bun' ? join(root, 'bin', 'bun.exe') : join(root, 'deno');
}

export function runtimeVersion(command: string, args: string[] = ['--version']): string {
  const out = spawnSync(command, args, { encoding: 'utf8' });
  return (out.stdout ?? '').split('\n')[0]?.trim() ?? '';
}

export interface ServerSpec {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Node servers read `gc` on stdin and exit when stdin closes (so a CPU profile is written). */
  readonly node: boolean;
}

export class ServerProcess {
  readonly pid: number;
  port = 0;
  private stdout = '';
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private lineWaiters: Array<{ pattern: RegExp; resolve: (match: RegExpExecArray) => void }> = [];

  private constructor(
    readonly spec: ServerSpec,
    private readonly child: ChildProcess,
  ) {
    this.pid = child.pid as number;
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (text: string) => {
      this.stdout += text;
      this.checkLines();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => {
      this.stderr = (this.stderr + text).slice(-8000);
      if (process.env['BENCH_DEBUG_HEAP']) process.stderr.write(`[${spec.name}] ${text}`);
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Spawns the server on `core` and resolves once it listens. */
  static async start(spec: ServerSpec, core: number, env: Record<string, string> = {}): Promise<ServerProcess> {
    const [command, args] = HAS_TASKSET ? ['taskset', ['-c', String(core), spec.command, ...spec.args]] : [spec.command, [...spec.args]];
    const child = spawn(command as string, args as string[], { cwd: APP_DIR, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const server = new ServerProcess(spec, child);
    const started = server.waitLine(/READY (\d+)/, 60_000);
    const exit = server.exited.then((code) => {
      throw new Error(`${spec.name} exited with ${code} before listening: ${server.stderr.slice(-2000)}`);
    });
    const match = await Promise.race([started, exit]);
    server.port = Number(match[1]);
    return server;
  }

  private checkLines(): void {
    this.lineWaiters = this.lineWaiters.filter((waiter) => {
      const match = waiter.pattern.exec(this.stdout);
      if (match === null) return true;
      this.stdout = this.stdout.slice(match.index + match[0].length);
      waiter.resolve(match);
      return false;
    });
  }

  waitLine(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.spec.name}: no ${pattern} within ${timeoutMs} ms; stderr: ${this.stderr.slice(-2000)}`)), timeoutMs);
      this.lineWaiters.push({
        pattern,
        resolve: (match) => {
          clearTimeout(timer);
          resolve(match);
        },
      });
      this.checkLines();
    });
  }

  cpu(): number {
    return cpuSeconds(this.pid);
  }

  rss(): number {
    return rssBytes(this.pid);
  }

  /**
   * A full garbage collection in the server (Node servers run with --expose-gc); its JS heap in
   * use after it. `fillNursery`: first run short-lived garbage through the whole young
   * generation, so that its pages are resident before and after what is measured alike.
   */
  async gc(fillNursery = false): Promise<{ heapUsed: number; external: number } | undefined> {
    if (!this.spec.node) return undefined;
    this.child.stdin?.write(fillNursery ? 'gc fill\n' : 'gc\n');
    const match = await this.waitLine(/GC_DONE (\w+) (\d+) (\d+)/, 10_000);
    return { heapUsed: Number(match[2]), external: Number(match[3]) };
  }

  /** Writes a command line to a Node server's stdin (see `servers/control.ts`). */
  command(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  get errors(): string {
    return this.stderr;
  }

  /** Stops the server: Node servers exit on stdin close (writing any CPU profile), others get SIGTERM; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.spec.node) this.child.stdin?.end();
    else this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}
