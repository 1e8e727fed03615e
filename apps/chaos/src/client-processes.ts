/**
 * The run's side of its client processes: starts them (each with a slice of the clients),
 * and calls them all at once.
 */
import { fileURLToPath } from 'node:url';
import type { ClientSlice, ClientsProgress, FinishParams } from './client-worker.ts';
import type { ProcessGroup } from './process-group.ts';
import type { ClientsResult } from './report.ts';
import { RpcClient } from './rpc.ts';

/** Clients per process at most, and processes at most (more would only take CPU from the nodes). */
const CLIENTS_PER_PROCESS = 250;
const MAX_PROCESSES = 4;
const workerEntry = fileURLToPath(new URL('client-worker.ts', import.meta.url));

export class ClientProcesses {
  private constructor(private readonly workers: readonly RpcClient[]) {}

  get count(): number {
    return this.workers.length;
  }

  /** Starts the processes and resolves once every client subscribed. */
  static async start(group: ProcessGroup, slice: Omit<ClientSlice, 'first' | 'count'>, clients: number): Promise<ClientProcesses> {
    const count = Math.min(MAX_PROCESSES, Math.ceil(clients / CLIENTS_PER_PROCESS));
    const workers = Array.from({ length: count }, (_, i) => {
      const child = group.spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', workerEntry], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      return new RpcClient(child, `client process ${i + 1}`);
    });
    const processes = new ClientProcesses(workers);
    await Promise.all(
      workers.map((worker, i) => {
        const first = Math.floor((clients * i) / count);
        return worker.call('start', { ...slice, first, count: Math.floor((clients * (i + 1)) / count) - first } satisfies ClientSlice);
      }),
    );
    return processes;
  }

  private all<T>(method: string, params?: unknown): Promise<T[]> {
    return Promise.all(this.workers.map((worker) => worker.call<T>(method, params)));
  }

  /** Every client sends its request of round `n`. */
  request(n: number): Promise<void> {
    return this.all('request', { n }).then(() => undefined);
  }

  /** How many clients are on `node`, remembered for the recovery figures of this kill. */
  async snapshot(node: string): Promise<number> {
    return (await this.all<number>('snapshot', { node })).reduce((sum, count) => sum + count, 0);
  }

  progress(): Promise<ClientsProgress[]> {
    return this.all('progress');
  }

  finish(params: FinishParams): Promise<ClientsResult[]> {
    return this.all('finish', params);
  }

  /** Closes every client; the errors `close()` threw. */
  async close(): Promise<string[]> {
    return (await this.all<string[]>('close')).flat();
  }
}
