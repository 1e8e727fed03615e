/**
 * Composable matchers for received messages, as the seed's WsTester had
 * (`waitForMsgs(withProperty("name", "elad"))`). A matcher is a predicate with a description,
 * so a failed wait can say what it was waiting for.
 */
import type { Envelope } from '@herald/core';

/** A predicate over received envelopes that can describe itself. */
export interface Matcher {
  (message: Envelope): boolean;
  readonly description: string;
}

/** Wraps a plain predicate, optionally naming it. */
export function matching(predicate: (message: Envelope) => boolean, description = 'a message matching a predicate'): Matcher {
  return Object.assign((message: Envelope) => predicate(message), { description });
}

/** Accepts a matcher or a plain predicate. */
export type MatcherLike = Matcher | ((message: Envelope) => boolean);

export function toMatcher(matcher: MatcherLike): Matcher {
  return 'description' in matcher ? matcher : matching(matcher);
}

/** `kind` equals `kind`. */
export function withKind(kind: Envelope['kind']): Matcher {
  return matching((message) => message.kind === kind, `kind ${kind}`);
}

/** `type` equals `type`. */
export function withType(type: string): Matcher {
  return matching((message) => 'type' in message && message.type === type, `type ${type}`);
}

/** The value at a dotted path (`'body.name'`) equals `value` (deep equality for objects). */
export function withProperty(path: string, value: unknown): Matcher {
  const keys = path.split('.');
  return matching((message) => {
    let current: unknown = message;
    for (const key of keys) {
      if (typeof current !== 'object' || current === null) return false;
      current = (current as Record<string, unknown>)[key];
    }
    return JSON.stringify(current) === JSON.stringify(value);
  }, `${path} = ${JSON.stringify(value)}`);
}

/** The response to request `id`. */
export function responseTo(id: string): Matcher {
  return matching((message) => message.kind === 'resp' && message.reqId === id, `response to ${id}`);
}

export function and(...matchers: MatcherLike[]): Matcher {
  const all = matchers.map(toMatcher);
  return matching((message) => all.every((m) => m(message)), all.map((m) => m.description).join(' and '));
}

export function or(...matchers: MatcherLike[]): Matcher {
  const any = matchers.map(toMatcher);
  return matching((message) => any.some((m) => m(message)), `(${any.map((m) => m.description).join(' or ')})`);
}

export function not(matcher: MatcherLike): Matcher {
  const inner = toMatcher(matcher);
  return matching((message) => !inner(message), `not ${inner.description}`);
}

function presenceDiff(message: Envelope, topic: string | undefined): { joins: Array<{ userId: string; state?: unknown }>; leaves: string[] } | undefined {
  if (message.kind !== 'notification' || message.type !== 'herald.PresenceDiff' || (topic !== undefined && message.topic !== topic)) return undefined;
  return message.body as { joins: Array<{ userId: string; state?: unknown }>; leaves: string[] };
}

/**
 * A `herald.PresenceDiff` in which `userId` joined (or set a new state), on `topic` if given,
 * and with `state` if given.
 *
 * @example
 * await bob.waitFor(presenceJoin('ann', 'room/lobby', { status: 'away' }));
 */
export function presenceJoin(userId: string, topic?: string, state?: unknown): Matcher {
  return matching(
    (message) =>
      presenceDiff(message, topic)?.joins.some((member) => member.userId === userId && (state === undefined || JSON.stringify(member.state) === JSON.stringify(state))) ===
      true,
    `presence join of ${userId}${topic === undefined ? '' : ` on ${topic}`}${state === undefined ? '' : ` with state ${JSON.stringify(state)}`}`,
  );
}

/** A `herald.PresenceDiff` in which `userId` left (its last session), on `topic` if given. */
export function presenceLeave(userId: string, topic?: string): Matcher {
  return matching((message) => presenceDiff(message, topic)?.leaves.includes(userId) === true, `presence leave of ${userId}${topic === undefined ? '' : ` on ${topic}`}`);
}

/** A `herald.PresenceCount` of `topic`, with `count` if given. */
export function presenceCount(topic: string, count?: number): Matcher {
  return matching((message) => {
    if (message.kind !== 'notification' || message.type !== 'herald.PresenceCount') return false;
    const body = message.body as { topic: string; count: number };
    return body.topic === topic && (count === undefined || body.count === count);
  }, `presence count of ${topic}${count === undefined ? '' : ` = ${count}`}`);
}
