/**
 * The cluster under test, all on loopback: a Redis for sessions and topics (the one restarted
 * during the run), a ledger Redis for run counts (never restarted), the nodes as processes of
 * their own, and haproxy in front (round-robin on every request, no stickiness, health checks
 * on `/health`), from `@herald/redis/testing`.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startHaproxy, startRedis, type Haproxy, type RedisServer } from '@herald/redis/testing';
import { freePort } from '@herald/testing/node';
import { killProcess, type ProcessGroup } from './process-group.ts';

/** A node may take this long to boot (tsx compiling, a busy machine). */
const NODE_START_TIMEOUT_MS = 60_000;
/** Between a node that exited before it was ready and the next try. */
const NODE_RETRY_MS = 500;
const nodeEntry = fileURLToPath(new URL('node.ts', import.meta.url));

export interface ClusterNode {
  readonly port: number;
  /** `node<slot>.<generation>`: a new id for every start, as the session store wants. */
  id: string;
  generation: number;
  process: ChildProcess | undefined;
}

export interface Cluster {
  readonly redis: RedisServer;
  readonly ledger: RedisServer;
  readonly haproxy: Haproxy;
  readonly nodes: readonly ClusterNode[];
  kill(node: ClusterNode): Promise<void>;
  /** Starts the node again under a new id; resolves once it listens. */
  start(node: ClusterNode): Promise<void>;
}

/** Passes a child's output on, each line prefixed with its node id. */
function forward(stream: NodeJS.ReadableStream | null, id: string, onLine?: (line: string) => void): void {
  let pending = '';
  stream?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (onLine !== undefined) onLine(line);
      else process.stderr.write(`[${id}] ${line}\n`);
    }
  });
}

export async function startCluster(group: ProcessGroup, count: number): Promise<Cluster> {
  const redis = await startRedis();
  group.adopt(redis.stop);
  const ledger = await startRedis();
  group.adopt(ledger.stop);
  const nodes: ClusterNode[] = [];
  for (let slot = 1; slot <= count; slot++) nodes.push({ port: await freePort(), id: `node${slot}.0`, generation: 0, process: undefined });

  /** One attempt: resolves once it listens, rejects if it exits first (Redis down, say). */
  const spawnNode = async (node: ClusterNode): Promise<void> => {
    node.generation++;
    node.id = node.id.replace(/\.\d+$/, `.${node.generation}`);
    const id = node.id;
    const child = group.spawn(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', nodeEntry], {
      env: { ...process.env, PORT: String(node.port), REDIS_URL: redis.url, LEDGER_URL: ledger.url, NODE_ID: id },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    node.process = child;
    forward(child.stderr, id);
    await new Promise<void>((resolve, reject) => {
      const exited = (code: number | null): void => reject(new Error(`${id} exited with ${code} before it was ready`));
      child.once('exit', exited);
      forward(child.stdout, id, (line) => {
        if (line.trim() !== 'ready') {
          process.stderr.write(`[${id}] ${line}\n`);
          return;
        }
        child.off('exit', exited);
        resolve();
      });
    });
  };
  /** Starts a node as a supervisor would: again after a failed start, until it listens or the time is up. */
  const start = async (node: ClusterNode): Promise<void> => {
    const deadline = Date.now() + NODE_START_TIMEOUT_MS;
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const hung = new Promise<Error>((resolve) => (timer = setTimeout(() => resolve(new Error(`${node.id} is not ready yet`)), deadline - Date.now())));
      const failed = await Promise.race([
        spawnNode(node).then(
          () => undefined,
          (error: unknown) => error,
        ),
        hung,
      ]);
      clearTimeout(timer);
      if (failed === undefined) return;
      const child = node.process;
      if (child !== undefined) await killProcess(child);
      if (Date.now() + NODE_RETRY_MS > deadline) throw new Error(`${node.id} did not start within ${NODE_START_TIMEOUT_MS} ms`, { cause: failed });
      process.stderr.write(`[${node.id}] ${String(failed)}; starting it again\n`);
      await new Promise((resolve) => setTimeout(resolve, NODE_RETRY_MS));
    }
  };
  const kill = async (node: ClusterNode): Promise<void> => {
    const child = node.process;
    node.process = undefined;
    if (child !== undefined) await killProcess(child);
  };

  await Promise.all(nodes.map(start));
  const haproxy = await startHaproxy(nodes.map((node) => node.port), { logHeaders: ['x-chaos-client'] });
  group.adopt(haproxy.stop);
  return { redis, ledger, haproxy, nodes, kill, start };
}
