/**
 * The backend nodes a gateway routes to: a static list or a function read at every health
 * round, each checked on its `/readyz`, and the strategies that pick one for a new link.
 */
import { HEALTH_PATHS } from '@herald/core';

/** A backend Herald node. */
export interface BackendTarget {
  /** Its WebSocket endpoint, e.g. `ws://10.0.0.5:9090/ws`. */
  readonly url: string;
  /** Its readiness endpoint (default: the same host, `http(s)://…/readyz`). */
  readonly healthUrl?: string;
}

/** Backends as a list, or a function read at every health round (service discovery). */
export type BackendSource = readonly (string | BackendTarget)[] | (() => readonly (string | BackendTarget)[] | Promise<readonly (string | BackendTarget)[]>);

/**
 * How a new link picks its backend among the healthy ones: in turn, the one with the fewest
 * links, or by a hash of the link's route key (rendezvous hashing, so adding or removing a
 * backend moves only the keys that hashed to it).
 */
export type Strategy = 'round-robin' | 'least-connections' | 'consistent-hash';

/** A backend as the gateway tracks it. */
export interface Backend {
  readonly url: string;
  readonly healthUrl: string;
  /** Answered 200 on its last health check (and no dial to it has failed since). */
  healthy: boolean;
  /** Links to it open now. */
  links: number;
}

function healthUrlOf(url: string): string {
  const parsed = new URL(url);
  parsed.protocol = parsed.protocol === 'wss:' ? 'https:' : 'http:';
  parsed.pathname = HEALTH_PATHS.ready;
  parsed.search = '';
  return parsed.toString();
}

/** FNV-1a over a string, for rendezvous hashing. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

export interface BackendPoolOptions {
  readonly strategy: Strategy;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly onChange: (backend: Backend, healthy: boolean) => void;
}

export class BackendPool {
  private backends: Backend[] = [];
  private next = 0;
  private timer: ReturnType<typeof setInterval> | undefined;
  private round: Promise<void> | undefined;

  constructor(
    private readonly source: BackendSource,
    private readonly options: BackendPoolOptions,
  ) {}

  /** Reads the backends and checks each once; then again every `healthIntervalMs`. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.options.healthIntervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  get all(): readonly Backend[] {
    return this.backends;
  }

  /**
   * A healthy backend other than `exclude`, by the strategy; undefined when there is none to try.
   * When none is healthy, every one is tried (a load balancer's panic mode): a health check that
   * timed out on a busy machine must not refuse a session a dial would have served, and a dial
   * that fails is what the caller goes on from.
   */
  pick(key: string | undefined, exclude?: Backend): Backend | undefined {
    const others = this.backends.filter((backend) => backend !== exclude);
    const inRotation = others.filter((backend) => backend.healthy);
    const healthy = inRotation.length > 0 ? inRotation : others;
    if (healthy.length === 0) return undefined;
    switch (this.options.strategy) {
      case 'least-connections':
        return healthy.reduce((best, backend) => (backend.links < best.links ? backend : best));
      case 'consistent-hash':
        if (key !== undefined) return healthy.reduce((best, backend) => (hash(key + backend.url) > hash(key + best.url) ? backend : best));
        break;
      case 'round-robin':
        break;
    }
    this.next = (this.next + 1) % healthy.length;
    return healthy[this.next];
  }

  /** A dial to `backend` failed: out of rotation until its next health check passes. */
  failed(backend: Backend): void {
    this.mark(backend, false);
  }

  private mark(backend: Backend, healthy: boolean): void {
    if (backend.healthy === healthy) return;
    backend.healthy = healthy;
    this.options.onChange(backend, healthy);
  }

  private check(): Promise<void> {
    this.round ??= this.checkAll().finally(() => {
      this.round = undefined;
    });
    return this.round;
  }

  private async checkAll(): Promise<void> {
    const listed = typeof this.source === 'function' ? await this.source() : this.source;
    const known = new Map(this.backends.map((backend) => [backend.url, backend]));
    this.backends = listed.map((entry) => {
      const target = typeof entry === 'string' ? { url: entry } : entry;
      return known.get(target.url) ?? { url: target.url, healthUrl: target.healthUrl ?? healthUrlOf(target.url), healthy: false, links: 0 };
    });
    await Promise.all(
      this.backends.map(async (backend) => {
        let ok = false;
        try {
          const response = await fetch(backend.healthUrl, { signal: AbortSignal.timeout(this.options.healthTimeoutMs) });
          ok = response.status === 200;
          await response.body?.cancel();
        } catch {
          ok = false;
        }
        this.mark(backend, ok);
      }),
    );
  }
}
