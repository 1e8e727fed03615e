/**
 * `client.presence(topic)`: the members of a topic with presence, kept current. It loads the
 * member list with `herald.Presence` (page by page), then applies each `herald.PresenceDiff`
 * of the topic's stream after the offset the list was read at; whenever the stream could not be
 * recovered, it loads the list again. Count-only topics keep `count` alone.
 */
import { SystemType, type PresenceDiffBody, type PresenceMember } from '@herald/core';

export type PresenceEvent = 'join' | 'update' | 'leave' | 'sync' | 'count';

/** What a presence listener is told: the member concerned (absent for `sync` and `count`). */
export type PresenceListener = (member: PresenceMember | undefined, presence: TopicPresence) => void;

interface PresencePageBody {
  readonly offset?: number;
  readonly count: number;
  readonly members?: readonly PresenceMember[];
  readonly next?: string;
}

/** @internal How the presence view reaches the server: through the client's request queue. */
export type PresenceAsk = (type: string, body: unknown) => Promise<unknown>;

/**
 * The members of one topic with presence.
 *
 * @example
 * const room = client.presence('room/lobby');
 * room.on('join', (member) => console.log(member?.userId, 'is here'));
 * await room.ready;
 * console.log([...room.members.keys()]);
 * await room.set({ status: 'away' });
 */
export class TopicPresence<State = unknown> {
  /** Members by user id (empty on count-only topics). */
  readonly members: Map<string, PresenceMember & { readonly state?: State }> = new Map();
  /** How many members the topic has. */
  count = 0;
  /** Resolves once the member list (or count) was first loaded. */
  readonly ready: Promise<void>;
  private readonly listeners = new Map<PresenceEvent, Set<PresenceListener>>();
  /** Diffs that arrived while the list loads, with their offsets. */
  private buffered: Array<readonly [number, PresenceDiffBody]> | null = [];
  private loads = 0;
  private ownState: { readonly value: State } | undefined;
  private closed = false;
  private readyResolve!: () => void;

  /** @internal */
  constructor(
    readonly topic: string,
    private readonly ask: PresenceAsk,
    private readonly onClose: () => void,
    private readonly onError: (error: unknown) => void,
  ) {
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  /** Calls `listener` on each join, state change or leave, after each full (re)load (`sync`), and on each new count. */
  on(event: PresenceEvent, listener: PresenceListener): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => void set.delete(listener);
  }

  /** Sets this user's state on the topic (checked by the server against the pattern's schema); kept across reconnects. */
  async set(state: State): Promise<void> {
    this.ownState = { value: state };
    await this.ask(SystemType.SetPresence, { topic: this.topic, state });
  }

  /** Stops tracking the topic's presence and ends the subscription it made. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private emit(event: PresenceEvent, member: PresenceMember | undefined): void {
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        listener(member, this);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  /** @internal (Re)loads the member list; diffs meanwhile wait and are applied after it. */
  async load(): Promise<void> {
    if (this.closed) return;
    const load = ++this.loads;
    this.buffered ??= [];
    try {
      const members = new Map<string, PresenceMember>();
      let after: string | undefined;
      let baseline: number | undefined;
      let count = 0;
      do {
        const page = (await this.ask(SystemType.Presence, after === undefined ? { topic: this.topic } : { topic: this.topic, after })) as PresencePageBody;
        baseline ??= page.offset;
        count = page.count;
        for (const member of page.members ?? []) members.set(member.userId, member);
        after = page.next;
      } while (after !== undefined && load === this.loads);
      if (load !== this.loads || this.closed) return;
      this.members.clear();
      for (const [userId, member] of members) this.members.set(userId, member as PresenceMember & { state?: State });
      this.count = count;
      const buffered = this.buffered ?? [];
      this.buffered = null;
      for (const [offset, diff] of buffered) if (baseline === undefined || offset > baseline) this.apply(diff);
      if (baseline !== undefined) this.count = this.members.size;
      this.emit('sync', undefined);
      this.readyResolve();
    } catch (error) {
      if (load === this.loads) this.buffered = null;
      this.onError(error);
    }
  }

  /** @internal A `herald.PresenceDiff` of the topic's stream, at `offset`. */
  diff(offset: number, body: PresenceDiffBody): void {
    if (this.buffered !== null) this.buffered.push([offset, body]);
    else this.apply(body);
  }

  private apply(diff: PresenceDiffBody): void {
    for (const member of diff.joins) {
      const known = this.members.get(member.userId);
      this.members.set(member.userId, member as PresenceMember & { state?: State });
      if (known === undefined) this.emit('join', member);
      else if (JSON.stringify(known.state) !== JSON.stringify(member.state)) this.emit('update', member);
    }
    for (const userId of diff.leaves) {
      const known = this.members.get(userId);
      if (known === undefined) continue;
      this.members.delete(userId);
      this.emit('leave', known);
    }
    this.count = this.members.size;
  }

  /** @internal A `herald.PresenceCount` push. */
  counted(count: number): void {
    if (count === this.count) return;
    this.count = count;
    this.emit('count', undefined);
  }

  /** @internal The session was lost and a new one joined in its place: it sets its state again. */
  rejoined(): void {
    if (this.ownState !== undefined) void this.set(this.ownState.value).catch((error: unknown) => this.onError(error));
  }
}
