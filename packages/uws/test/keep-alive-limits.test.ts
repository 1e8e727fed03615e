/** uWS caps its idle timeout at 960 s and aborts the process beyond it: keep-alive limits above that are refused first, with a RangeError. */
import { createHerald, defineContract } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { attachHerald, loadUws } from '../src/index.ts';

const herald = (pingIntervalMs: number, pingTimeoutMs: number) =>
  createHerald({ contract: defineContract({ requests: {}, notifications: {} }), handlers: {}, limits: { pingIntervalMs, pingTimeoutMs } });

describe('attachHerald keep-alive limits', () => {
  it('refuses pingIntervalMs + pingTimeoutMs above 952 s with a RangeError, not a process abort', async () => {
    const server = herald(3_600_000, 10_000);
    expect(() => attachHerald(loadUws().App(), server)).toThrow(new RangeError('pingIntervalMs + pingTimeoutMs is 3610000 ms; uWebSockets.js allows at most 952000 ms'));
    await server.close();
  });

  it('accepts exactly 952 s', async () => {
    const server = herald(942_000, 10_000);
    expect(() => attachHerald(loadUws().App(), server)).not.toThrow();
    await server.close();
  });
});
