/**
 * Small TCP socket buffers for one benchmark script, without touching the host's: `tcp_rmem` and
 * `tcp_wmem` belong to a network namespace (Linux 4.15 and later), so the script runs again in a
 * fresh one (`unshare --net`, or `unshare --user --map-root-user --net` when not root), which has
 * only a loopback interface, brings `lo` up and sets them there. Everything it spawns (the server)
 * shares that namespace; the namespace goes away with its last process.
 *
 * On loopback the host's autotuning lets one connection hold megabytes in flight (up to 4 MiB
 * unsent and 32 MiB unread here): what a slow reader is owed sits in the kernel, not in the
 * server, and a benchmark of what the server does with a slow reader measures nothing.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** The TCP buffers a run had. */
export interface SocketBuffers {
  /** True inside a namespace of its own with the buffers asked for; false on the host's, with the reason. */
  readonly isolated: boolean;
  /** `min default max` bytes, as /proc/sys/net/ipv4/tcp_rmem and tcp_wmem read during the run. */
  readonly tcpRmem: string;
  readonly tcpWmem: string;
  readonly reason?: string;
}

const MARK = 'HERALD_BENCH_NETNS';
const SETUP = 'ip link set lo up && sysctl -q -w net.ipv4.tcp_rmem="$1" net.ipv4.tcp_wmem="$2"';

const read = (name: string) => readFileSync(`/proc/sys/net/ipv4/${name}`, 'latin1').trim().split(/\s+/).join(' ');

/** The buffers this process runs with; `reason` when it is not in a namespace made by `rerunInNetns`. */
export function currentBuffers(reason?: string): SocketBuffers {
  const isolated = process.env[MARK] === '1';
  return { isolated, tcpRmem: read('tcp_rmem'), tcpWmem: read('tcp_wmem'), ...(isolated || reason === undefined ? {} : { reason }) };
}

/** True when this process is the rerun inside the namespace. */
export function inNetns(): boolean {
  return process.env[MARK] === '1';
}

function unshareArgs(): string[] {
  return process.getuid?.() === 0 ? ['--net'] : ['--user', '--map-root-user', '--net'];
}

/**
 * Runs this script again (same Node flags and arguments) in a fresh network namespace with
 * `tcp_rmem` and `tcp_wmem` set to `rmem` and `wmem` (`"min default max"`), its stdout and stderr
 * passed through. Resolves with its exit code, or with why no namespace could be made (no
 * `unshare` or `ip`, user namespaces not allowed, the sysctls refused), so that the caller can run
 * on the host's buffers instead.
 */
export async function rerunInNetns(rmem: string, wmem: string): Promise<{ code: number } | { reason: string }> {
  const probe = spawnSync('unshare', [...unshareArgs(), 'sh', '-c', `${SETUP} && cat /proc/sys/net/ipv4/tcp_rmem /proc/sys/net/ipv4/tcp_wmem`, 'sh', rmem, wmem], { encoding: 'utf8', timeout: 10_000 });
  const got = (probe.stdout ?? '').trim().split('\n').map((line) => line.trim().split(/\s+/).join(' '));
  if (probe.error !== undefined || probe.status !== 0 || got[0] !== rmem || got[1] !== wmem) {
    const why = probe.error?.message ?? (probe.stderr ?? '').trim().split('\n')[0] ?? '';
    return { reason: `no network namespace with small TCP buffers (unshare ${unshareArgs().join(' ')}: ${why || `exit ${probe.status}`})` };
  }
  const child = spawn('unshare', [...unshareArgs(), 'sh', '-c', `${SETUP} && shift 2 && exec "$@"`, 'sh', rmem, wmem, process.execPath, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, [MARK]: '1' },
  });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.once('SIGTERM', forward).once('SIGINT', forward);
  const code = await new Promise<number>((resolve) => child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal === null ? 1 : 128))));
  process.off('SIGTERM', forward).off('SIGINT', forward);
  return { code };
}
