/**
 * What the load generator and every server agree on: the request and notification payloads
 * (about 100 bytes of JSON body), the Herald contract of the benchmark, and the tokens.
 * Runtime-neutral (Node, Bun, Deno): no `node:` imports.
 */
import { createHerald, defineContract, type Herald, type HeraldOptions, type Schema } from '@herald/core';

/** The request body every request/response scenario sends (about 100 bytes of JSON). */
export const REQUEST_BODY = { user: 'u-10077', text: 'hello there, general kenobi: a request body of about a hundred bytes', n: 12345 };
/** The body of a published or private notification (about 100 bytes of JSON). */
export const NOTE_BODY = { from: 'u-48213', text: 'a notification body of about one hundred bytes, same for all', at: 1700000000000 };

/** A schema that accepts anything: Herald's own overhead, not a schema library's. */
const any: Schema<any> = { '~standard': { version: 1, vendor: 'bench', validate: (value) => ({ value }) } };

export const benchContract = defineContract({
  requests: {
    'bench.Echo': { request: any, response: any },
    'bench.Publish': { request: any, response: any },
    'bench.Notify': { request: any, response: any },
    'bench.NotifyPlain': { request: any, response: any },
  },
  notifications: { 'bench.Tick': { body: any }, 'bench.Note': { body: any } },
});

export type BenchContract = typeof benchContract;

/** Tokens are `u<n>`; any token of that shape is that user. */
export function userOfToken(token: string): string | null {
  return /^u\d+$/.test(token) ? token : null;
}

/**
 * The Herald server every Herald scenario runs: echo, publish-on-request, and private
 * notifications with (`bench.Notify`) or without (`bench.NotifyPlain`) delivery confirmation.
 * The upgrade rate limit is off and the per-session rate limit raised, as the benchmark opens
 * thousands of sessions from one address and sends far above a human rate.
 */
export function createBenchHerald(
  options: Pick<HeraldOptions<BenchContract>, 'meter' | 'trustProxy' | 'codecs'> & {
    /** Herald's default keep-alive (a ping every 25 s) instead of the bench's quiet 120 s (scenario 16). */
    readonly defaultKeepAlive?: boolean;
  } = {},
): Herald<BenchContract> {
  const { defaultKeepAlive = false, ...heraldOptions } = options;
  const plainSeq = new WeakMap<object, number>();
  // `herald` is referenced by the publish handler, so it is declared before use.
  const herald: Herald<BenchContract> = createHerald({
    ...heraldOptions,
    contract: benchContract,
    upgradeRateLimit: false,
    limits: {
      rateLimit: { messagesPerSecond: 1e9, burst: 1e9 },
      // Every benchmark connection comes from loopback: the per-address cap would refuse past 256.
      maxConnectionsPerAddress: 1e9,
      replayWindow: 10_000,
      // Quiet idle sessions (the memory scenario) are not pinged while being measured.
      ...(defaultKeepAlive ? {} : { pingIntervalMs: 120_000, pingTimeoutMs: 60_000 }),
    },
    authenticate: (token) => {
      const userId = userOfToken(token);
      return userId === null ? null : { userId };
    },
    canSubscribe: () => true,
    handlers: {
      'bench.Echo': (body) => body,
      'bench.Publish': async (body) => {
        const position = await herald.publish('ticker', 'bench.Tick', body);
        return { offset: position.offset };
      },
      'bench.Notify': (body: { n?: number }, ctx) => {
        const n = body.n ?? 1;
        for (let i = 0; i < n; i++) ctx.notify('bench.Note', NOTE_BODY);
        return { n };
      },
      // The same frames as `bench.Notify` (same encoding, same seq numbers), written straight to
      // the socket through the session's send path: no replay buffer, no acknowledgements.
      'bench.NotifyPlain': (body: { n?: number }, ctx) => {
        const n = body.n ?? 1;
        const session = ctx.sessionRef;
        let seq = plainSeq.get(session) ?? 0;
        for (let i = 0; i < n; i++) {
          seq++;
          session.sendFrame('{"kind":"notification","type":"bench.Note","seq":' + seq + ',"body":' + JSON.stringify(NOTE_BODY) + '}');
        }
        plainSeq.set(session, seq);
        return { n };
      },
    },
  });
  return herald;
}

/**
 * Revision `rev` of the document of scenario 15: a ~2 KB JSON state (a project board) of which
 * each revision changes a few fields: its revision and update time, one card's status and
 * assignee, and a counter.
 */
export function benchDocument(rev: number): unknown {
  const statuses = ['todo', 'doing', 'review', 'done'];
  const cards = Array.from({ length: 16 }, (_, id) => ({
    id: `card-${id}`,
    title: `Card ${id}: a task of the board with a title of some length`,
    status: statuses[id % 4],
    assignee: `u-${10_000 + id}`,
    points: (id % 5) + 1,
  }));
  const card = cards[rev % 16] as (typeof cards)[number];
  card.status = statuses[(rev >> 4) % 4] as string;
  card.assignee = `u-${20_000 + (rev % 97)}`;
  return { board: 'b-8817', name: 'Release train', revision: rev, updatedAt: 1_700_000_000_000 + rev * 1000, openCards: 16 - (rev % 5), cards };
}

export const deltaContract = defineContract({
  requests: { 'bench.PublishDoc': { request: any, response: any } },
  notifications: { 'bench.Doc': { body: any } },
  topics: { 'doc/{id}': { notifications: ['bench.Doc'], delta: true } },
});

/** Scenario 15's server: `bench.PublishDoc {rev}` publishes revision `rev` of `benchDocument` to `doc/bench`, whose pattern allows deltas. */
export function createDeltaHerald(delta: NonNullable<HeraldOptions<typeof deltaContract>['delta']>): Herald<typeof deltaContract> {
  const herald: Herald<typeof deltaContract> = createHerald({
    contract: deltaContract,
    upgradeRateLimit: false,
    delta,
    limits: { rateLimit: { messagesPerSecond: 1e9, burst: 1e9 }, maxConnectionsPerAddress: 1e9, pingIntervalMs: 120_000, pingTimeoutMs: 60_000 },
    authenticate: (token) => {
      const userId = userOfToken(token);
      return userId === null ? null : { userId };
    },
    topics: { 'doc/{id}': { canSubscribe: () => true } },
    handlers: {
      'bench.PublishDoc': async (body: { rev: number }) => ({ offset: (await herald.publish('doc/bench', 'bench.Doc', benchDocument(body.rev))).offset }),
    },
  });
  return herald;
}
