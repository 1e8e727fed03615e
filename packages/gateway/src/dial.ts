/** Opens a backend leg to a node: open, refused (the node's HTTP answer), or failed. */
import { BackendLeg, dialLeg } from './backend-leg.ts';
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
  let early: Buffer[] = [];
  const onEarly = (data: Buffer): void => {
    early.push(data);
  };
  backend.on('message', onEarly);
  backend.feed(dialed.early);
  const takeEarly = (): readonly Buffer[] => {
    backend.off('message', onEarly);
    const taken = early;
    early = [];
    return taken;
  };
  const firstFrame = (timeoutMs: number): Promise<Buffer | undefined> => {
    if (early[0] !== undefined) return Promise.resolve(early[0]);
    return new Promise((resolve) => {
      const done = (frame: Buffer | undefined): void => {
        clearTimeout(timer);
        backend.off('message', done);
        backend.off('close', onClose);
        resolve(frame);
      };
      const onClose = (): void => done(undefined);
      const timer = setTimeout(onClose, timeoutMs);
      backend.on('message', done);
      backend.on('close', onClose);
    });
  };
  return { kind: 'open', backend, target, takeEarly, firstFrame };
}
