/**
 * Time as the core sees it. Everything time-based (auth deadlines, keep-alive, expiry, resume
 * windows) reads this interface, so tests drive it with `ManualClock` from `@herald/core/testing`.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` every `ms` milliseconds until cleared. */
  setInterval(callback: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** The real clock, from the Web-standard timer globals every runtime provides. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setInterval: (callback, ms) => setInterval(callback, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};
