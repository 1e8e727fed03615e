/**
 * Topic patterns: the topics a contract declares (`room/{roomId}`), each with the notification
 * types it carries and how much history it keeps. The contract states the rules both sides
 * share; the server adds who may subscribe (`createHerald({ topics })`), and enforces both.
 */
import type { TopicRetention } from './broker.ts';
import { BROADCAST_TOPIC } from './constants.ts';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Schema } from './contract.ts';
import type { Conflation } from './topics.ts';

/** One topic pattern of a contract. */
export interface TopicDefinition<Notification extends string = string> {
  /** The notification types published to topics of this pattern (any other is refused). */
  readonly notifications: readonly Notification[];
  /**
   * History its topics keep for resume and `since` (default: the broker's). The broker trims
   * to the smaller of this and its own bound; clients are told it in `herald.Subscribed`.
   */
  readonly history?: TopicRetention;
  /**
   * Who is on its topics: `'members'` (join and leave diffs in the stream, `herald.Presence`
   * lists them), `{ state }` (members with a state each user sets, checked by the schema), or
   * `'count'` (a count pushed at most once a second, no member lists: for large topics).
   */
  readonly presence?: 'members' | 'count' | { readonly state: Schema } | false;
  /**
   * Latest only: each message is its topic's whole state (a price, a position, a score). A
   * subscriber that fell behind (a full send buffer, a resume) gets the newest message, marked
   * `conflated`, instead of every one it missed, so a slow one costs no memory and is never
   * closed for it; `{ maxRate }` also caps live delivery to that many messages a second, each
   * slot sending the newest one.
   */
  readonly conflate?: boolean | { readonly maxRate: number };
  /**
   * Delta compression: a subscriber that asks for it (`herald.Subscribe` with `delta`) gets, after
   * a full first publication, each next one as a delta of its body against the previous one, one
   * frame for every subscriber at the previous offset. For topics whose messages are a large state
   * that changes a little at a time. The server needs a delta format (`createHerald({ delta })`).
   * Not with `conflate`, whose subscribers skip offsets.
   */
  readonly delta?: boolean;
  readonly description?: string;
}

/** A pattern's parameters as an object: `room/{roomId}` → `{ roomId: string }`. */
export type TopicParams<Pattern extends string> = Pattern extends `${string}{${infer Name}}${infer Rest}`
  ? { readonly [K in Name | keyof TopicParams<Rest>]: string }
  : {};

/** The topics a pattern stands for: `room/{roomId}` → `` `room/${string}` ``. */
export type TopicOfPattern<Pattern extends string> = Pattern extends `${infer Head}{${string}}${infer Rest}`
  ? `${Head}${string}${TopicOfPattern<Rest>}`
  : Pattern;

type Declared<C> = C extends { readonly topics: infer T } ? (T extends Readonly<Record<string, TopicDefinition>> ? T : {}) : {};

/** The patterns a contract declares (never when it declares none). */
export type TopicPattern<C> = keyof Declared<C> & string;

/** The topics a client may name for contract `C`: every declared pattern and `$all`, or any string when none are declared. */
export type Topic<C> = [TopicPattern<C>] extends [never] ? string : TopicOfPattern<TopicPattern<C>> | typeof BROADCAST_TOPIC;

/** The pattern topic `T` belongs to. */
export type PatternOfTopic<C, T extends string> = {
  [P in TopicPattern<C>]: T extends TopicOfPattern<P> ? P : never;
}[TopicPattern<C>];

/** The notification types topic `T` carries: the pattern's, or every one of the contract (undeclared topics, `$all`). */
export type TopicNotificationType<C, T extends string, All extends string> = [PatternOfTopic<C, T>] extends [never]
  ? All
  : NotificationsOf<Declared<C>[PatternOfTopic<C, T>]> & All;

type NotificationsOf<D> = D extends TopicDefinition<infer N> ? N : never;

/** The presence state of topic `T`: its pattern's state schema's output (unknown without one). */
export type TopicPresenceState<C, T extends string> = [PatternOfTopic<C, T>] extends [never]
  ? unknown
  : Declared<C>[PatternOfTopic<C, T>] extends { readonly presence: { readonly state: infer S } }
    ? S extends StandardSchemaV1
      ? StandardSchemaV1.InferOutput<S>
      : unknown
    : unknown;

const PARAMETER = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
/** What one `{name}` matches: a segment of topic characters without `/`. */
const SEGMENT = '([A-Za-z0-9_.:@=+$-]+)';
const LITERAL = /^[A-Za-z0-9_.:@/=+$-]*$/;

/** A compiled pattern. */
export interface CompiledPattern {
  readonly pattern: string;
  readonly names: readonly string[];
  readonly definition: TopicDefinition;
  readonly regex: RegExp;
}

/** A topic matched to its pattern, with the pattern's parameters. */
export interface TopicMatch {
  readonly pattern: CompiledPattern;
  readonly params: Readonly<Record<string, string>>;
}

function escape(literal: string): string {
  return literal.replace(/[.+$]/g, '\\$&');
}

/** Checks and compiles one pattern (a contract mistake throws a TypeError at `defineContract`). */
export function compilePattern(pattern: string, definition: TopicDefinition, notificationTypes: readonly string[]): CompiledPattern {
  const names: string[] = [];
  let source = '';
  let last = 0;
  for (const match of pattern.matchAll(PARAMETER)) {
    const literal = pattern.slice(last, match.index);
    if (!LITERAL.test(literal)) throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: ${JSON.stringify(literal)} has characters a topic cannot`);
    const name = match[1] as string;
    if (names.includes(name)) throw new TypeError(`topic pattern ${JSON.stringify(pattern)} names {${name}} twice`);
    names.push(name);
    source += escape(literal) + SEGMENT;
    last = match.index + match[0].length;
  }
  const tail = pattern.slice(last);
  if (!LITERAL.test(tail) || pattern.length === 0) throw new TypeError(`topic pattern ${JSON.stringify(pattern)} is not a topic with {parameters}`);
  if (pattern.startsWith('$')) throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: topics starting with "$" are the server's`);
  source += escape(tail);
  for (const type of definition.notifications) {
    if (!notificationTypes.includes(type)) throw new TypeError(`topic pattern ${JSON.stringify(pattern)} carries ${JSON.stringify(type)}, which the contract does not declare`);
  }
  const history = definition.history;
  if (history !== undefined && (!Number.isInteger(history.messages) || history.messages < 1 || (history.ttlMs !== undefined && !(history.ttlMs >= 1)))) {
    throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: history needs messages ≥ 1 (and ttlMs ≥ 1 when given)`);
  }
  const presence = definition.presence;
  const stated = typeof presence === 'object' && presence !== null && typeof (presence.state as Partial<Schema> | undefined)?.['~standard'] === 'object';
  if (presence !== undefined && presence !== false && presence !== 'members' && presence !== 'count' && !stated) {
    throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: presence is 'members', 'count', false or { state: <schema> }`);
  }
  const conflate = definition.conflate;
  if (conflate !== undefined && typeof conflate !== 'boolean' && !(typeof conflate?.maxRate === 'number' && conflate.maxRate > 0 && conflate.maxRate <= 1000)) {
    throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: conflate is true, false or { maxRate } with 0 < maxRate ≤ 1000 messages a second`);
  }
  const delta = definition.delta;
  if (delta !== undefined && typeof delta !== 'boolean') throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: delta is true or false`);
  if (delta === true && conflate !== undefined && conflate !== false) {
    throw new TypeError(`topic pattern ${JSON.stringify(pattern)}: delta and conflate do not combine (a delta needs the previous offset, which conflation skips)`);
  }
  return { pattern, names, definition, regex: new RegExp(`^${source}$`) };
}

/** The declared patterns of a contract, matched in declaration order; the first match wins. */
export class TopicPatterns {
  private readonly compiled: readonly CompiledPattern[];
  private readonly cache = new Map<string, TopicMatch | null>();

  constructor(topics: Readonly<Record<string, TopicDefinition>> | undefined, notificationTypes: readonly string[]) {
    this.compiled = Object.entries(topics ?? {}).map(([pattern, definition]) => compilePattern(pattern, definition, notificationTypes));
  }

  /** True when the contract declares topics: then a topic that matches none is refused. */
  get declared(): boolean {
    return this.compiled.length > 0;
  }

  /** The pattern of `topic` with its parameters, or null when none matches (and for `$` topics). */
  match(topic: string): TopicMatch | null {
    const cached = this.cache.get(topic);
    if (cached !== undefined) return cached;
    let found: TopicMatch | null = null;
    if (topic !== BROADCAST_TOPIC) {
      for (const pattern of this.compiled) {
        const groups = pattern.regex.exec(topic);
        if (groups === null) continue;
        const params: Record<string, string> = {};
        pattern.names.forEach((name, i) => (params[name] = groups[i + 1] as string));
        found = { pattern, params };
        break;
      }
    }
    // Bounded: topics come from clients too.
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(topic, found);
    return found;
  }

  /** How a topic is conflated when its pattern says so (undefined: every message is delivered). */
  conflationOf(topic: string): Conflation | undefined {
    const conflate = this.match(topic)?.pattern.definition.conflate;
    if (conflate === undefined || conflate === false) return undefined;
    return { intervalMs: conflate === true ? 0 : 1000 / conflate.maxRate };
  }

  /** Whether a topic's pattern allows delta compression. */
  deltaOf(topic: string): boolean {
    return this.match(topic)?.pattern.definition.delta === true;
  }

  /** Whether any declared pattern allows delta compression (the server then needs a delta format). */
  get deltas(): boolean {
    return this.compiled.some((compiled) => compiled.definition.delta === true);
  }

  /** The history a topic keeps when its pattern says (undefined: the broker's). */
  retentionOf(topic: string): TopicRetention | undefined {
    return this.match(topic)?.pattern.definition.history;
  }
}
