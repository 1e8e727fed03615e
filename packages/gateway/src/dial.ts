/** Opens a backend leg to a node: open, refused (the node's HTTP answer), or failed. */
import { BackendLeg, dialLeg, NO_LISTENER, type LegListener } from './backend-leg.ts';
import type { Backend } from './backends.ts';

export type Dialed =
  | {
      readonly kind: 'open';
      readonly backend: BackendLeg;
      readonly target: Backend;
      /** Stops holding frames for the caller and hands over those that arrived before it listened (the Welcome). */
      readonly takeEarly: () => readonly Buffer[];
      /** The first frame the leg got (its Welcome, or a refusal's Goodbye), before `takeEarly`; undefined if it closed or said nothing within `timeoutMs`. */
      readonly firstFrame: (timeoutMs: number) => Promise<Buffer | undefined>;
    }
  | { readonly kind: 'refused'; readonly status: number; readonly headers: Readonly<Record<string, string | undefined>>; readonly body: string }
  | { readonly kind: 'failed'; readonly error: string };

export async function dialBackend(
  target: Backend,
  headers: Readonly<Record<string, string>>,
  protocols: readonly string[],
  options: { readonly timeoutMs: number; readonly maxPayload: number },
): Promise<Dialed> {
  const dialed = await dialLeg(target.url, { headers, protocols, timeoutMs: options.timeoutMs, maxPayload: options.maxPayload });
  if (dialed.kind !== 'open') return dialed;
  const backend = dialed.leg;
  // Held until the link listens; let go once taken, so the Welcome is not kept for the leg's life.
  const early = new EarlyFrames();
  backend.listener = early;
  backend.feed(dialed.early);
  const takeEarly = (): readonly Buffer[] => {
    if (backend.listener === early) backend.listener = NO_LISTENER;
    const taken = early.frames;
    early.frames = [];
    return taken;
  };
  const firstFrame = (timeoutMs: number): Promise<Buffer | undefined> => early.first(timeoutMs);
  return { kind: 'open', backend, target, takeEarly, firstFrame };
}

/** What a leg sends before its link listens: its first frames, and whether it closed. */
class EarlyFrames implements LegListener {
  frames: Buffer[] = [];
  private closed = false;
  private waiting: ((frame: Buffer | undefined) => void) | undefined;
  /** The one wait for the first frame, shared by every caller. */
  private firstWait: Promise<Buffer | undefined> | undefined;

  legMessage(_leg: BackendLeg, data: Buffer): void {
    this.frames.push(data);
    this.waiting?.(data);
  }

  legPong(): void {}

  legClosed(): void {
    this.closed = true;
    this.waiting?.(undefined);
  }

  /** The first frame, once there is one; undefined if the leg closed or said nothing within `timeoutMs`. */
  first(timeoutMs: number): Promise<Buffer | undefined> {
    if (this.frames[0] !== undefined) return Promise.resolve(this.frames[0]);
    if (this.closed) return Promise.resolve(undefined);
    return (this.firstWait ??= new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), timeoutMs);
      const done = (frame: Buffer | undefined): void => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(frame);
      };
      this.waiting = done;
    }));
  }
}
