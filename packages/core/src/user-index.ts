/**
 * The sessions of each user on this node, and send-to-user without a session store: with a
 * broker of the application's, a user's notifications travel on a broker direct channel of that
 * user, which this node listens on while it holds a session of the user; with the embedded
 * broker there is no other node to reach, and they go straight to the user's sessions here.
 * (With a store, the store appends to each session's mailbox and the index only tracks who is
 * here.)
 */
import type { Broker } from './broker.ts';
import type { Session } from './session.ts';

export class UserIndex {
  /** A user's one session (the usual case), or the set of them. */
  private readonly users = new Map<string, Session | Set<Session>>();

  constructor(
    /**
     * The broker whose direct channels carry send-to-user. Undefined when none is needed: a
     * session store carries it, or the broker is the embedded one (a channel per user would
     * cost every session a listener entry and a channel name, to reach this node only).
     */
    private readonly channels: Broker | undefined,
    private readonly reportError: (error: unknown, session: Session) => void,
  ) {}

  add(session: Session): void {
    const userId = session.userId as string;
    const sessions = this.users.get(userId);
    if (sessions === undefined) {
      this.users.set(userId, session);
      this.channels?.listenDirect(userChannel(userId), this.deliver).catch((error: unknown) => this.reportError(error, session));
    } else if (sessions instanceof Set) sessions.add(session);
    else if (sessions !== session) this.users.set(userId, new Set([sessions, session]));
  }

  remove(session: Session): void {
    const userId = session.userId;
    if (userId === undefined) return;
    const sessions = this.users.get(userId);
    if (sessions instanceof Set) {
      if (!sessions.delete(session) || sessions.size > 0) return;
    } else if (sessions !== session) return;
    this.users.delete(userId);
    this.channels?.unlistenDirect(userChannel(userId), this.deliver).catch((error: unknown) => this.reportError(error, session));
  }

  /** The user's sessions on this node, live and detached. */
  sessionsOf(userId: string): Session[] {
    const sessions = this.users.get(userId);
    if (sessions === undefined) return [];
    return sessions instanceof Set ? [...sessions] : [sessions];
  }

  /** A private notification to every session of a user, on every node listening on its channel (or here). */
  sendToUser(userId: string, type: string, bodyJson: string | undefined): Promise<void> {
    if (this.channels === undefined) {
      this.notify(userId, type, bodyJson);
      return Promise.resolve();
    }
    return this.channels.sendDirect(userChannel(userId), encodeUserPayload(userId, type, bodyJson));
  }

  /** One listener for every user channel; the payload names the user (`encodeUserPayload`). */
  private readonly deliver = (payload: string): void => {
    const { userId, type, body } = decodeUserPayload(payload);
    this.notify(userId, type, body);
  };

  private notify(userId: string, type: string, bodyJson: string | undefined): void {
    const sessions = this.users.get(userId);
    if (sessions instanceof Set) for (const session of sessions) session.notifyEncoded(type, bodyJson);
    else sessions?.notifyEncoded(type, bodyJson);
  }
}

/**
 * A send-to-user message on a direct channel: `<length of userId>:<userId><type> <body>`.
 * User ids are any string, so the id is length-prefixed; types never contain a space.
 */
function encodeUserPayload(userId: string, type: string, body: string | undefined): string {
  return `${userId.length}:${userId}${type} ${body ?? ''}`;
}

function decodeUserPayload(payload: string): { userId: string; type: string; body: string | undefined } {
  const colon = payload.indexOf(':');
  const start = colon + 1;
  const end = start + Number(payload.slice(0, colon));
  const space = payload.indexOf(' ', end);
  return {
    userId: payload.slice(start, end),
    type: payload.slice(end, space),
    body: space + 1 < payload.length ? payload.slice(space + 1) : undefined,
  };
}

function userChannel(userId: string): string {
  return 'user:' + userId;
}
