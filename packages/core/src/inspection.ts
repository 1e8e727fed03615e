/**
 * What an operator's inspector (`@herald/inspector`) reads of a running server, and the two
 * things it may do to it. Nothing here runs until `herald.inspection()` is first called: the
 * server's hooks are `inspection?.…` calls, and a session's frame tap is an unset field, so a
 * server nobody inspects pays one check per hook site and allocates nothing.
 */
import { CloseCode } from './constants.ts';
import { type Session, SessionState } from './session.ts';
import type { ClientClass } from './upgrade.ts';

/** How many refusals, errors and closes the inspection remembers, newest first. */
export const INSPECTION_HISTORY = 50;

/** How a connection of a session ended: the code, and the reason when the server closed it. */
export interface InspectedClose {
  readonly at: number;
  readonly code: number | undefined;
  readonly reason?: string;
}

/** One session as the inspector shows it; no token and no message body. */
export interface InspectedSession {
  readonly id: string;
  /** Undefined until the session is authenticated. */
  readonly userId: string | undefined;
  readonly state: 'authenticating' | 'open' | 'detached';
  /** `websocket`, `long-poll`, …; undefined while detached. */
  readonly transport: string | undefined;
  readonly client: ClientClass | undefined;
  readonly openedAt: number;
  readonly topics: readonly string[];
  /** Private notifications held for the client's ack (sent or not yet sent). */
  readonly unacked: number;
  /** Bytes waiting in the transport's send buffer. */
  readonly bufferedBytes: number;
  /** Answers kept for retries. */
  readonly retryAnswers: number;
  readonly lastClose: InspectedClose | undefined;
}

/** One topic with subscribers on this node. */
export interface InspectedTopic {
  readonly topic: string;
  readonly subscribers: number;
  readonly epoch: string;
  /** The last offset this node delivered or read. */
  readonly offset: number;
  /** Messages delivered on this node since the topic got its first subscriber here. */
  readonly messages: number;
}

/** An upgrade or long-poll open the server refused, or a subscription it refused a session. */
export interface InspectedRefusal {
  readonly at: number;
  /** `upgrade`, or `subscribe <topic>`. */
  readonly what: string;
  readonly status: number;
  readonly reason: string;
  /** The client's address, for an upgrade. */
  readonly address: string | undefined;
  /** The session and its user, for a subscription. */
  readonly sessionId?: string;
  readonly userId?: string | undefined;
}

/** A failure: a handler that threw (a 500), or a store, broker or hook that failed. */
export interface InspectedError {
  readonly at: number;
  readonly event: string;
  readonly sessionId: string | undefined;
  readonly type: string | undefined;
  readonly message: string;
}

/** Answers per request type and status code, since the inspection started. */
export type InspectedRequests = Readonly<Record<string, Readonly<Record<string, number>>>>;

/** A server's state at one moment, as `Inspection.snapshot` gives it. */
export interface InspectionSnapshot {
  readonly at: number;
  /** Since when requests and refusals are counted. */
  readonly since: number;
  readonly draining: boolean;
  /** Sessions held, of which `sessions` lists the first `maxSessions`. */
  readonly sessionCount: number;
  readonly sessions: readonly InspectedSession[];
  readonly topics: readonly InspectedTopic[];
  readonly requests: InspectedRequests;
  readonly refusals: readonly InspectedRefusal[];
  readonly errors: readonly InspectedError[];
  /** Connections that ended, newest first, with the session they carried. */
  readonly closes: readonly (InspectedClose & { readonly sessionId: string; readonly userId: string | undefined })[];
}

/** A frame a session sent (`out`) or received (`in`), as text. */
export interface TappedFrame {
  readonly at: number;
  readonly direction: 'in' | 'out';
  readonly frame: string;
}

/**
 * Carries the inspection between the nodes of a cluster (`RedisInspectionRelay` from
 * `@herald/redis`): every node reports its snapshot, and asks another node to act on a
 * session it holds. Reports and requests are JSON values; their meaning is the inspector's.
 */
export interface InspectionRelay {
  /** This node's name, as the other nodes see it. */
  readonly nodeId: string;
  /**
   * Starts reporting `node.report()` every few seconds and answering the requests of other
   * nodes with `node.answer`.
   */
  start(node: { report(): unknown; answer(request: unknown): unknown }): void;
  /** The latest report of every other node that reported recently, by node id. */
  reports(): Promise<ReadonlyMap<string, unknown>>;
  /** Asks another node; rejects when it does not answer in time. */
  ask(nodeId: string, request: unknown): Promise<unknown>;
  /** Stops reporting and answering. */
  close(): Promise<void>;
}

/** What the inspection needs from the server that owns it. */
export interface InspectionHost {
  readonly now: () => number;
  readonly draining: () => boolean;
  readonly sessions: () => Iterable<Session>;
  readonly session: (sessionId: string) => Session | undefined;
  readonly topics: () => readonly InspectedTopic[];
  readonly unsubscribe: (session: Session, topic: string, reason: string) => void;
  readonly destroy: (session: Session) => void;
  /** Sessions tapped now went from none to some (+1) or back (-1): topic frames a transport publishes natively are then copied to their taps. */
  readonly tapping: (delta: 1 | -1) => void;
}

const STATES = ['authenticating', 'open', 'detached'] as const;

function remember<T>(list: T[], item: T): void {
  list.unshift(item);
  if (list.length > INSPECTION_HISTORY) list.pop();
}

/**
 * The server's inspection, from `herald.inspection()`: snapshots, frame taps and operator
 * actions. Read-only but for `disconnect` and `unsubscribe`, which the inspector offers only
 * when configured to.
 *
 * @example
 * const inspection = herald.inspection();
 * const { sessions } = inspection.snapshot();
 * const untap = inspection.tap(sessions[0].id, (frame) => console.log(frame.direction, frame.frame));
 * inspection.disconnect(sessions[0].id);
 */
export class Inspection {
  private readonly since: number;
  private readonly requests = new Map<string, Map<number, number>>();
  private readonly refusals: InspectedRefusal[] = [];
  private readonly errors: InspectedError[] = [];
  private readonly closes: (InspectedClose & { sessionId: string; userId: string | undefined })[] = [];
  private readonly lastCloses = new WeakMap<Session, InspectedClose>();
  private readonly taps = new Map<Session, Set<(frame: TappedFrame) => void>>();

  /** @internal Made by `herald.inspection()`. */
  constructor(private readonly host: InspectionHost) {
    this.since = host.now();
  }

  /** Everything the inspector shows of this node now, with at most `maxSessions` sessions (default all). */
  snapshot(options: { readonly maxSessions?: number } = {}): InspectionSnapshot {
    const maxSessions = options.maxSessions ?? Number.POSITIVE_INFINITY;
    const sessions: InspectedSession[] = [];
    let sessionCount = 0;
    for (const session of this.host.sessions()) {
      if (session.state === SessionState.Closed) continue;
      if (++sessionCount > maxSessions) continue;
      const connection = session.connection;
      sessions.push({
        id: session.id,
        userId: session.userId,
        state: STATES[session.state] as InspectedSession['state'],
        transport: connection === null ? undefined : (connection.socket.transport ?? 'websocket'),
        client: connection?.client,
        openedAt: session.openedAt,
        topics: session.topics(),
        unacked: session.replay?.size ?? 0,
        bufferedBytes: connection?.socket.bufferedAmount ?? 0,
        retryAnswers: (session.dedup?.answers ?? 0) + (connection?.sendLog?.size ?? 0),
        lastClose: this.lastCloses.get(session),
      });
    }
    const requests: Record<string, Record<string, number>> = {};
    for (const [type, codes] of this.requests) requests[type] = Object.fromEntries(codes);
    return {
      at: this.host.now(),
      since: this.since,
      draining: this.host.draining(),
      sessionCount,
      sessions,
      topics: this.host.topics(),
      requests,
      refusals: [...this.refusals],
      errors: [...this.errors],
      closes: [...this.closes],
    };
  }

  /**
   * Calls `listener` with every frame the session sends and receives from now on, until the
   * returned function is called or the session ends; topic frames a transport publishes
   * natively (uWS) included. Returns undefined for a session this node does not hold.
   */
  tap(sessionId: string, listener: (frame: TappedFrame) => void): (() => void) | undefined {
    const session = this.host.session(sessionId);
    if (session === undefined) return undefined;
    let listeners = this.taps.get(session);
    if (listeners === undefined) {
      listeners = new Set();
      this.taps.set(session, listeners);
      this.host.tapping(1);
      session.tapped = true;
    }
    listeners.add(listener);
    return () => {
      const set = this.taps.get(session);
      if (set === undefined || !set.delete(listener) || set.size > 0) return;
      this.untap(session);
    };
  }

  /** @internal A frame of a tapped session (`Session.tap`), to its listeners. */
  tapFrame(session: Session, direction: 'in' | 'out', frame: string): void {
    const listeners = this.taps.get(session);
    if (listeners === undefined) return;
    const tapped: TappedFrame = { at: this.host.now(), direction, frame };
    for (const each of listeners) each(tapped);
  }

  /** Whether this node holds the session now. */
  holds(sessionId: string): boolean {
    const session = this.host.session(sessionId);
    return session !== undefined && session.state !== SessionState.Closed;
  }

  private untap(session: Session): void {
    if (!this.taps.delete(session)) return;
    session.tapped = false;
    this.host.tapping(-1);
  }

  /**
   * Ends a session: its client is told with `herald.Goodbye` and close code 4410, which it must
   * not resume. False when this node does not hold the session.
   */
  disconnect(sessionId: string, reason = 'disconnected by an operator'): boolean {
    const session = this.host.session(sessionId);
    if (session === undefined) return false;
    if (session.connection !== null) session.close(CloseCode.Disconnected, reason);
    this.host.destroy(session);
    return true;
  }

  /** Ends one subscription of a session; its client is told with `herald.Unsubscribed`. False when there was none here. */
  unsubscribe(sessionId: string, topic: string, reason = 'unsubscribed by an operator'): boolean {
    const session = this.host.session(sessionId);
    if (session?.hasTopic(topic) !== true) return false;
    this.host.unsubscribe(session, topic, reason);
    return true;
  }

  /** @internal An application request was answered with `status`. */
  answered(type: string, status: number): void {
    let codes = this.requests.get(type);
    if (codes === undefined) this.requests.set(type, (codes = new Map()));
    codes.set(status, (codes.get(status) ?? 0) + 1);
  }

  /** @internal The server refused an upgrade or a long-poll open. */
  refused(status: number, reason: string, address: string | undefined): void {
    remember(this.refusals, { at: this.host.now(), what: 'upgrade', status, reason, address });
  }

  /** @internal The server refused a session's `herald.Subscribe` (or a topic of its resume). */
  refusedSubscription(session: Session, topic: string, status: number, reason: string): void {
    remember(this.refusals, { at: this.host.now(), what: `subscribe ${topic}`, status, reason, address: undefined, sessionId: session.id, userId: session.userId });
  }

  /** @internal A handler, store, broker or hook failed. */
  failed(event: string, error: unknown, sessionId: string | undefined, type: string | undefined): void {
    const message = error instanceof Error ? error.message : String(error);
    remember(this.errors, { at: this.host.now(), event, sessionId, type, message });
  }

  /** @internal A connection of `session` ended: closed by the server with `reason`, or by the transport. */
  closed(session: Session, code: number | undefined, reason: string | undefined): void {
    const close: InspectedClose = reason === undefined ? { at: this.host.now(), code } : { at: this.host.now(), code, reason };
    this.lastCloses.set(session, close);
    remember(this.closes, { ...close, sessionId: session.id, userId: session.userId });
  }

  /** @internal The session ended: its taps go with it. */
  ended(session: Session): void {
    this.untap(session);
  }
}
