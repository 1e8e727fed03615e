/**
 * Local topic subscriptions over a broker. One broker listener per topic per server; a
 * message is encoded once and the same frame goes to every live subscriber. A subscriber
 * that is catching up (history after `since`, or after falling behind a full send buffer)
 * is "pending": live messages queue for it until its catch-up is sent, so it sees every
 * offset once and in order.
 */
import type { Broker, TopicMessage } from './broker.ts';
import { encodeSystemNotification, encodeTopicNotification } from './codec.ts';
import { RecoveryReason, SystemType } from './constants.ts';
import type { StreamPosition, SubscribedBody } from './envelope.ts';
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
}

/** The transport's own publish: one call sends a frame to every natively subscribed socket. */
export type NativePublish = (topic: string, frame: string) => void;

class TopicState {
  /** Live subscribers sent to one by one. */
  readonly live = new Set<TopicSubscriber>();
  /** Live subscribers reached by the transport's native publish. */
  readonly native = new Set<TopicSubscriber>();
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
  readonly ready: Promise<void>;

  constructor(
    readonly name: string,
    readonly listener: (message: TopicMessage) => void,
    broker: Broker,
  ) {
    this.ready = broker.subscribe(name, listener);
  }

  get empty(): boolean {
    return this.live.size === 0 && this.native.size === 0 && this.pending.size === 0 && this.lagging.size === 0 && this.ahead.size === 0;
  }
}

function frameOf(message: TopicMessage): string {
  return encodeTopicNotification(message.type, message.topic, message.offset, message.body);
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

  constructor(private readonly broker: Broker) {}

  get size(): number {
    return this.topics.size;
  }

  private state(topic: string): TopicState {
    let state = this.topics.get(topic);
    if (state === undefined) {
      state = new TopicState(topic, (message) => this.deliver(state as TopicState, message), this.broker);
      this.topics.set(topic, state);
    }
    return state;
  }

  private deliver(state: TopicState, message: TopicMessage): void {
    // A new epoch, or offsets skipped by the broker: subscribers are told instead of silently skipping.
    const lost = state.epoch !== '' && (state.epoch !== message.epoch || message.offset > state.offset + 1) ? lossOf(state, message) : undefined;
    state.epoch = state.deliveredEpoch = message.epoch;
    state.offset = state.delivered = message.offset;
    for (const queue of state.pending.values()) queue.push(message);
    for (const [subscriber, sent] of state.ahead) {
      if (message.epoch === sent.epoch && message.offset <= sent.offset) continue;
      state.ahead.delete(subscriber);
      this.goLive(state, subscriber);
    }
    this.metrics?.publishes.add(1);
    if (state.live.size === 0 && state.native.size === 0) {
      this.metrics?.fanout.record(0);
      return;
    }
    if (lost !== undefined) this.announceReset(state, message, lost);
    const frame = frameOf(message);
    const behind = { epoch: message.epoch, offset: message.offset - 1 };
    if (state.native.size > 0) {
      for (const subscriber of state.native) {
        if (subscriber.backpressured) {
          state.native.delete(subscriber);
          subscriber.nativeSubscribe(state.name, false);
          state.lagging.set(subscriber, behind);
        }
      }
      if (state.native.size > 0) (this.nativePublish as NativePublish)(state.name, frame);
    }
    for (const subscriber of state.live) {
      if (!subscriber.sendTopicFrame(frame)) {
        state.live.delete(subscriber);
        state.lagging.set(subscriber, behind);
      }
    }
    this.metrics?.fanout.record(state.native.size + state.live.size);
  }

  /** Tells live subscribers that history was lost (a new epoch, or a gap), before the message after it reaches them. */
  private announceReset(state: TopicState, message: TopicMessage, reason: RecoveryReason): void {
    const frame = resetFrameOf(message, reason);
    if (state.native.size > 0) (this.nativePublish as NativePublish)(state.name, frame);
    for (const subscriber of state.live) subscriber.sendTopicFrame(frame);
  }

  private goLive(state: TopicState, subscriber: TopicSubscriber): void {
    if (this.nativePublish !== undefined && subscriber.nativeSubscribe(state.name, true)) state.native.add(subscriber);
    else state.live.add(subscriber);
  }

  private leave(state: TopicState, subscriber: TopicSubscriber): void {
    state.live.delete(subscriber);
    if (state.native.delete(subscriber)) subscriber.nativeSubscribe(state.name, false);
    state.pending.delete(subscriber);
    state.lagging.delete(subscriber);
    state.ahead.delete(subscriber);
  }

  /**
   * Subscribes and sends what the subscriber is owed, in this order: the history after
   * `since` (when given and the broker still has it), then `announce` with the position
   * reached, then every later message. So each notification up to the announced offset
   * precedes the announcement and each one after it follows.
   */
  subscribe(
    subscriber: TopicSubscriber,
    topic: string,
    since: StreamPosition | undefined,
    announce: (subscribed: SubscribedBody) => void,
  ): Promise<SubscribedBody> {
    const state = this.state(topic);
    const previous = state.inflight.get(subscriber);
    const next = () => this.subscribeNow(this.state(topic), subscriber, topic, since, announce);
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
  ): Promise<SubscribedBody> {
    // Already live and no history asked for: staying live loses nothing; say where it stands.
    if (since === undefined && (state.live.has(subscriber) || state.native.has(subscriber))) {
      // What live subscribers were sent; a history read may have taken `offset` further.
      const subscribed = state.deliveredEpoch === '' ? { topic, epoch: state.epoch, offset: state.offset } : { topic, epoch: state.deliveredEpoch, offset: state.delivered };
      announce(subscribed);
      return subscribed;
    }
    this.leave(state, subscriber);
    state.pending.set(subscriber, []);
    try {
      await state.ready;
      let subscribed: SubscribedBody;
      let caughtUp = true;
      if (since === undefined) {
        subscribed = { topic, ...(await this.broker.position(topic)) };
      } else {
        const history = await this.broker.history(topic, since);
        let offset = history.position.offset;
        if (history.complete) ({ last: offset, done: caughtUp } = this.sendAll(subscriber, history.messages, since.offset, since.epoch));
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
      const rest = caughtUp ? this.sendAll(subscriber, queue, subscribed.offset, subscribed.epoch) : { last: subscribed.offset, done: false };
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

  /** Sends messages after `after` (in `epoch`) in order until the send buffer fills; says how far it got. */
  private sendAll(subscriber: TopicSubscriber, messages: readonly TopicMessage[], after: number, epoch: string): { last: number; done: boolean } {
    let last = after;
    let current = epoch;
    for (const message of messages) {
      if (message.epoch !== current) {
        if (!subscriber.sendTopicFrame(resetFrameOf(message, RecoveryReason.EpochChanged))) return { last, done: false };
        current = message.epoch;
        last = message.offset - 1;
      }
      if (message.offset <= last) continue;
      if (!subscriber.sendTopicFrame(frameOf(message))) return { last, done: false };
      last = message.offset;
    }
    return { last, done: true };
  }

  unsubscribe(subscriber: TopicSubscriber, topic: string): void {
    const state = this.topics.get(topic);
    if (state === undefined) return;
    this.leave(state, subscriber);
    if (state.empty) {
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
    const live = state.live.has(subscriber) || state.native.has(subscriber);
    if (live && state.deliveredEpoch === joined.epoch && state.delivered > joined.offset) return { epoch: joined.epoch, offset: state.delivered };
    return joined;
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
