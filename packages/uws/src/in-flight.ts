/**
 * What a uWS app is still serving through Herald's routes: WebSockets open, and HTTP requests
 * (long-poll, fetch handlers) not yet answered and written. A closing server drains for as long
 * as there is something here, and no longer.
 */
import type { TemplatedApp } from 'uWebSockets.js';

export interface InFlight {
  count: number;
  /** Drains waiting for the count to reach 0. */
  readonly waiting: Set<() => void>;
}

const apps = new WeakMap<TemplatedApp, InFlight>();

/** The app's count, shared by everything Herald serves on it. */
export function inFlightOf(app: TemplatedApp): InFlight {
  let state = apps.get(app);
  if (state === undefined) apps.set(app, (state = { count: 0, waiting: new Set() }));
  return state;
}

/** Counts one more thing in flight on `app`; the function returned ends it (once, however often called). */
export function begin(app: TemplatedApp): () => void {
  const state = beginOn(app);
  let ended = false;
  return () => {
    if (ended) return;
    ended = true;
    end(state);
  };
}

/**
 * Counts one more thing in flight on `app` and returns the app's count, for something that ends
 * exactly once by itself (a WebSocket's `close`): no function to allocate per socket.
 */
export function beginOn(app: TemplatedApp): InFlight {
  const state = inFlightOf(app);
  state.count++;
  return state;
}

/** Ends one thing counted by `beginOn`. */
export function end(state: InFlight): void {
  if (--state.count === 0) for (const drained of [...state.waiting]) drained();
}

/** Resolves once nothing is in flight on `app`, or after `timeoutMs`. */
export function drained(app: TemplatedApp, timeoutMs: number): Promise<void> {
  const state = inFlightOf(app);
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
