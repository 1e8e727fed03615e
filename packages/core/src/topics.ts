/**
 * Local topic subscriptions over a broker. One broker listener per topic per server; a
 * message is encoded once and the same frame goes to every live subscriber. A subscriber
 * that is catching up (history after `since`, or after falling behind a full send buffer)
 * is "pending": live messages queue for it until its catch-up is sent, so it sees every
 * offset once and in order.
 *
 * A conflated topic (latest only: each message is the topic's whole state) never makes a
 * subscriber catch up through what it missed: it gets the newest message, marked `conflated`,
 * and with a `maxRate` live delivery is capped too, the newest message at each slot.
 *
 * On a delta topic, live subscribers that asked for deltas and hold the last publication sent
 * (its body is their base) get the next one as one delta frame, built once; a subscriber that
 * does not hold it (just live, caught up, lagging) gets that publication in full first.
 */
import type { Broker, TopicMessage } from './broker.ts';
import type { Clock } from './clock.ts';
import { encodeDeltaNotification, encodeSystemNotification, encodeTopicNotification } from './codec.ts';
import { bytesToBase64, type DeltaCodec } from './delta-codec.ts';
import { RecoveryReason, SystemType } from './constants.ts';
import type { StreamPosition, SubscribedBody } from './envelope.ts';
import type { InspectedTopic } from './inspection.ts';
import type { ServerMetrics } from './server-metrics.ts';

/** Why history after `since` is incomplete: the stream was reset, or it no longer reaches back. */
export function lossOf(since: StreamPosition, now: StreamPosition): RecoveryReason {
  return since.epoch === now.epoch ? RecoveryReason.HistoryExpired : RecoveryReason.EpochChanged;
}

/** What the registry needs of a session. */
export interface TopicSubscriber {
  /** Sends a topic frame; returns false when the session's send buffer is full. */
  sendTopicFrame(frame: string): boolean;
  /** True while the subscriber is still connected and subscribed (checked after each await). */
  isSubscribedTo(topic: string): boolean;
  /** True while the send buffer is above the high-water mark. */
  readonly backpressured: boolean;
  /** Joins (or leaves) the transport's native fan-out; false when its socket has none. */
  nativeSubscribe(topic: string, join: boolean): boolean;
  /** Shows a frame sent to the subscriber to the inspector tapping it, if one is. */
  tap?(direction: 'out', frame: string): void;
}

/** The transport's own publish: one call sends a frame to every natively subscribed socket. */
export type NativePublish = (topic: string, frame: string) => void;

/**
 * The native topic that live delta subscribers holding the base join: they get the delta frame,
 * the others of the topic the full one. Topics have no spaces, so it is never a topic of its own.
 */
export function deltaTopic(topic: string): string {
  return 'delta ' + topic;
}

const utf8 = new TextEncoder();

/** How a conflated topic is delivered: `intervalMs` between live messages at most (0: no cap). */
export interface Conflation {
  readonly intervalMs: number;
}

class TopicState {
  /** Live subscribers sent to one by one. */
  readonly live = new Set<TopicSubscriber>();
  /** Live subscribers reached by the transport's native publish. */
  readonly native = new Set<TopicSubscriber>();
  /**
   * Live subscribers join the native topic from the topic's first fan-out on: a native
   * subscription costs memory in the transport (some 170 B per uWS socket), which a topic never
   * published to (`$all` on most servers) need not pay.
   */
  nativeJoined = false;
  readonly pending = new Map<TopicSubscriber, TopicMessage[]>();
  /** Subscribers that fell behind, with the last offset they were sent. */
  readonly lagging = new Map<TopicSubscriber, StreamPosition>();
  /**
   * Subscribers whose catch-up from history ran ahead of the live path (the broker's history
   * can answer before its live channel delivers the same messages), with the last offset they
   * were sent: they go live at the first live message after it, so none reaches them twice.
   */
  readonly ahead = new Map<TopicSubscriber, StreamPosition>();
  /** The subscribe in progress per subscriber: later ones wait for it, so they never interleave. */
  readonly inflight = new Map<TopicSubscriber, Promise<SubscribedBody>>();
  /** The newest position this node knows of: the last message delivered, or a later one a subscribe read (the baseline for gap checks). */
  epoch = '';
  offset = 0;
  /**
   * The last message that came through the live path. A history read may run ahead of it
   * (`offset` then is ahead too), so only this says what live subscribers were sent.
   */
  deliveredEpoch = '';
  delivered = 0;
  /** Messages delivered here, for the inspector's publish rate. */
  messages = 0;
  /** Conflated topics only: the newest message, and the last one live subscribers were sent. */
  latest: TopicMessage | undefined = undefined;
  lastSent: TopicMessage | undefined = undefined;
  /** With a rate cap: when live subscribers were last sent one, and the newest held back since. */
  sentAt = -Infinity;
  held: TopicMessage | undefined = undefined;
  timer: unknown = undefined;
  /** Delta topics only: the subscribers that asked for deltas. */
  readonly wantsDelta = new Set<TopicSubscriber>();
  /** Live delta subscribers that hold the last publication sent, reached one by one or natively (on `deltaTopic`). */
  readonly deltaLive = new Set<TopicSubscriber>();
  readonly deltaNative = new Set<TopicSubscriber>();
  /** Delta subscribers gone live since the last publication: the next one reaches them in full, then they hold it. */
  readonly unbased = new Set<TopicSubscriber>();
  /** The last publication sent to live subscribers, and its body's UTF-8 bytes: the base of the next delta. */
  base: TopicMessage | undefined = undefined;
  baseBytes: Uint8Array | undefined = undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    readonly listener: (message: TopicMessage) => void,
    broker: Broker,
    readonly conflation: Conflation | undefined,
    /** The delta format of a delta topic. */
    readonly delta: DeltaCodec | undefined,
  ) {
    this.ready = broker.subscribe(name, listener);
  }

  get empty(): boolean {
    return !this.anyLive && this.pending.size === 0 && this.lagging.size === 0 && this.ahead.size === 0;
  }

  get anyLive(): boolean {
    return this.live.size > 0 || this.native.size > 0 || this.deltaLive.size > 0 || this.deltaNative.size > 0;
  }
}

function frameOf(message: TopicMessage, conflated = false): string {
  return encodeTopicNotification(message.type, message.topic, message.offset, message.body, conflated);
}

/** Whether `message` skips offsets after `last` in the same epoch: its frame then says `conflated`. */
function skips(message: TopicMessage, last: StreamPosition | undefined): boolean {
  return last !== undefined && last.epoch === message.epoch && message.offset > last.offset + 1;
}

/** `herald.TopicReset` before a message that does not follow the last one: the stream lost history (a broker restart). */
function resetFrameOf(message: TopicMessage, reason: RecoveryReason): string {
  return encodeSystemNotification(SystemType.TopicReset, { topic: message.topic, epoch: message.epoch, offset: message.offset - 1, reason });
}

export class TopicRegistry {
  private readonly topics = new Map<string, TopicState>();
  /** Set by an adapter whose transport can publish natively (uWS `app.publish`). */
  nativePublish: NativePublish | undefined = undefined;
  /** Set by the server when it has a `meter`. */
  metrics: ServerMetrics | undefined = undefined;
  /** Sessions an inspector taps (`Inspection.tap`): natively published frames are copied to them. */
  tapped = 0;

  constructor(
    private readonly broker: Broker,
    private readonly clock: Clock,
    /** Whether a topic is conflated (latest only), and how. */
    private readonly conflationOf: (topic: string) => Conflation | undefined = () => undefined,
    /** The delta format of a topic whose pattern allows deltas. */
    private readonly deltaOf: (topic: string) => DeltaCodec | undefined = () => undefined,
  ) {}

  get size(): number {
    return this.topics.size;
  }

  /** Every topic with subscribers here, for `Inspection.snapshot`. */
  inspect(): InspectedTopic[] {
    const topics: InspectedTopic[] = [];
    for (const state of this.topics.values()) {
      const subscribers = state.live.size + state.native.size + state.deltaLive.size + state.deltaNative.size + state.pending.size + state.lagging.size;
      topics.push({ topic: state.name, subscribers, epoch: state.epoch, offset: state.offset, messages: state.messages });
    }
    return topics;
  }

  private state(topic: string): TopicState {
    let state = this.topics.get(topic);
    if (state === undefined) {
      state = new TopicState(topic, (message) => this.deliver(state as TopicState, message), this.broker, this.conflationOf(topic), this.deltaOf(topic));
      this.topics.set(topic, state);
    }
    return state;
  }

  private deliver(state: TopicState, message: TopicMessage): void {
    // A new epoch, or offsets skipped by the broker: subscribers are told instead of silently skipping.
    const lost = state.epoch !== '' && (state.epoch !== message.epoch || message.offset > state.offset + 1) ? lossOf(state, message) : undefined;
    const conflation = state.conflation;
    state.epoch = message.epoch;
    state.offset = message.offset;
    state.messages++;
    // A conflated topic's live subscribers may be sent it later, or never: `fanOut` says when.
    if (conflation === undefined) {
      state.deliveredEpoch = message.epoch;
      state.delivered = message.offset;
    } else state.latest = message;
    for (const queue of state.pending.values()) {
      // Latest only: a subscriber catching up needs the newest message, not a growing queue.
      if (conflation !== undefined) queue.length = 0;
      queue.push(message);
    }
    for (const [subscriber, sent] of state.ahead) {
      if (message.epoch === sent.epoch && message.offset <= sent.offset) continue;
      state.ahead.delete(subscriber);
      this.goLive(state, subscriber);
    }
    this.metrics?.publishes.add(1);
    if (!state.anyLive) {
      this.metrics?.fanout.record(0);
      return;
    }
    if (lost !== undefined) this.announceReset(state, message, lost);
    else if (conflation !== undefined && conflation.intervalMs > 0 && this.clock.now() - state.sentAt < conflation.intervalMs) {
      // Held for the next slot, where the newest one held goes out.
      state.held = message;
      state.timer ??= this.clock.setInterval(() => this.releaseHeld(state), conflation.intervalMs);
      return;
    }
    this.fanOut(state, message);
  }

  /** A rate-capped topic's slot: the newest message held since the last one goes out; an idle slot stops the timer. */
  private releaseHeld(state: TopicState): void {
    const held = state.held;
    if (held === undefined) {
      this.stopTimer(state);
      return;
    }
    state.held = undefined;
    this.fanOut(state, held);
  }

  private stopTimer(state: TopicState): void {
    if (state.timer === undefined) return;
    this.clock.clearInterval(state.timer);
    state.timer = undefined;
    state.held = undefined;
  }

  /** Sends `message` to every live subscriber with one frame; those whose buffer is full fall behind. */
  private fanOut(state: TopicState, message: TopicMessage): void {
    let frame: string;
    if (state.conflation === undefined) frame = frameOf(message);
    else {
      frame = frameOf(message, skips(message, state.lastSent));
      state.lastSent = message;
      state.deliveredEpoch = message.epoch;
      state.delivered = message.offset;
      state.sentAt = this.clock.now();
    }
    const behind = { epoch: message.epoch, offset: message.offset - 1 };
    if (!state.nativeJoined) this.joinNatively(state);
    this.publishNatively(state, state.native, state.name, frame, behind);
    this.sendEach(state, state.live, frame, behind);
    if (state.delta !== undefined) {
      const deltaFrame = this.deltaFrameOf(state, message, frame);
      this.publishNatively(state, state.deltaNative, deltaTopic(state.name), deltaFrame, behind);
      this.sendEach(state, state.deltaLive, deltaFrame, behind);
      this.promote(state);
    }
    this.metrics?.fanout.record(state.native.size + state.live.size + state.deltaNative.size + state.deltaLive.size);
  }

  /** One native publish of `frame` to `subscribers` (joined to `nativeTopic`); those whose buffer is full fall behind first. */
  private publishNatively(state: TopicState, subscribers: Set<TopicSubscriber>, nativeTopic: string, frame: string, behind: StreamPosition): void {
    if (subscribers.size === 0) return;
    for (const subscriber of subscribers) {
      if (subscriber.backpressured) {
        subscribers.delete(subscriber);
        subscriber.nativeSubscribe(nativeTopic, false);
        state.lagging.set(subscriber, behind);
      }
    }
    if (subscribers.size > 0) (this.nativePublish as NativePublish)(nativeTopic, frame);
    if (this.tapped > 0) for (const subscriber of subscribers) subscriber.tap?.('out', frame);
  }

  private sendEach(state: TopicState, subscribers: Set<TopicSubscriber>, frame: string, behind: StreamPosition): void {
    for (const subscriber of subscribers) {
      if (!subscriber.sendTopicFrame(frame)) {
        subscribers.delete(subscriber);
        state.lagging.set(subscriber, behind);
      }
    }
  }

  /**
   * The frame for subscribers holding the previous publication: a delta of `message`'s body against
   * its body, or the full `frame` when there is no such base (a reset, a gap, no body) or the delta
   * would not be smaller. Remembers `message` as the next base while any delta subscriber is live.
   */
  private deltaFrameOf(state: TopicState, message: TopicMessage, frame: string): string {
    const base = state.base;
    const baseBytes = state.baseBytes;
    const based = state.deltaLive.size > 0 || state.deltaNative.size > 0;
    const needed = based || state.unbased.size > 0;
    const bytes = needed && message.body !== undefined ? utf8.encode(message.body) : undefined;
    state.base = bytes === undefined ? undefined : message;
    state.baseBytes = bytes;
    if (!based || bytes === undefined || base === undefined || baseBytes === undefined) return frame;
    if (base.epoch !== message.epoch || base.offset + 1 !== message.offset) return frame;
    const delta = bytesToBase64((state.delta as DeltaCodec).create(baseBytes, bytes));
    if (delta.length >= (message.body as string).length) return frame;
    return encodeDeltaNotification(message.type, message.topic, message.offset, delta);
  }

  /** Delta subscribers that just got a publication in full hold it now: from the next one they get deltas. */
  private promote(state: TopicState): void {
    if (state.unbased.size === 0) return;
    for (const subscriber of state.unbased) {
      if (state.native.delete(subscriber)) {
        // Joined before leaving: uWS drops what it still holds for a socket that left its last topic (the publication just made).
        if (subscriber.nativeSubscribe(deltaTopic(state.name), true)) state.deltaNative.add(subscriber);
        else state.deltaLive.add(subscriber);
        subscriber.nativeSubscribe(state.name, false);
      } else if (state.live.delete(subscriber)) state.deltaLive.add(subscriber);
    }
    state.unbased.clear();
  }

  /** A delta subscriber that no longer wants deltas goes back to full frames (and the other way round: full until it holds a base). */
  private setDelta(state: TopicState, subscriber: TopicSubscriber, delta: boolean): void {
    if (state.delta === undefined || delta === state.wantsDelta.has(subscriber)) return;
    if (delta) {
      state.wantsDelta.add(subscriber);
      if (state.live.has(subscriber) || state.native.has(subscriber)) state.unbased.add(subscriber);
      return;
    }
    state.wantsDelta.delete(subscriber);
    state.unbased.delete(subscriber);
    const native = state.deltaNative.delete(subscriber);
    if (native || state.deltaLive.delete(subscriber)) this.goLive(state, subscriber);
    // Left after joining the other (see `promote`).
    if (native) subscriber.nativeSubscribe(deltaTopic(state.name), false);
  }

  /** Tells live subscribers that history was lost (a new epoch, or a gap), before the message after it reaches them. */
  private announceReset(state: TopicState, message: TopicMessage, reason: RecoveryReason): void {
    const frame = resetFrameOf(message, reason);
    if (state.native.size > 0) (this.nativePublish as NativePublish)(state.name, frame);
    if (state.deltaNative.size > 0) (this.nativePublish as NativePublish)(deltaTopic(state.name), frame);
    for (const subscriber of state.live) subscriber.sendTopicFrame(frame);
    for (const subscriber of state.deltaLive) subscriber.sendTopicFrame(frame);
    // What was held belongs to the stream before the reset.
    state.held = undefined;
  }

  /** The topic's first fan-out: its live subscribers move to the native topic, where the transport has one. */
  private joinNatively(state: TopicState): void {
    if (this.nativePublish === undefined) return;
    state.nativeJoined = true;
    for (const subscriber of state.live) {
      if (subscriber.nativeSubscribe(state.name, true)) {
        state.live.delete(subscriber);
        state.native.add(subscriber);
      }
    }
  }

  private goLive(state: TopicState, subscriber: TopicSubscriber): void {
    if (state.nativeJoined && subscriber.nativeSubscribe(state.name, true)) state.native.add(subscriber);
    else state.live.add(subscriber);
    if (state.wantsDelta.has(subscriber)) state.unbased.add(subscriber);
  }

  private leave(state: TopicState, subscriber: TopicSubscriber): void {
    state.live.delete(subscriber);
    if (state.native.delete(subscriber)) subscriber.nativeSubscribe(state.name, false);
    state.pending.delete(subscriber);
    state.lagging.delete(subscriber);
    state.ahead.delete(subscriber);
    if (state.delta === undefined) return;
    state.wantsDelta.delete(subscriber);
    state.unbased.delete(subscriber);
    state.deltaLive.delete(subscriber);
    if (state.deltaNative.delete(subscriber)) subscriber.nativeSubscribe(deltaTopic(state.name), false);
  }

  /**
   * Subscribes and sends what the subscriber is owed, in this order: the history after
   * `since` (when given and the broker still has it), then `announce` with the position
   * reached, then every later message. So each notification up to the announced offset
   * precedes the announcement and each one after it follows. `delta`: whether the subscriber
   * asked for deltas (ignored on a topic without them); undefined keeps what it asked before.
   */
  subscribe(
    subscriber: TopicSubscriber,
    topic: string,
    since: StreamPosition | undefined,
    announce: (subscribed: SubscribedBody) => void,
    delta?: boolean,
  ): Promise<SubscribedBody> {
    const state = this.state(topic);
    const previous = state.inflight.get(subscriber);
    const next = () => this.subscribeNow(this.state(topic), subscriber, topic, since, announce, delta);
    const work = previous === undefined ? next() : previous.then(next, next);
    state.inflight.set(subscriber, work);
    const settled = (): void => {
      if (state.inflight.get(subscriber) === work) state.inflight.delete(subscriber);
    };
    work.then(settled, settled);
    return work;
  }

  private async subscribeNow(
    state: TopicState,
    subscriber: TopicSubscriber,
    topic: string,
    since: StreamPosition | undefined,
    announce: (subscribed: SubscribedBody) => void,
    asked: boolean | undefined,
  ): Promise<SubscribedBody> {
    const delta = asked ?? state.wantsDelta.has(subscriber);
    // Already live and no history asked for: staying live loses nothing; say where it stands.
    if (since === undefined && this.isLive(state, subscriber)) {
      this.setDelta(state, subscriber, delta);
      // What live subscribers were sent; a history read may have taken `offset` further.
      const subscribed = state.deliveredEpoch === '' ? { topic, epoch: state.epoch, offset: state.offset } : { topic, epoch: state.deliveredEpoch, offset: state.delivered };
      announce(subscribed);
      return subscribed;
    }
    const caughtUpTo = since !== undefined && state.conflation !== undefined && state.lagging.has(subscriber) ? this.catchUpLatest(state, subscriber, since) : undefined;
    if (caughtUpTo !== undefined) {
      const subscribed = { topic, ...caughtUpTo, recovered: true };
      announce(subscribed);
      return subscribed;
    }
    this.leave(state, subscriber);
    if (delta && state.delta !== undefined) state.wantsDelta.add(subscriber);
    state.pending.set(subscriber, []);
    const conflated = state.conflation !== undefined;
    try {
      await state.ready;
      let subscribed: SubscribedBody;
      let caughtUp = true;
      if (since === undefined) {
        subscribed = { topic, ...(await this.broker.position(topic)) };
      } else {
        let history = await this.broker.history(topic, since);
        const { position } = history;
        // Latest only: the newest message is the whole state, whatever the history lost before it.
        if (conflated && !history.complete && position.epoch === since.epoch && position.offset > since.offset) {
          const latest = await this.broker.history(topic, { epoch: position.epoch, offset: position.offset - 1 });
          if (latest.complete && latest.position.epoch === position.epoch) history = latest;
        }
        let offset = history.position.offset;
        if (history.complete) ({ last: offset, done: caughtUp } = this.sendAll(subscriber, history.messages, since.offset, since.epoch, conflated));
        subscribed = history.complete
          ? { topic, epoch: history.position.epoch, offset, recovered: true }
          : { topic, epoch: history.position.epoch, offset, recovered: false, reason: lossOf(since, history.position) };
      }
      const queue = state.pending.get(subscriber);
      if (queue === undefined || !subscriber.isSubscribedTo(topic)) {
        if (queue !== undefined) this.unsubscribe(subscriber, topic);
        return subscribed;
      }
      announce(subscribed);
      if (state.epoch !== subscribed.epoch || subscribed.offset > state.offset) {
        state.epoch = subscribed.epoch;
        state.offset = subscribed.offset;
      }
      state.pending.delete(subscriber);
      const rest = caughtUp ? this.sendAll(subscriber, queue, subscribed.offset, subscribed.epoch, conflated) : { last: subscribed.offset, done: false };
      // A full send buffer stops the catch-up; the next drain resumes it from history.
      if (!rest.done) state.lagging.set(subscriber, { epoch: subscribed.epoch, offset: rest.last });
      else if (rest.last <= (state.deliveredEpoch === subscribed.epoch ? state.delivered : 0)) this.goLive(state, subscriber);
      else state.ahead.set(subscriber, { epoch: subscribed.epoch, offset: rest.last });
      return subscribed;
    } catch (error) {
      this.unsubscribe(subscriber, topic);
      throw error;
    }
  }

  /**
   * A lagging subscriber of a conflated topic whose buffer drained: sends it the newest message
   * (nothing when it has that one), makes it live, and says where it stands. Undefined when this
   * node has no newer message of its epoch (then it catches up from history), or the buffer is
   * still full (it stays behind).
   */
  private catchUpLatest(state: TopicState, subscriber: TopicSubscriber, since: StreamPosition): StreamPosition | undefined {
    const latest = state.latest;
    if (latest === undefined || latest.epoch !== since.epoch || latest.offset < since.offset) return undefined;
    if (latest.offset > since.offset && !subscriber.sendTopicFrame(frameOf(latest, skips(latest, since)))) return undefined;
    state.lagging.delete(subscriber);
    this.goLive(state, subscriber);
    return { epoch: latest.epoch, offset: latest.offset };
  }

  /**
   * Sends messages after `after` (in `epoch`) in order until the send buffer fills; says how far
   * it got. `conflated`: only the newest of them (after a reset, the newest of the new epoch).
   */
  private sendAll(subscriber: TopicSubscriber, messages: readonly TopicMessage[], after: number, epoch: string, conflated = false): { last: number; done: boolean } {
    let last = after;
    let current = epoch;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i] as TopicMessage;
      if (message.epoch !== current) {
        if (!subscriber.sendTopicFrame(resetFrameOf(message, RecoveryReason.EpochChanged))) return { last, done: false };
        current = message.epoch;
        last = message.offset - 1;
      }
      if (message.offset <= last) continue;
      const next = messages[i + 1];
      if (conflated && next !== undefined && next.epoch === current) continue;
      const frame = conflated ? frameOf(message, skips(message, { epoch: current, offset: last })) : frameOf(message);
      if (!subscriber.sendTopicFrame(frame)) return { last, done: false };
      last = message.offset;
    }
    return { last, done: true };
  }

  unsubscribe(subscriber: TopicSubscriber, topic: string): void {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    this.leave(state, subscriber);
    if (state.empty) {
      this.stopTimer(state);
      this.topics.delete(topic);
      this.broker.unsubscribe(topic, state.listener).catch(() => {
        // Losing an unsubscribe only leaves a listener whose deliveries find no state: harmless.
      });
    }
  }

  /**
   * The last position sent to a subscriber that joined at `joined` (what its subscribe
   * announced): live messages since then may have taken it further; a lagging one stopped where
   * its send buffer filled.
   */
  positionOf(subscriber: TopicSubscriber, joined: SubscribedBody): StreamPosition {
    const state = this.topics.get(joined.topic);
    const lagging = state?.lagging.get(subscriber);
    if (state === undefined || lagging !== undefined) return lagging ?? joined;
    if (this.isLive(state, subscriber) && state.deliveredEpoch === joined.epoch && state.delivered > joined.offset) return { epoch: joined.epoch, offset: state.delivered };
    return joined;
  }

  private isLive(state: TopicState, subscriber: TopicSubscriber): boolean {
    return state.live.has(subscriber) || state.native.has(subscriber) || state.deltaLive.has(subscriber) || state.deltaNative.has(subscriber);
  }

  /** Topics on which this subscriber fell behind, with where it stopped. */
  lagOf(subscriber: TopicSubscriber, topics: Iterable<string>): Array<[string, StreamPosition]> {
    const lag: Array<[string, StreamPosition]> = [];
    for (const topic of topics) {
      const position = this.topics.get(topic)?.lagging.get(subscriber);
      if (position !== undefined) lag.push([topic, position]);
    }
    return lag;
  }
}
