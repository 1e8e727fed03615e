/** What a link needs from its gateway. */
import type { Logger } from '@herald/core';
import type { BackendLeg } from './backend-leg.ts';
import type { Backend } from './backends.ts';
import type { Link } from './link.ts';
import type { GatewayStats } from './stats.ts';

export interface LinkHost {
  readonly stats: GatewayStats;
  readonly logger: Logger;
  /** Above this many bytes buffered for the client, the gateway stops reading from the backend. */
  readonly highWaterMark: number;
  /** Above this many, the leg is closed with 4507. */
  readonly closeAbove: number;
  /** Resume sessions on another backend when theirs goes away. */
  readonly relink: boolean;
  readonly relinkTimeoutMs: number;
  /** Opens a backend leg for `link` on another backend than `lost`. */
  dial(link: Link, lost: Backend): Promise<{ readonly backend: BackendLeg; readonly target: Backend; readonly takeEarly: () => readonly Buffer[] }>;
  ended(link: Link): void;
  relinked(link: Link, ms: number): void;
}
