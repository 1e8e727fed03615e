/**
 * Presence: who is on a topic. A member is a user (a principal), present while at least one of
 * its sessions is subscribed to the topic; a session that loses its connection stays a member
 * until it ends (its resume window), so a reconnect does not flap. Joins, leaves and state
 * changes go out as `herald.PresenceDiff` in the topic's own stream (ordered with its messages,
 * replayed on resume, on every node); a count-only topic instead pushes `herald.PresenceCount`
 * at most once per sweep. Where members are kept is a `PresenceStore`: `MemoryPresence` in one
 * process, `RedisPresence` (`@herald/redis`) across nodes.
 */
import type { DependencyHealth } from './health.ts';

/** How a topic pattern shows presence: member lists with diffs, or a count only (for large topics). */
export type PresenceMode = 'members' | 'count';

/** One member of a topic. */
export interface PresenceMember {
  readonly userId: string;
  /** The state the user last set on this topic (`herald.SetPresence`), if any. */
  readonly state?: unknown;
  /** How many of the user's sessions are on the topic. */
  readonly connections: number;
}

/** What one join, update or leave changed. */
export interface PresenceChange {
  /** The user's membership: `joined` (first session), `left` (last session), `updated` (state), or unchanged. */
  readonly member: 'joined' | 'left' | 'updated' | undefined;
  /** The member after the change (absent when it left). */
  readonly current?: PresenceMember;
  /** The topic went from no member to one, or from one to none. */
  readonly occupied: boolean;
  readonly vacated: boolean;
}

/** A page of a topic's members, in `userId` order. */
export interface PresencePage {
  readonly members: readonly PresenceMember[];
  readonly count: number;
  /** Pass as `after` for the next page; absent on the last. */
  readonly next?: string;
}

/**
 * Where members live. A store MUST treat a session's join and leave as idempotent, count a
 * user once however many sessions it has on a topic, and answer `occupied`/`vacated` once per
 * change across every node that shares it.
 */
/** Told of changes the store made by itself: members of a dead node reaped, members re-announced. */
export type PresenceStoreListener = (topic: string, userId: string, change: PresenceChange) => void;

export interface PresenceStore {
  /** Called once by the server: changes the store makes by itself are told to `listener`. */
  attach?(listener: PresenceStoreListener): void;
  join(topic: string, userId: string, sessionId: string): Promise<PresenceChange>;
  /** Sets the user's state on a topic its session is on (`member: undefined` if it is not). */
  update(topic: string, userId: string, sessionId: string, state: unknown): Promise<PresenceChange>;
  leave(topic: string, userId: string, sessionId: string): Promise<PresenceChange>;
  members(topic: string, after: string | undefined, limit: number): Promise<PresencePage>;
  count(topic: string): Promise<number>;
  /** For `/readyz` (absent: always reachable). */
  health?(): DependencyHealth;
  close?(): Promise<void>;
}

interface UserEntry {
  readonly sessions: Set<string>;
  state: unknown;
}

const NOTHING: PresenceChange = { member: undefined, occupied: false, vacated: false };

function memberOf(userId: string, entry: UserEntry): PresenceMember {
  return entry.state === undefined ? { userId, connections: entry.sessions.size } : { userId, state: entry.state, connections: entry.sessions.size };
}

/**
 * Presence in this process's memory: the default, and what several servers sharing one
 * `MemoryBroker` share to model many nodes in tests.
 *
 * @example
 * const presence = new MemoryPresence();
 * const herald = createHerald({ contract, handlers, presence });
 */
export class MemoryPresence implements PresenceStore {
  private readonly topics = new Map<string, Map<string, UserEntry>>();

  join(topic: string, userId: string, sessionId: string): Promise<PresenceChange> {
    let users = this.topics.get(topic);
    const occupied = users === undefined;
    if (users === undefined) this.topics.set(topic, (users = new Map()));
    let entry = users.get(userId);
    const joined = entry === undefined;
    if (entry === undefined) users.set(userId, (entry = { sessions: new Set(), state: undefined }));
    if (entry.sessions.has(sessionId)) return Promise.resolve(NOTHING);
    entry.sessions.add(sessionId);
    return Promise.resolve({ member: joined ? 'joined' : undefined, current: memberOf(userId, entry), occupied, vacated: false });
  }

  update(topic: string, userId: string, sessionId: string, state: unknown): Promise<PresenceChange> {
    const entry = this.topics.get(topic)?.get(userId);
    if (entry === undefined || !entry.sessions.has(sessionId)) return Promise.resolve(NOTHING);
    entry.state = state;
    return Promise.resolve({ member: 'updated', current: memberOf(userId, entry), occupied: false, vacated: false });
  }

  leave(topic: string, userId: string, sessionId: string): Promise<PresenceChange> {
    const users = this.topics.get(topic);
    const entry = users?.get(userId);
    if (users === undefined || entry === undefined || !entry.sessions.delete(sessionId)) return Promise.resolve(NOTHING);
    if (entry.sessions.size > 0) return Promise.resolve({ member: undefined, current: memberOf(userId, entry), occupied: false, vacated: false });
    users.delete(userId);
    const vacated = users.size === 0;
    if (vacated) this.topics.delete(topic);
    return Promise.resolve({ member: 'left', occupied: false, vacated });
  }

  members(topic: string, after: string | undefined, limit: number): Promise<PresencePage> {
    const users = this.topics.get(topic);
    if (users === undefined) return Promise.resolve({ members: [], count: 0 });
    const ids = [...users.keys()].filter((id) => after === undefined || id > after).sort();
    const page = ids.slice(0, limit);
    const members = page.map((id) => memberOf(id, users.get(id) as UserEntry));
    const last = page.at(-1);
    return Promise.resolve(ids.length > limit && last !== undefined ? { members, count: users.size, next: last } : { members, count: users.size });
  }

  count(topic: string): Promise<number> {
    return Promise.resolve(this.topics.get(topic)?.size ?? 0);
  }
}
