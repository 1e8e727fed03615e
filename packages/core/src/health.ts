/**
 * Health for probes and load balancers: `/healthz` says the process is alive, `/readyz` that
 * it should be sent traffic (not draining, broker and session store reachable). Runtime-neutral:
 * an answer is a status and a JSON body, which each adapter writes its own way.
 */

/** What a broker or session store reports of its link (`health()`), when it has one. */
export interface DependencyHealth {
  /** `ok`; `degraded`: working, with writes waiting (still ready); `down`: unreachable (not ready). */
  readonly status: 'ok' | 'degraded' | 'down';
}

/** `herald.health()`: whether this node should get traffic, and why not. */
export interface HeraldHealth {
  readonly ready: boolean;
  /** `close()` was called: clients are being told to go, new ones are refused with 503. */
  readonly draining: boolean;
  /** Absent for dependencies that do not report health (the in-memory ones). */
  readonly broker?: DependencyHealth;
  readonly sessions?: DependencyHealth;
}

/** The probes and their default paths. */
export const HEALTH_PATHS = { live: '/healthz', ready: '/readyz' } as const;
export type HealthProbe = keyof typeof HEALTH_PATHS;

/** An answer to a probe: 200 or 503, with a small JSON body. */
export interface HealthAnswer {
  readonly status: 200 | 503;
  readonly body: string;
}

/** Answers a probe from `health`; `live` is 200 whenever the process can answer at all. */
export function healthAnswer(probe: HealthProbe, health: () => HeraldHealth): HealthAnswer {
  if (probe === 'live') return { status: 200, body: '{"status":"ok"}' };
  const current = health();
  return { status: current.ready ? 200 : 503, body: JSON.stringify({ status: current.ready ? 'ok' : 'unavailable', ...current }) };
}

/** Combines what the node knows into `HeraldHealth`. */
export function heraldHealth(draining: boolean, broker: DependencyHealth | undefined, sessions: DependencyHealth | undefined): HeraldHealth {
  const up = (dependency: DependencyHealth | undefined): boolean => dependency?.status !== 'down';
  return {
    ready: !draining && up(broker) && up(sessions),
    draining,
    ...(broker === undefined ? {} : { broker }),
    ...(sessions === undefined ? {} : { sessions }),
  };
}
