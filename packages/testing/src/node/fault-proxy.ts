/**
 * A TCP proxy that injects network faults between clients and a server, after Toxiproxy's
 * toxics: latency with jitter, a bandwidth limit and a slicer per direction, freezes (a
 * half-open connection: no bytes, no FIN, both sockets open), resets (RST to both sides), and
 * a random scheduler of freezes and resets.
 */
import { connect, type Socket } from 'node:net';
import { startChaos, type Chaos, type ChaosOptions, type LinkFilter } from './fault-chaos.ts';
import { Link, type Direction, type DirectionFaults, type LinkContext, type SlicerFaults } from './fault-link.ts';
import { listenTcp } from './tcp-listener.ts';

/** Where the proxy connects for each client. */
export interface FaultProxyUpstream {
  /** Default `127.0.0.1`. */
  readonly host?: string;
  readonly port: number;
}

/**
 * Faults of every link: the top-level fields apply to both directions, `upstream` (client →
 * server) and `downstream` (server → client) override them field by field.
 */
export interface Faults extends DirectionFaults {
  readonly upstream?: DirectionFaults;
  readonly downstream?: DirectionFaults;
}

export interface FaultProxyOptions {
  /** The server, or a function read for each new connection (so it can change). */
  readonly upstream: FaultProxyUpstream | (() => FaultProxyUpstream);
  /** Where the proxy listens (default `127.0.0.1`: loopback only). */
  readonly host?: string;
  /** Default 0: a free port. */
  readonly port?: number;
  /** Faults from the first connection on (default none). */
  readonly faults?: Faults;
  /** Bytes queued per link and direction (frozen, throttled or slow to drain) before the source is paused (default 256 KiB). */
  readonly maxQueuedBytes?: number;
  /** For jitter, slice sizes and `resetPeers`' choice (default `Math.random`). */
  readonly random?: () => number;
}

/** Counts since the proxy started. */
export interface FaultProxyStats {
  /** Links open now, and opened in all. */
  readonly links: number;
  readonly linksOpened: number;
  readonly frozenLinks: number;
  /** Bytes passed on, client → server and server → client. */
  readonly bytesUpstream: number;
  readonly bytesDownstream: number;
  /** Bytes waiting in the proxy now, over all links. */
  readonly queuedBytes: number;
  /** Links reset and frozen (by the methods and by chaos). */
  readonly resets: number;
  readonly freezes: number;
}

/** A running fault proxy. */
export interface FaultProxy {
  readonly host: string;
  /** Clients connect here. */
  readonly port: number;
  /** Links open now. */
  readonly links: number;
  /** Replaces the faults, for every open link and every new one, from the next byte on. */
  set(faults: Faults): void;
  /**
   * Stops bytes in both directions without closing anything: each side sees a peer that has
   * gone silent (half-open). Bytes read meanwhile wait, up to `maxQueuedBytes`, then the
   * source is paused. Without a filter every link is frozen, and so are new ones until
   * `thaw()`. Returns the number of links frozen.
   */
  freeze(filter?: LinkFilter): number;
  /** Passes on what waited and resumes (without a filter: every link, and new ones open normally). */
  thaw(filter?: LinkFilter): number;
  /** Sends an RST to both sides of `fraction` of the links (default all) that pass `filter`; they see ECONNRESET. */
  resetPeers(fraction?: number, filter?: LinkFilter): number;
  stats(): FaultProxyStats;
  /** Starts random freezes and resets; several may run, each stopped on its own or by `close()`. */
  chaos(options: ChaosOptions): Chaos;
  /** Stops chaos, destroys every link and stops listening. */
  close(): Promise<void>;
}

type ResolvedFaults = ReturnType<LinkContext['faults']>;

function resolve(faults: Faults, direction: Direction): ResolvedFaults {
  const merged: DirectionFaults = { ...faults, ...faults[direction] };
  const latencyMs = merged.latencyMs ?? 0;
  const jitterMs = merged.jitterMs ?? 0;
  const bandwidthBytesPerSecond = merged.bandwidthBytesPerSecond ?? 0;
  const slicer: SlicerFaults | undefined = merged.slicer;
  for (const [name, value] of Object.entries({ latencyMs, jitterMs, bandwidthBytesPerSecond, ...slicer })) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`fault proxy: ${direction} ${name} must be a number >= 0`);
  }
  if (slicer !== undefined && !(slicer.averageBytes >= 1)) throw new RangeError(`fault proxy: ${direction} slicer.averageBytes must be >= 1`);
  return { latencyMs, jitterMs, bandwidthBytesPerSecond, slicer };
}

function pick<T>(items: readonly T[], count: number, random: () => number): T[] {
  const pool = [...items];
  for (let i = 0; i < count && i < pool.length; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j] as T, pool[i] as T];
  }
  return pool.slice(0, count);
}

/**
 * Starts a fault proxy in front of `upstream`.
 *
 * @example
 * const proxy = await startFaultProxy({ upstream: { port: server.port } });
 * proxy.set({ latencyMs: 50, jitterMs: 20, downstream: { bandwidthBytesPerSecond: 10_000 } });
 * const client = connect(`ws://127.0.0.1:${proxy.port}/ws`);
 * proxy.freeze(); // the client's socket stays open, nothing gets through
 * proxy.thaw();
 * proxy.resetPeers(0.5); // half the links get an RST
 * const chaos = proxy.chaos({ everyMs: 1000, resetProbability: 0.01, freezeProbability: 0.02, freezeMs: 3000 });
 * await proxy.close();
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const random = options.random ?? Math.random;
  const upstreamOf = typeof options.upstream === 'function' ? options.upstream : () => options.upstream as FaultProxyUpstream;
  let current = { upstream: resolve(options.faults ?? {}, 'upstream'), downstream: resolve(options.faults ?? {}, 'downstream') };
  const links = new Set<Link>();
  const chaoses = new Set<Chaos>();
  let frozenAll = false;
  let closing = false;
  let nextId = 0;
  const totals = { bytesUpstream: 0, bytesDownstream: 0, resets: 0, freezes: 0 };

  const context: LinkContext = {
    faults: (direction) => current[direction],
    random,
    maxQueuedBytes: options.maxQueuedBytes ?? 256 * 1024,
    closed: (link) => {
      links.delete(link);
      totals.bytesUpstream += link.bytesUpstream;
      totals.bytesDownstream += link.bytesDownstream;
    },
  };

  const freezeLink = (link: Link): void => {
    if (link.frozen) return;
    totals.freezes++;
    link.freeze();
  };
  const thawLink = (link: Link): void => {
    if (!frozenAll && link.frozen) link.thaw();
  };
  const resetLink = (link: Link): void => {
    totals.resets++;
    link.reset();
  };
  const matching = (filter: LinkFilter | undefined): Link[] => [...links].filter((link) => filter === undefined || filter(link));

  const listener = await listenTcp(
    (client: Socket) => {
      if (closing) {
        client.destroy();
        return;
      }
      const target = upstreamOf();
      const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port, allowHalfOpen: true });
      const link = new Link(++nextId, client, upstream, context);
      links.add(link);
      if (frozenAll) freezeLink(link);
    },
    { ...(options.host === undefined ? {} : { host: options.host }), ...(options.port === undefined ? {} : { port: options.port }), allowHalfOpen: true },
  );

  return {
    host: listener.host,
    port: listener.port,
    get links() {
      return links.size;
    },
    set(faults) {
      current = { upstream: resolve(faults, 'upstream'), downstream: resolve(faults, 'downstream') };
    },
    freeze(filter) {
      if (filter === undefined) frozenAll = true;
      const hit = matching(filter).filter((link) => !link.frozen);
      hit.forEach(freezeLink);
      return hit.length;
    },
    thaw(filter) {
      if (filter === undefined) frozenAll = false;
      const hit = matching(filter).filter((link) => link.frozen);
      hit.forEach(thawLink);
      return hit.length;
    },
    resetPeers(fraction = 1, filter) {
      if (!(fraction >= 0 && fraction <= 1)) throw new RangeError('fault proxy: fraction must be between 0 and 1');
      const candidates = matching(filter);
      const hit = pick(candidates, Math.round(candidates.length * fraction), random);
      hit.forEach(resetLink);
      return hit.length;
    },
    stats() {
      let bytesUpstream = totals.bytesUpstream;
      let bytesDownstream = totals.bytesDownstream;
      let queuedBytes = 0;
      let frozenLinks = 0;
      for (const link of links) {
        bytesUpstream += link.bytesUpstream;
        bytesDownstream += link.bytesDownstream;
        queuedBytes += link.queuedBytes;
        if (link.frozen) frozenLinks++;
      }
      return { links: links.size, linksOpened: nextId, frozenLinks, bytesUpstream, bytesDownstream, queuedBytes, resets: totals.resets, freezes: totals.freezes };
    },
    chaos(chaosOptions) {
      const chaos = startChaos({ links: () => links, freeze: freezeLink, thaw: thawLink, reset: resetLink }, chaosOptions);
      chaoses.add(chaos);
      return {
        get resets() {
          return chaos.resets;
        },
        get freezes() {
          return chaos.freezes;
        },
        stop() {
          chaoses.delete(chaos);
          chaos.stop();
        },
      };
    },
    async close() {
      closing = true;
      for (const chaos of chaoses) chaos.stop();
      chaoses.clear();
      frozenAll = false;
      for (const link of links) link.destroy();
      await listener.close();
    },
  };
}
