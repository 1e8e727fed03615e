/**
 * The fault proxy's random scheduler: every round, each link is reset, frozen for a while, or
 * left alone, by the dice. Its timers are its own, so stopping it (or closing the proxy)
 * clears them and thaws what it froze.
 */
import type { FaultLink, Link } from './fault-link.ts';

/** Picks links: `(link) => link.clientPort === port`. */
export type LinkFilter = (link: FaultLink) => boolean;

/** Options of `proxy.chaos()`. */
export interface ChaosOptions {
  /** A round every this many milliseconds. */
  readonly everyMs: number;
  /** Chance per link and round of an RST to both sides (default 0). */
  readonly resetProbability?: number;
  /** Chance per link and round of a freeze (default 0). */
  readonly freezeProbability?: number;
  /** How long a freeze lasts: fixed, or drawn between `min` and `max` (default 1000). */
  readonly freezeMs?: number | { readonly min: number; readonly max: number };
  /** Only these links are hit. */
  readonly filter?: LinkFilter;
  /** Default `Math.random`. */
  readonly random?: () => number;
  /** Told of every fault as it happens (a freeze's end too), to relate what clients saw to it. */
  readonly onFault?: (fault: ChaosFault) => void;
}

/** One thing the scheduler did to a link, at `Date.now()` `at`. */
export interface ChaosFault {
  readonly kind: 'reset' | 'freeze' | 'thaw';
  readonly link: FaultLink;
  readonly at: number;
}

/** A running scheduler. */
export interface Chaos {
  /** Links it reset and froze so far. */
  readonly resets: number;
  readonly freezes: number;
  /** Stops it and thaws the links it froze. */
  stop(): void;
}

/** What the scheduler does to a proxy's links. */
export interface ChaosTarget {
  links(): Iterable<Link>;
  freeze(link: Link): void;
  thaw(link: Link): void;
  reset(link: Link): void;
}

export function startChaos(target: ChaosTarget, options: ChaosOptions): Chaos {
  const resetProbability = options.resetProbability ?? 0;
  const freezeProbability = options.freezeProbability ?? 0;
  if (!(options.everyMs > 0)) throw new RangeError('chaos: everyMs must be > 0');
  if (resetProbability < 0 || freezeProbability < 0 || resetProbability + freezeProbability > 1) {
    throw new RangeError('chaos: probabilities must be >= 0 and add up to at most 1');
  }
  const random = options.random ?? Math.random;
  const freezeFor = (): number => {
    const spec = options.freezeMs ?? 1000;
    return typeof spec === 'number' ? spec : spec.min + random() * (spec.max - spec.min);
  };
  const frozen = new Map<Link, ReturnType<typeof setTimeout>>();
  let resets = 0;
  let freezes = 0;
  const told = (kind: ChaosFault['kind'], link: Link): void => options.onFault?.({ kind, link, at: Date.now() });
  const round = (): void => {
    for (const link of [...target.links()]) {
      if (frozen.has(link) || (options.filter !== undefined && !options.filter(link))) continue;
      const dice = random();
      if (dice < resetProbability) {
        resets++;
        target.reset(link);
        told('reset', link);
      } else if (dice < resetProbability + freezeProbability) {
        freezes++;
        target.freeze(link);
        told('freeze', link);
        frozen.set(
          link,
          setTimeout(() => {
            frozen.delete(link);
            target.thaw(link);
            told('thaw', link);
          }, freezeFor()),
        );
      }
    }
  };
  const interval = setInterval(round, options.everyMs);
  return {
    get resets() {
      return resets;
    },
    get freezes() {
      return freezes;
    },
    stop() {
      clearInterval(interval);
      for (const [link, timer] of frozen) {
        clearTimeout(timer);
        target.thaw(link);
        told('thaw', link);
      }
      frozen.clear();
    },
  };
}
