/**
 * The run's settings: a few environment variables and one flag, checked before anything
 * starts. The faults themselves are fixed (see README), so runs compare.
 */

export interface ChaosConfig {
  /** CHAOS_CLIENTS (default 1000): half WebSocket, half long-poll. */
  readonly clients: number;
  /** CHAOS_SECONDS (default 600): the time under fire. */
  readonly seconds: number;
  /** CHAOS_KILL_EVERY_MS (default 5000): a node is SIGKILLed and restarted this often, in turn. */
  readonly killEveryMs: number;
  /**
   * CHAOS_KILLS (default: one per CHAOS_KILL_EVERY_MS of the time under fire, less one): every
   * one of them happens however slowly nodes restart; the fire goes on until the last is back.
   */
  readonly kills: number;
  /** CHAOS_TICK_MS (default 500): a publishing round this often. */
  readonly tickMs: number;
  /** CHAOS_TOPICS (default 10): client i subscribes to `room/<i % topics>`. */
  readonly topics: number;
  /** Two busy loops keep both cores busy, unless `--no-pressure`. */
  readonly pressure: boolean;
}

export const USAGE = 'usage: pnpm chaos [--no-pressure]  (env: CHAOS_CLIENTS, CHAOS_SECONDS, CHAOS_KILL_EVERY_MS, CHAOS_KILLS, CHAOS_TICK_MS, CHAOS_TOPICS)';

function positive(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a whole number > 0, not ${JSON.stringify(raw)}\n${USAGE}`);
  return value;
}

export function readConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ChaosConfig {
  const unknown = argv.filter((arg) => arg !== '--no-pressure');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown.join(' ')}\n${USAGE}`);
  const clients = positive(env, 'CHAOS_CLIENTS', 1000);
  if (clients < 2) throw new Error(`CHAOS_CLIENTS must be at least 2 (one per transport)\n${USAGE}`);
  const seconds = positive(env, 'CHAOS_SECONDS', 600);
  const killEveryMs = positive(env, 'CHAOS_KILL_EVERY_MS', 5000);
  return {
    clients,
    seconds,
    killEveryMs,
    kills: positive(env, 'CHAOS_KILLS', Math.max(1, Math.floor((seconds * 1000) / killEveryMs) - 1)),
    tickMs: positive(env, 'CHAOS_TICK_MS', 500),
    topics: positive(env, 'CHAOS_TOPICS', 10),
    pressure: !argv.includes('--no-pressure'),
  };
}
