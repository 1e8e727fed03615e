/**
 * Calls between the run and its client processes over Node's IPC channel: a call carries an
 * id, its answer the same id with a result or an error message. Messages are plain JSON.
 */
import type { ChildProcess } from 'node:child_process';

interface Call {
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

type Answer = { readonly id: number; readonly result: unknown } | { readonly id: number; readonly error: string };

/** The run's side: calls into a child started with an `ipc` channel. */
export class RpcClient {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();

  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
  ) {
    child.on('message', (message: Answer) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      if ('error' in message) waiting.reject(new Error(`${name}: ${message.error}`));
      else waiting.resolve(message.result);
    });
    child.once('exit', (code, signal) => {
      for (const waiting of this.pending.values()) waiting.reject(new Error(`${name} exited (${signal ?? code})`));
      this.pending.clear();
    });
  }

  call<T>(method: string, params: unknown = null): Promise<T> {
    const id = ++this.nextId;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: unknown) => void, reject });
      this.child.send({ id, method, params } satisfies Call, (error) => {
        if (error === null) return;
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${error.message}`));
      });
    });
  }
}

/** The child's side: answers calls with `handlers`; exits when the run goes away. */
export function serveRpc(handlers: Record<string, (params: any) => unknown>): void {
  process.on('disconnect', () => process.exit(0));
  process.on('message', (call: Call) => {
    const handler = handlers[call.method];
    void (async () => {
      try {
        if (handler === undefined) throw new Error(`no method ${call.method}`);
        process.send?.({ id: call.id, result: (await handler(call.params)) ?? null } satisfies Answer);
      } catch (error) {
        process.send?.({ id: call.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies Answer);
      }
    })();
  });
}
