/**
 * What a client holds of its session, as the gateway sees it pass: the session id, the highest
 * private seq and each topic's position it was sent. The gateway resumes with these on the
 * client's behalf; every frame relayed to the client leg reaches it while that leg stays open.
 */
import { BROADCAST_TOPIC, SystemType } from '@herald/core';

interface TopicPosition {
  /** The topic's name as bytes, compared against frames without decoding them. */
  readonly name: Buffer;
  readonly topic: string;
  /** Unknown for a topic whose stream was announced without one: such a session cannot be resumed by the gateway. */
  epoch: string | undefined;
  offset: number;
  /** The delta format the backend granted on it (a resume asks for it again). */
  delta?: string | undefined;
}

const BROADCAST_NAME = Buffer.from(BROADCAST_TOPIC);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class SessionPosition {
  sessionId: string | undefined;
  authenticated = false;
  seq = 0;
  /** The last `herald.Authenticate` token the client sent (browsers authenticate in-session). */
  token: string | undefined;
  private topics: readonly TopicPosition[] = [];
  /** The seq of the client's own `herald.Resume`, until it is answered. */
  private resumeSeq = 0;

  /** The entry of the topic at `frame[start, end)`, or undefined. */
  private find(frame: Buffer, start: number, end: number): TopicPosition | undefined {
    for (const entry of this.topics) if (entry.name.length === end - start && entry.name.compare(frame, start, end) === 0) return entry;
    return undefined;
  }

  private set(topic: string, epoch: string | undefined, offset: number): void {
    const entry = this.topics.find((candidate) => candidate.topic === topic);
    // A new array of the exact size (a push or a spread reserves 17 slots), and `$all`'s name shared: every session has it.
    if (entry === undefined) this.topics = this.topics.concat({ name: topic === BROADCAST_TOPIC ? BROADCAST_NAME : Buffer.from(topic), topic, epoch, offset });
    else {
      entry.epoch = epoch;
      entry.offset = offset;
    }
  }

  private drop(topic: string): void {
    this.topics = this.topics.filter((entry) => entry.topic !== topic);
  }

  /** Records a topic notification's offset; false when the client already has it (a replayed duplicate). */
  topicSent(frame: Buffer, start: number, end: number, offset: number): boolean {
    const entry = this.find(frame, start, end);
    if (entry === undefined) {
      this.set(frame.toString('utf8', start, end), undefined, offset);
      return true;
    }
    if (offset <= entry.offset) return false;
    entry.offset = offset;
    return true;
  }

  /** Records a private notification's seq; false for one the client already has. */
  privateSent(seq: number): boolean {
    if (seq <= this.seq) return false;
    this.seq = seq;
    return true;
  }

  /** Reads a client's `herald.*` request, decoded: the token of an Authenticate, the seq a Resume starts from. */
  fromClient(message: Record<string, unknown> | undefined): void {
    const body = message?.['body'];
    if (!isRecord(body)) return;
    if (message?.['type'] === SystemType.Authenticate && typeof body['token'] === 'string') this.token = body['token'];
    if (message?.['type'] === SystemType.Resume && typeof body['seq'] === 'number') this.resumeSeq = body['seq'];
  }

  /** Reads a backend's `herald.*` frame, already parsed. */
  fromBackend(message: Record<string, unknown>): void {
    const body = message['body'];
    if (!isRecord(body)) return;
    const type = message['type'];
    if (message['kind'] === 'notification') {
      if (type === SystemType.Welcome) {
        if (typeof body['sessionId'] === 'string') this.sessionId = body['sessionId'];
        this.authenticated = body['authenticated'] === true;
      } else if (type === SystemType.Subscribed || type === SystemType.TopicReset) {
        this.position(body, type === SystemType.Subscribed);
      } else if (type === SystemType.Unsubscribed && typeof body['topic'] === 'string') {
        this.drop(body['topic']);
      }
      return;
    }
    if (message['code'] !== 200) return;
    if (type === SystemType.Authenticate) this.authenticated = true;
    else if (type === SystemType.Subscribe) this.position(body, true);
    else if (type === SystemType.Unsubscribe && typeof body['topic'] === 'string') this.drop(body['topic']);
    else if (type === SystemType.Resume) this.resumed(body);
  }

  /** `granting`: an answer that says which delta format the topic has (Subscribe, Resume, Subscribed), not a reset. */
  private position(body: Record<string, unknown>, granting = false): void {
    if (typeof body['topic'] === 'string' && typeof body['epoch'] === 'string' && typeof body['offset'] === 'number') {
      this.set(body['topic'], body['epoch'], body['offset']);
      if (granting) (this.topics.find((entry) => entry.topic === body['topic']) as TopicPosition).delta = typeof body['delta'] === 'string' ? body['delta'] : undefined;
    }
  }

  /** A resume answer (the client's own): the session id it now holds, and its topics' positions. */
  private resumed(body: Record<string, unknown>): void {
    // Adopted (another id than Welcome's): the client holds up to its own seq, and the replay after it.
    if (typeof body['sessionId'] === 'string' && body['sessionId'] !== this.sessionId) {
      this.seq = Math.max(this.seq, this.resumeSeq);
      this.sessionId = body['sessionId'];
    }
    this.resumeSeq = 0;
    const topics = body['topics'];
    if (!isRecord(topics)) return;
    for (const [topic, value] of Object.entries(topics)) if (isRecord(value)) this.position({ ...value, topic }, true);
  }

  /** The body of a `herald.Resume` from this position, or undefined when one cannot be made (no session id, a topic of unknown epoch). */
  resumeBody(): { sessionId: string; seq: number; topics: Record<string, { epoch: string; offset: number; delta?: string }> } | undefined {
    if (this.sessionId === undefined || !this.authenticated) return undefined;
    const topics: Record<string, { epoch: string; offset: number; delta?: string }> = {};
    for (const entry of this.topics) {
      if (entry.epoch === undefined) return undefined;
      topics[entry.topic] = entry.delta === undefined ? { epoch: entry.epoch, offset: entry.offset } : { epoch: entry.epoch, offset: entry.offset, delta: entry.delta };
    }
    return { sessionId: this.sessionId, seq: this.seq, topics };
  }

  /** True when the position lists `$all`. */
  get hasBroadcast(): boolean {
    return this.topics.some((entry) => entry.topic === BROADCAST_TOPIC);
  }
}
