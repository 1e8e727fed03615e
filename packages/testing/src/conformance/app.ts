/**
 * The application every transport serves for the conformance suite: a contract whose handlers
 * expose, from outside, what the suite must observe (how often a handler ran, publishing,
 * private notifications), and limits short enough to test every deadline in a few hundred ms.
 */
import { createHerald, defineContract, type Herald, type HeraldOptions, type Limits, type Principal } from '@herald/core';
import { fossilDelta } from '@herald/core/fossil-delta';
import { msgpack } from '@herald/core/msgpack';
import { z } from 'zod';

export const conformanceContract = defineContract({
  requests: {
    'conf.Echo': { request: z.object({ text: z.string() }), response: z.object({ text: z.string() }) },
    'conf.Count': { request: z.object({ key: z.string() }), response: z.object({ key: z.string(), runs: z.number() }) },
    /** Blocks the event loop for `ms`, as an expensive validation or a synchronous handler would. */
    'conf.Spin': { request: z.object({ ms: z.number().min(0).max(200) }), response: z.object({ ms: z.number() }) },
    'conf.Publish': {
      request: z.object({ topic: z.string(), count: z.number().int().min(1).max(1000) }),
      response: z.object({ offset: z.number() }),
    },
    'conf.Notify': {
      request: z.object({ to: z.string(), count: z.number().int().min(1).max(1000) }),
      response: z.object({ sent: z.number() }),
    },
    /** Publishes revisions `from`… of `conformanceDocument` to a topic. */
    'conf.PublishDocument': {
      request: z.object({ topic: z.string(), from: z.number().int().min(1), count: z.number().int().min(1).max(100) }),
      response: z.object({ offset: z.number() }),
    },
    /** Answers `conformanceShapes()`: values `JSON.stringify` drops or converts, which every encoding must answer as it does. */
    'conf.Shapes': { request: z.object({}), response: z.unknown() },
    /** Disconnects another session as an operator would (`herald.inspection().disconnect`), whatever the server runs on. */
    'conf.Disconnect': { request: z.object({ sessionId: z.string() }), response: z.object({ disconnected: z.boolean() }) },
  },
  notifications: {
    'conf.Published': { body: z.object({ n: z.number() }) },
    'conf.Private': { body: z.object({ n: z.number() }) },
    'conf.Document': { body: z.object({ rev: z.number(), title: z.string(), rows: z.array(z.object({ id: z.number(), text: z.string() })) }) },
  },
  topics: {
    'conf/{name}': { notifications: ['conf.Published'] },
    'conf/limit/{n}': { notifications: ['conf.Published'] },
    'conf/presence/{room}': { notifications: ['conf.Published'], presence: { state: z.object({ status: z.string().max(20) }) } },
    'conf/count/{room}': { notifications: ['conf.Published'], presence: 'count' },
    'conf/latest/{name}': { notifications: ['conf.Published'], conflate: true },
    'conf/doc/{name}': { notifications: ['conf.Document'], delta: true },
  },
});

export type ConformanceContract = typeof conformanceContract;

/** Revision `rev` of the ~1.5 KB document the delta cases publish: each revision changes its title and one row (with non-ASCII text, which deltas may split). */
export function conformanceDocument(rev: number): { rev: number; title: string; rows: Array<{ id: number; text: string }> } {
  const rows = Array.from({ length: 24 }, (_, id) => ({ id, text: `row ${id}, as it was — ünïcödé ✓` }));
  rows[rev % 24] = { id: rev % 24, text: `edited in revision ${rev} ✎` };
  return { rev, title: `Revision ${rev}`, rows };
}

/**
 * A body with what a handler may return beyond the JSON data model: a `Date`, a `toJSON`, an
 * `undefined` field and array item, NaN and infinities, a class instance, a `Map`. Its meaning
 * is `JSON.parse(JSON.stringify(conformanceShapes()))`, in every encoding.
 */
export function conformanceShapes(): Record<string, unknown> {
  class Point {
    constructor(
      readonly x: number,
      readonly y: number,
    ) {}
  }
  return {
    at: new Date(Date.UTC(2026, 11, 3, 12)),
    price: { cents: 150, toJSON: () => '1.50 EUR' },
    missing: undefined,
    list: [1, undefined, Number.NaN, Number.POSITIVE_INFINITY, -0],
    point: new Point(3, 4),
    map: new Map([['a', 1]]),
    plain: { text: 'héllo 👋', n: 1.5, ok: true, none: null },
  };
}

/** The limits the suite runs under; every deadline is short so the suite is fast. */
export const conformanceLimits: Limits = {
  maxMessageBytes: 4096,
  maxDepth: 32,
  pingIntervalMs: 300,
  pingTimeoutMs: 300,
  // Through a relay (@herald/gateway) on a loaded machine, a MessagePack Authenticate took more than 400 ms.
  authDeadlineMs: 1000,
  replayWindow: 100,
  resumeWindowMs: 800,
  dedupWindow: 64,
  maxSubscriptions: 10,
  maxSessionsPerPrincipal: 32,
  maxConnectionsPerAddress: 256,
  rateLimit: { messagesPerSecond: 50, burst: 50 },
};

/**
 * Tokens are `user:<id>` or `user:<id>:ttl=<ms>` (expiring `ms` after they are checked).
 * Anything else is refused.
 */
export function conformanceToken(token: string): Principal | null {
  const match = /^user:([a-z0-9-]{1,32})(?::ttl=(\d+))?$/.exec(token);
  if (match === null) return null;
  const userId = match[1] as string;
  return match[2] === undefined ? { userId } : { userId, expiresAt: Date.now() + Number(match[2]) };
}

/** A fresh Herald server for one conformance test (`limits` overrides, e.g. for load runs). */
export function createConformanceHerald(
  limits: Partial<Limits> = {},
  /** The engine under the server (`broker`, `sessionStore`, `presence`) for running the suite on many nodes' parts, and its `meter` and `tracer`. */
  engine: Pick<HeraldOptions<ConformanceContract>, 'broker' | 'sessionStore' | 'presence' | 'meter' | 'tracer'> = {},
): Herald<ConformanceContract> {
  const runs = new Map<string, number>();
  return createHerald({
    contract: conformanceContract,
    limits: { ...conformanceLimits, ...limits },
    sweepIntervalMs: 25,
    upgradeRateLimit: false,
    // Every WebSocket transport is also checked in herald.v1.msgpack (msgpack-suite.ts).
    codecs: [msgpack()],
    delta: fossilDelta(),
    authenticate: conformanceToken,
    canSubscribe: (topic) => topic.startsWith('conf/'),
    onError: () => {},
    handlers: {
      'conf.Echo': ({ text }) => ({ text }),
      'conf.Count': async ({ key }) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        const count = (runs.get(key) ?? 0) + 1;
        runs.set(key, count);
        return { key, runs: count };
      },
      'conf.Spin': ({ ms }) => {
        const until = performance.now() + ms;
        while (performance.now() < until);
        return { ms };
      },
      'conf.Publish': async ({ topic, count }, ctx) => {
        let offset = 0;
        // A topic no pattern declares throws: the client gets 500 (the suite only publishes to conf/…).
        for (let n = 1; n <= count; n++) offset = (await ctx.herald.publish(topic as `conf/${string}`, 'conf.Published', { n })).offset;
        return { offset };
      },
      'conf.Notify': async ({ to, count }, ctx) => {
        for (let n = 1; n <= count; n++) await ctx.herald.sendToUser(to, 'conf.Private', { n });
        return { sent: count };
      },
      'conf.PublishDocument': async ({ topic, from, count }, ctx) => {
        let offset = 0;
        for (let rev = from; rev < from + count; rev++) offset = (await ctx.herald.publish(topic as `conf/doc/${string}`, 'conf.Document', conformanceDocument(rev))).offset;
        return { offset };
      },
      'conf.Shapes': () => conformanceShapes(),
      'conf.Disconnect': ({ sessionId }, ctx) => ({ disconnected: ctx.herald.inspection().disconnect(sessionId) }),
    },
    ...engine,
  });
}
