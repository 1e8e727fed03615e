/**
 * What a uWS app is still serving through Herald's routes: WebSockets open, and HTTP requests
 * (long-poll, fetch handlers) not yet answered and written. A closing server drains for as long
 * as there is something here, and no longer.
 */
import type { TemplatedApp } from 'uWebSockets.js';

interface InFlight {
  count: number;
  /** Drains waiting for the count to reach 0. */
  readonly waiting: Set<() => void>;
}

const apps = new WeakMap<TemplatedApp, InFlight>();

function inFlight(app: TemplatedApp): InFlight {
  let state = apps.get(app);
  if (state === undefined) apps.set(app, (state = { count: 0, waiting: new Set() }));
  return state;
}

/** Counts one more thing in flight on `app`; the function returned ends it (once, however often called). */
export function begin(app: TemplatedApp): () => void {
  const state = inFlight(app);
  state.count++;
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    if (--state.count === 0) for (const drained of [...state.waiting]) drained();
  };
}

/** Resolves once nothing is in flight on `app`, or after `timeoutMs`. */
export function drained(app: TemplatedApp, timeoutMs: number): Promise<void> {
  const state = inFlight(app);
  if (state.count === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      state.waiting.delete(done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    state.waiting.add(done);
  });
}
