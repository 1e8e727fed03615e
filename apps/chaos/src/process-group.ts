/**
 * Every process the run starts, so that each is stopped at the end, on an error and on
 * Ctrl+C — and, through a synchronous kill on `exit`, even when the run dies on its own.
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';

/** SIGKILLs a child and waits until it is gone. */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  /** Processes started by helpers that stop them (startRedis, startHaproxy): their stop kills at once, then waits. */
  private readonly stops = new Set<() => Promise<void>>();

  spawn(command: string, args: readonly string[], options: SpawnOptions): ChildProcess {
    const child = spawn(command, args, options);
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  adopt(stop: () => Promise<void>): void {
    this.stops.add(stop);
  }

  async stopAll(): Promise<void> {
    const stops = [...this.stops];
    this.stops.clear();
    await Promise.all([...stops.map((stop) => stop().catch(() => {})), ...[...this.children].map(killProcess)]);
  }

  /** For `process.on('exit')`, where nothing can be awaited. */
  killNow(): void {
    for (const child of this.children) child.kill('SIGKILL');
    for (const stop of this.stops) void stop().catch(() => {});
  }
}
