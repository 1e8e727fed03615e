/**
 * Private notifications of sessions kept in a `SessionStore`: the store numbers each one and
 * sends it to the node that owns the session, over a channel that may drop, delay or reorder
 * what it carries. This module turns that into the session's contiguous `seq` stream: it
 * queues notifications in order, once each; reads a gap from the store; takes over the
 * mailbox when a session is resumed here; and compares the store's head with what arrived, so
 * that a notification the live path dropped still reaches the session (PROTOCOL.md, "Never a
 * silent gap").
 */
import { encodePrivateNotification } from './codec.ts';
import { RecoveryReason } from './constants.ts';
import { ReplayBuffer } from './replay-buffer.ts';
import { type Session, SessionState } from './session.ts';
import type { SessionStore, StoredNotification } from './session-store.ts';

/** What the delivery needs of the server that owns the sessions. */
export interface StoredDeliveryHost {
  /** The session of that id on this node, if any. */
  session(sessionId: string): Session | undefined;
  /** Gives a session the id of the one it resumes, on this node and in the store. */
  rename(session: Session, sessionId: string): void;
  /** The store no longer has what it held for a session: its client must be told. */
  lose(session: Session): void;
  reportError(error: unknown, session: Session): void;
}

export class StoredDelivery {
  /** Resumes claiming a session from the store: notifications for it that arrive meanwhile wait here. */
  private readonly claiming = new Map<string, StoredNotification[]>();
  /** Stored notifications that reached this node ahead of an earlier `seq`, per session. */
  private readonly early = new Map<Session, Map<number, StoredNotification>>();
  /** Ids of sessions whose missing notifications are being read from the store. */
  private readonly filling = new Set<string>();

  constructor(
    private readonly store: SessionStore,
    private readonly host: StoredDeliveryHost,
  ) {}

  /** Stores a notification for a session; it comes back numbered and is queued from there. */
  notify(session: Session, type: string, bodyJson: string | undefined): void {
    const sessionId = session.id;
    this.store.notify(sessionId, type, bodyJson).then(
      (seq) => {
        if (seq !== undefined) this.receive(session, sessionId, { seq, type, body: bodyJson });
        else if (this.host.session(sessionId) === session) this.host.lose(session);
      },
      (error: unknown) => this.host.reportError(error, session),
    );
  }

  /** The store delivered a notification for a session this node owns. */
  heard(sessionId: string, notification: StoredNotification): void {
    const waiting = this.claiming.get(sessionId);
    if (waiting !== undefined) waiting.push(notification);
    else {
      const session = this.host.session(sessionId);
      if (session !== undefined) this.receive(session, sessionId, notification);
    }
  }

  /**
   * The store's last `seq` of a session this node owns. Anything the live path dropped shows
   * here as a head above what arrived, and is read from the mailbox.
   */
  head(sessionId: string, seq: number): void {
    if (this.claiming.has(sessionId)) return;
    const session = this.host.session(sessionId);
    if (session !== undefined && session.state !== SessionState.Closed && seq > session.seq) this.fill(session);
  }

  /**
   * Resumes here a session another node held: `session` takes its id, its `seq` and the mailbox
   * after the client's `seq`. True when nothing after that `seq` is missing.
   */
  async claim(session: Session, sessionId: string, seq: number): Promise<true | RecoveryReason> {
    const connection = session.connection;
    const early: StoredNotification[] = [];
    this.claiming.set(sessionId, early);
    let claimed;
    try {
      claimed = await this.store.claim(sessionId, session.userId as string, seq);
    } finally {
      // Another claim of the same session on this node (a reconnect during a slow claim) has its own.
      if (this.claiming.get(sessionId) === early) this.claiming.delete(sessionId);
    }
    if (claimed === undefined) return RecoveryReason.UnknownSession;
    if (session.connection !== connection || session.state === SessionState.Closed) {
      if (!this.claiming.has(sessionId) && this.host.session(sessionId) === undefined) this.store.forget(sessionId);
      // Nobody hears this answer: the connection it was for is gone.
      return RecoveryReason.UnknownSession;
    }
    this.host.rename(session, sessionId);
    const replay = (session.replay = new ReplayBuffer());
    for (const n of claimed.notifications) replay.push(n.seq, encodePrivateNotification(n.type, n.seq, n.body));
    session.seq = claimed.seq;
    session.resumeAt(seq);
    this.early.delete(session);
    for (const notification of early) this.receive(session, sessionId, notification);
    if (seq > claimed.seq) return RecoveryReason.UnknownSession;
    return seq === claimed.seq || claimed.notifications[0]?.seq === seq + 1 ? true : RecoveryReason.TooFarBehind;
  }

  /**
   * Claims a session resumed here from this node's memory: should another node have claimed it
   * meanwhile unheard (a dropped channel), that node lets go, and what it stored since arrives.
   */
  async reclaim(session: Session): Promise<void> {
    const claimed = await this.store.claim(session.id, session.userId as string, session.seq);
    for (const notification of claimed?.notifications ?? []) this.receive(session, session.id, notification);
  }

  /** The session ended here. */
  forget(session: Session): void {
    this.early.delete(session);
  }

  /**
   * Queues a numbered notification in `seq` order however it arrived (this node's own write,
   * the store on behalf of another node, a gap read), once each. One that arrives ahead of a
   * missing `seq` waits while the gap is read from the store. It counts only if it was stored
   * under the id the session has now: a session that resumed another took that one's stream,
   * and what was on its way for its own fresh id is not part of it.
   */
  private receive(session: Session, sessionId: string, notification: StoredNotification): void {
    if (session.state === SessionState.Closed || session.id !== sessionId || notification.seq <= session.seq) return;
    let early = this.early.get(session);
    if (notification.seq > session.seq + 1) {
      if (early === undefined) this.early.set(session, (early = new Map()));
      early.set(notification.seq, notification);
      this.fill(session);
      return;
    }
    let next: StoredNotification | undefined = notification;
    while (next !== undefined) {
      session.seq = next.seq;
      session.queuePrivate(next.seq, encodePrivateNotification(next.type, next.seq, next.body));
      next = early?.get(session.seq + 1);
      if (next !== undefined) early?.delete(next.seq);
    }
    if (early?.size === 0) this.early.delete(session);
  }

  /** Reads what the session misses from the mailbox. A gap the mailbox no longer holds ends the connection, so the resume says so. */
  private fill(session: Session): void {
    const { id, seq: after } = session;
    if (this.filling.has(id)) return;
    this.filling.add(id);
    this.store.read(id, after).then(
      (notifications) => {
        this.filling.delete(id);
        if (session.id !== id) return;
        const first = notifications[0];
        if (first !== undefined && first.seq > after + 1 && session.seq === after) {
          this.host.lose(session);
          return;
        }
        for (const notification of notifications) this.receive(session, id, notification);
      },
      (error: unknown) => {
        this.filling.delete(id);
        this.host.reportError(error, session);
      },
    );
  }
}
