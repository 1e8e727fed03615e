/**
 * The server's half of presence: joins a session to the presence of the topics it subscribes
 * to (when their pattern has presence), leaves when it unsubscribes or ends (not when it only
 * lost its connection), publishes the diffs into the topic's stream, answers `herald.Presence`
 * and `herald.SetPresence`, and pushes counts of count-only topics from the sweep.
 */
import type { Broker } from './broker.ts';
import { encodeSystemNotification } from './codec.ts';
import { ErrorReason, Status, SystemType } from './constants.ts';
import { validate } from './contract.ts';
import type { ErrorBody } from './envelope.ts';
import type { PresenceChange, PresenceMember, PresenceMode, PresencePage, PresenceStore } from './presence.ts';
import type { Session } from './session.ts';
import type { TopicPatterns } from './topic-patterns.ts';

/** Members per `herald.Presence` page unless the client asks for fewer; the most it may ask for. */
export const PRESENCE_PAGE = 100;
export const MAX_PRESENCE_PAGE = 1000;

/** The body of `herald.PresenceDiff`: members that joined or changed state, and users that left. */
export interface PresenceDiffBody {
  readonly joins: readonly PresenceMember[];
  readonly leaves: readonly string[];
}

export interface PresenceHooks {
  readonly occupied?: (topic: string) => void;
  readonly vacated?: (topic: string) => void;
  /** A member joined, updated its state or left (for metrics). */
  readonly changed?: (change: 'joined' | 'updated' | 'left') => void;
  /** A store or broker call failed (for a session, or for the store's own changes). */
  readonly reportError: (error: unknown, session: Session | undefined) => void;
}

type Answer = readonly [number, unknown];

export class PresenceHub {
  /** Each topic's store calls from this node, in order: a join is never overtaken by its leave. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Local sessions on count-only topics, and the count each topic's sessions were last sent. */
  private readonly counted = new Map<string, Set<Session>>();
  private readonly sentCounts = new Map<string, number>();
  /**
   * The topics each session is a member of, kept while it is detached so that a resume does not
   * flap. Here rather than on the session: most sessions are members of none.
   */
  private readonly memberships = new Map<Session, Set<string>>();

  constructor(
    private readonly store: PresenceStore,
    private readonly patterns: TopicPatterns,
    private readonly broker: Broker,
    private readonly hooks: PresenceHooks,
  ) {
    store.attach?.((topic, userId, change) => {
      const mode = this.modeOf(topic);
      if (mode !== undefined) this.changed(topic, change, userId, mode).catch((error: unknown) => this.hooks.reportError(error, undefined));
    });
  }

  /** Memberships over all sessions (the `herald_presence_memberships` gauge). */
  get membershipCount(): number {
    let count = 0;
    for (const topics of this.memberships.values()) count += topics.size;
    return count;
  }

  modeOf(topic: string): PresenceMode | undefined {
    const presence = this.patterns.match(topic)?.pattern.definition.presence;
    if (presence === undefined || presence === false) return undefined;
    return presence === 'count' ? 'count' : 'members';
  }

  private inOrder<T>(topic: string, work: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(topic) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    this.queues.set(topic, settled);
    void settled.then(() => {
      if (this.queues.get(topic) === settled) this.queues.delete(topic);
    });
    return next;
  }

  private changed(topic: string, change: PresenceChange, userId: string, mode: PresenceMode): Promise<unknown> {
    if (change.occupied) this.hooks.occupied?.(topic);
    if (change.vacated) this.hooks.vacated?.(topic);
    if (change.member !== undefined) this.hooks.changed?.(change.member);
    if (mode === 'count' || change.member === undefined) return Promise.resolve();
    const body: PresenceDiffBody =
      change.member === 'left' ? { joins: [], leaves: [userId] } : { joins: change.current === undefined ? [] : [change.current], leaves: [] };
    return this.broker.publish(topic, SystemType.PresenceDiff, JSON.stringify(body));
  }

  /** The session subscribed to `topic` (again, maybe after a resume): it is a member from now on. */
  joined(session: Session, topic: string): void {
    const mode = this.modeOf(topic);
    const userId = session.userId;
    if (mode === undefined || userId === undefined) return;
    let topics = this.memberships.get(session);
    if (topics === undefined) this.memberships.set(session, (topics = new Set()));
    topics.add(topic);
    if (mode === 'count') {
      let sessions = this.counted.get(topic);
      if (sessions === undefined) this.counted.set(topic, (sessions = new Set()));
      sessions.add(session);
      // A newcomer learns the count at the next sweep.
      this.sentCounts.delete(topic);
    }
    this.inOrder(topic, async () => this.changed(topic, await this.store.join(topic, userId, session.id), userId, mode)).catch((error: unknown) =>
      this.hooks.reportError(error, session),
    );
  }

  /** The session left `topic` (unsubscribed, or ended). */
  left(session: Session, topic: string): void {
    const userId = session.userId;
    const topics = this.memberships.get(session);
    if (topics?.delete(topic) !== true) return;
    if (topics.size === 0) this.memberships.delete(session);
    if (userId === undefined) return;
    const mode = this.modeOf(topic) ?? 'members';
    this.uncount(session, topic);
    this.inOrder(topic, async () => this.changed(topic, await this.store.leave(topic, userId, session.id), userId, mode)).catch((error: unknown) =>
      this.hooks.reportError(error, session),
    );
  }

  private uncount(session: Session, topic: string): void {
    const sessions = this.counted.get(topic);
    if (sessions === undefined || !sessions.delete(session) || sessions.size > 0) return;
    this.counted.delete(topic);
    this.sentCounts.delete(topic);
  }

  /** The session ended: it leaves every topic it was a member of. */
  ended(session: Session): void {
    for (const topic of [...(this.memberships.get(session) ?? [])]) this.left(session, topic);
  }

  /** The session moved to another node (a shared store keeps its membership there): stop counting it here. */
  handedOver(session: Session): void {
    const topics = this.memberships.get(session);
    if (topics === undefined) return;
    for (const topic of topics) this.uncount(session, topic);
    this.memberships.delete(session);
  }

  /** After a resume: the topics the client no longer listed are left. */
  settle(session: Session): void {
    for (const topic of [...(this.memberships.get(session) ?? [])]) if (!session.hasTopic(topic)) this.left(session, topic);
  }

  private refusal(session: Session, topic: string): Answer | undefined {
    const forbidden = (message: string): Answer => [Status.Forbidden, { error: ErrorReason.Forbidden, message } satisfies ErrorBody];
    if (this.modeOf(topic) === undefined) return forbidden(`${topic} has no presence`);
    if (!session.hasTopic(topic)) return forbidden(`subscribe to ${topic} first`);
    return undefined;
  }

  /** `herald.Presence`: a page of members (count-only topics: the count alone). */
  async list(session: Session, topic: string, after: string | undefined, limit: number | undefined): Promise<Answer> {
    const refused = this.refusal(session, topic);
    if (refused !== undefined) return refused;
    if (this.modeOf(topic) === 'count') return [Status.OK, { topic, count: await this.store.count(topic) }];
    // The page reflects every diff up to the offset read before it (later ones may repeat what it shows).
    const { offset, epoch } = await this.broker.position(topic);
    return [Status.OK, { topic, epoch, offset, ...(await this.page(topic, after, limit)) }];
  }

  /** A page of members, for the server's own use (`herald.members`); count-only topics: the count alone. */
  async page(topic: string, after: string | undefined, limit: number | undefined): Promise<PresencePage> {
    if (this.modeOf(topic) === 'count') return { members: [], count: await this.store.count(topic) };
    return this.store.members(topic, after, Math.min(limit ?? PRESENCE_PAGE, MAX_PRESENCE_PAGE));
  }

  /** `herald.SetPresence`: the user's state on a topic, checked against the pattern's schema. */
  async set(session: Session, topic: string, state: unknown): Promise<Answer> {
    const refused = this.refusal(session, topic);
    if (refused !== undefined) return refused;
    const presence = this.patterns.match(topic)?.pattern.definition.presence;
    if (presence === 'count') return [Status.Forbidden, { error: ErrorReason.Forbidden, message: `${topic} counts members only: it keeps no state` }];
    const schema = typeof presence === 'object' ? presence.state : undefined;
    let value = state;
    if (schema !== undefined) {
      const validation = await validate(schema, state);
      if (!validation.ok) {
        const issues = validation.issues.slice(0, 10).map((issue) => ({ path: ['body', 'state', ...issue.path], message: issue.message }));
        return [Status.BadRequest, { error: ErrorReason.ValidationFailed, message: `state does not match the presence state of ${topic}`, issues }];
      }
      value = validation.value;
    }
    const userId = session.userId as string;
    await this.inOrder(topic, async () => this.changed(topic, await this.store.update(topic, userId, session.id, value), userId, 'members'));
    return [Status.OK, { topic }];
  }

  /** From the sweep: each count-only topic with sessions here gets its count when it changed. */
  sweep(): void {
    for (const [topic, sessions] of this.counted) {
      void this.store.count(topic).then(
        (count) => {
          if (this.sentCounts.get(topic) === count || this.counted.get(topic) !== sessions) return;
          this.sentCounts.set(topic, count);
          const frame = encodeSystemNotification(SystemType.PresenceCount, { topic, count });
          for (const session of sessions) session.sendFrame(frame);
        },
        (error: unknown) => {
          const first = sessions.values().next().value;
          if (first !== undefined) this.hooks.reportError(error, first);
        },
      );
    }
  }
}
