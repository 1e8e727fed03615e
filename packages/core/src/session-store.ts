/**
 * Sessions shared by many nodes. Without a store a session lives in the memory of the node
 * that opened it and can only be resumed there; with one (`@herald/redis`'s
 * `RedisSessionStore`), its private stream, its answered requests and its ownership live in
 * the store, so a client resumes on whichever node its reconnect reaches.
 *
 * The model is a mailbox per session: a private notification is appended to the store first,
 * which assigns its `seq`, and reaches the owning node from there, so whatever a client was
 * sent survives the node that sent it.
 */
import type { DependencyHealth } from './health.ts';

/** A private notification as the store holds it. */
export interface StoredNotification {
  readonly seq: number;
  readonly type: string;
  /** The body as JSON text, or undefined. */
  readonly body: string | undefined;
}

/** A session claimed by this node (`SessionStore.claim`). */
export interface ClaimedSession {
  /** The last `seq` assigned. */
  readonly seq: number;
  /** What the mailbox still holds after the requested `seq`, oldest first (complete only if it starts right after it). */
  readonly notifications: readonly StoredNotification[];
}

/** What the store knows of a request id before it runs (`SessionStore.beginRequest`). */
export type RequestClaim =
  /** Never seen: it is now marked running on this node; run it, then `finishRequest`. */
  | { readonly state: 'new' }
  /** Answered before (on any node): send this frame again. */
  | { readonly state: 'done'; readonly frame: string }
  /** Used before for another request type. */
  | { readonly state: 'conflict'; readonly type: string }
  /** Running on a live node: its answer will be stored; ask again later. */
  | { readonly state: 'running' }
  /**
   * Whether it took effect is unknown: it was running on a node that died before answering, or
   * the store lost the session's records (Redis restarted empty), so it may have run before.
   */
  | { readonly state: 'lost' };

/** Events the store delivers to the node that owns a session. */
export interface SessionStoreListener {
  /** A private notification was stored for a session this node owns. */
  notification(sessionId: string, notification: StoredNotification): void;
  /**
   * The last `seq` the store assigned to a session this node owns, reported periodically (at
   * least every 5 s while the session lives here). A head above what reached the node means the
   * live path dropped something: the server reads it from the mailbox.
   */
  head?(sessionId: string, seq: number): void;
  /** Another node claimed a session this node held. */
  takenOver(sessionId: string): void;
  /** The store no longer holds a session this node owns (Redis lost its data): its client must be told. */
  lost(sessionId: string): void;
}

/**
 * Where a Herald server keeps the state of its sessions that other nodes need. Pass one to
 * `createHerald({ sessionStore })`; every node of a cluster uses the same backend.
 *
 * @example
 * const sessionStore = new RedisSessionStore({ redis: 'redis://10.0.0.5:6379' });
 * const herald = createHerald({ contract, handlers, broker, sessionStore });
 */
export interface SessionStore {
  /** Starts delivering this node's events to `listener`, under the server's limits (called once, by the server). */
  attach(listener: SessionStoreListener, limits: SessionStoreLimits): void;
  /** Records a new authenticated session, owned by this node. */
  create(sessionId: string, userId: string): Promise<void>;
  /** Appends a private notification under the session's next `seq`; undefined if the session is gone. */
  notify(sessionId: string, type: string, body: string | undefined): Promise<number | undefined>;
  /**
   * Appends a private notification to every live session of a user, on whichever node owns it.
   * With an `idempotencyKey` already used for this user within the store's idempotency window,
   * it appends nothing: every store MUST honour the key, across all nodes.
   */
  notifyUser(userId: string, type: string, body: string | undefined, idempotencyKey?: string): Promise<void>;
  /** The mailbox after `seq` (to fill a gap in what reached this node). */
  read(sessionId: string, after: number): Promise<readonly StoredNotification[]>;
  /** The client confirmed everything up to `seq`: the mailbox may drop it. */
  ack(sessionId: string, seq: number): Promise<void>;
  /**
   * Makes this node the owner of a session of `userId` (the node that held it is told through
   * `takenOver`) and returns its mailbox after `after`; undefined when it is unknown, expired
   * or another user's.
   */
  claim(sessionId: string, userId: string, after: number): Promise<ClaimedSession | undefined>;
  /** The session ended for good (closed, or its resume window passed on its owner). */
  release(sessionId: string): Promise<void>;
  /** This node lets go of a session without ending it (shutdown, taken over): it stays resumable elsewhere. */
  forget(sessionId: string): void;
  /** Marks a request id as running on this node, unless it was seen before. */
  beginRequest(sessionId: string, requestId: string, type: string): Promise<RequestClaim>;
  /** Stores the answer of a request begun here, for retries that reach any node. */
  finishRequest(sessionId: string, requestId: string, frame: string): Promise<void>;
  /** The link to where sessions live, for `/readyz` (absent: always reachable). */
  health?(): DependencyHealth;
}

/** The limits a store applies to one session, from the server's `Limits`. */
export interface SessionStoreLimits {
  /** Private notifications kept for replay (`replayWindow`). */
  readonly replayWindow: number;
  /** How long a session outlives its owner (`resumeWindowMs`). */
  readonly resumeWindowMs: number;
}
