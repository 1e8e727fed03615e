import type { Broker, DirectListener, TopicHistory, TopicListener, TopicMessage, TopicRetention } from './broker.ts';
import type { StreamPosition } from './envelope.ts';
import { HistoryRing } from './history-ring.ts';
import { IdempotencyWindow, idempotencyWindow } from './idempotency.ts';
import { randomId } from './random-id.ts';

/** Bounds of the history a `MemoryBroker` keeps, per topic and in all. */
export interface MemoryBrokerOptions {
  /** Messages kept per topic (default 1000). */
  readonly historySize?: number;
  /** Messages older than this are forgotten (default: kept until pushed out by size). */
  readonly historyTtlMs?: number;
  /** Clock for `historyTtlMs` (default `Date.now`). */
  readonly now?: () => number;
  /**
   * Topics kept (default 10,000). Past it, the least recently used topic without listeners is
   * forgotten; if it comes back it has a new epoch, so its subscribers learn history was lost.
   */
  readonly maxTopics?: number;
  /**
   * Bytes of history kept across all topics (default 256 MiB), counted approximately: a body's
   * characters plus a fixed cost per message. Past it, the oldest messages of the topic
   * published to least recently are evicted first; a subscriber resuming from before an evicted
   * message is answered `recovered: false`, as for any history no longer held. `Infinity`: no
   * budget. Anything but a number ≥ 0 throws a `RangeError`.
   */
  readonly historyBytes?: number;
  /** How long a publish's `idempotencyKey` is remembered per topic (default 5 minutes). */
  readonly idempotencyWindowMs?: number;
}

/** What a `MemoryBroker` holds of history in all, for metrics. */
export interface HistoryUsage {
  /** Approximate bytes held (what `historyBytes` bounds). */
  readonly bytes: number;
  /** Messages held across all topics. */
  readonly messages: number;
  /** Messages evicted so far to stay within `historyBytes` (trims by `historySize` or age are not counted). */
  readonly evicted: number;
}

interface Stream {
  readonly epoch: string;
  readonly history: HistoryRing;
  /** Its messages older than this are forgotten (Infinity: kept until pushed out by size). */
  readonly ttlMs: number;
  readonly listeners: Set<TopicListener>;
}

const resolved: Promise<void> = Promise.resolve();

/**
 * The embedded broker: topics, history and direct channels in this process's memory.
 * Several Herald servers may share one instance, which is how tests model many nodes.
 *
 * @example
 * const herald = createHerald({ contract, handlers, broker: new MemoryBroker({ historySize: 5000 }) });
 */
export class MemoryBroker implements Broker {
  private readonly streams = new Map<string, Stream>();
  /** A channel's one listener (the usual case: one server per user channel), or its set. */
  private readonly channels = new Map<string, DirectListener | Set<DirectListener>>();
  readonly retention: TopicRetention;
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private retentionOf: (topic: string) => TopicRetention | undefined = () => undefined;
  private readonly maxTopics: number;
  private readonly historyBytes: number;
  private readonly now: () => number;
  /** Streams holding history, the one published to least recently first: where eviction starts. */
  private readonly holding = new Set<Stream>();
  /** Idempotency keys used, per topic, with the position they published at. */
  private readonly keys: IdempotencyWindow<StreamPosition>;
  private bytes = 0;
  private messages = 0;
  private evicted = 0;

  constructor(options: MemoryBrokerOptions = {}) {
    this.historySize = options.historySize ?? 1000;
    this.historyTtlMs = options.historyTtlMs ?? Number.POSITIVE_INFINITY;
    this.maxTopics = options.maxTopics ?? 10_000;
    this.historyBytes = options.historyBytes ?? 256 * 1024 * 1024;
    if (typeof this.historyBytes !== 'number' || !(this.historyBytes >= 0)) throw new RangeError(`MemoryBroker: historyBytes must be a number of bytes ≥ 0 (or Infinity for no budget), got ${String(options.historyBytes)}`);
    this.now = options.now ?? Date.now;
    this.keys = new IdempotencyWindow(idempotencyWindow('MemoryBroker', options.idempotencyWindowMs), this.now);
    this.retention = options.historyTtlMs === undefined ? { messages: this.historySize } : { messages: this.historySize, ttlMs: options.historyTtlMs };
  }

  useTopicRetention(retentionOf: (topic: string) => TopicRetention | undefined): void {
    this.retentionOf = retentionOf;
  }

  /** The stream of a topic, created on demand; each use makes it the most recently used. */
  private stream(topic: string): Stream {
    let stream = this.streams.get(topic);
    if (stream === undefined) {
      if (this.streams.size >= this.maxTopics) this.forgetOne();
      const own = this.retentionOf(topic);
      const size = own?.messages ?? this.historySize;
      const ttlMs = own === undefined ? this.historyTtlMs : (own.ttlMs ?? Number.POSITIVE_INFINITY);
      // Publish times are kept only for streams trimmed by age.
      stream = { epoch: randomId(6), history: new HistoryRing(size, Number.isFinite(ttlMs)), ttlMs, listeners: new Set() };
    } else this.streams.delete(topic);
    this.streams.set(topic, stream);
    return stream;
  }

  /** Forgets the least recently used topic nobody listens to. */
  private forgetOne(): void {
    for (const [topic, stream] of this.streams) {
      if (stream.listeners.size === 0) {
        this.streams.delete(topic);
        const { bytes, size } = stream.history;
        while (stream.history.size > 0) stream.history.dropOldest();
        this.settle(stream, bytes, size);
        return;
      }
    }
  }

  /** Keeps the totals, and the eviction order, in step with a change to a stream's history (from `bytes` and `size`). */
  private settle(stream: Stream, bytes: number, size: number): void {
    this.bytes += stream.history.bytes - bytes;
    this.messages += stream.history.size - size;
    if (stream.history.size === 0) this.holding.delete(stream);
  }

  private trim(stream: Stream, now: number): void {
    const { bytes, size } = stream.history;
    stream.history.dropOlderThan(now - stream.ttlMs);
    this.settle(stream, bytes, size);
  }

  /** Evicts the oldest messages of the least recently published topics until the total is within `historyBytes`. */
  private evict(): void {
    while (this.bytes > this.historyBytes) {
      const oldest = this.holding.values().next().value;
      if (oldest === undefined) return;
      const { bytes, size } = oldest.history;
      oldest.history.dropOldest();
      this.settle(oldest, bytes, size);
      this.evicted++;
    }
  }

  /** What is held of history in all, and how much the byte budget evicted. */
  get historyUsage(): HistoryUsage {
    return { bytes: this.bytes, messages: this.messages, evicted: this.evicted };
  }

  publish(topic: string, type: string, body: string | undefined, idempotencyKey?: string): Promise<StreamPosition> {
    if (idempotencyKey !== undefined) {
      const first = this.keys.get(topic, idempotencyKey);
      if (first !== undefined) return Promise.resolve(first);
    }
    const stream = this.stream(topic);
    const { history } = stream;
    const timed = Number.isFinite(stream.ttlMs);
    const now = timed ? this.now() : 0;
    const { bytes, size } = history;
    const offset = history.push(type, body, now);
    this.settle(stream, bytes, size);
    if (history.size > 0) {
      // Last published, last evicted.
      this.holding.delete(stream);
      this.holding.add(stream);
    }
    if (timed) this.trim(stream, now);
    this.evict();
    const position = { epoch: stream.epoch, offset };
    if (idempotencyKey !== undefined) this.keys.remember(topic, idempotencyKey, position);
    const message: TopicMessage = { topic, epoch: stream.epoch, offset, type, body };
    for (const listener of stream.listeners) listener(message);
    return Promise.resolve(position);
  }

  subscribe(topic: string, listener: TopicListener): Promise<void> {
    this.stream(topic).listeners.add(listener);
    return resolved;
  }

  unsubscribe(topic: string, listener: TopicListener): Promise<void> {
    // The stream stays (its epoch is what a returning subscriber resumes against); `maxTopics` bounds them.
    this.streams.get(topic)?.listeners.delete(listener);
    return resolved;
  }

  position(topic: string): Promise<StreamPosition> {
    const stream = this.stream(topic);
    return Promise.resolve({ epoch: stream.epoch, offset: stream.history.lastOffset });
  }

  history(topic: string, since: StreamPosition): Promise<TopicHistory> {
    const stream = this.stream(topic);
    if (Number.isFinite(stream.ttlMs)) this.trim(stream, this.now());
    const { history, epoch } = stream;
    const position = { epoch, offset: history.lastOffset };
    const complete = since.epoch === epoch && since.offset <= history.lastOffset && since.offset + 1 >= history.oldestOffset;
    const messages: TopicMessage[] = [];
    if (complete) history.forEachAfter(since.offset, (offset, type, body) => messages.push({ topic, epoch, offset, type, body }));
    return Promise.resolve({ position, messages, complete });
  }

  sendDirect(channel: string, payload: string): Promise<void> {
    const listeners = this.channels.get(channel);
    if (typeof listeners === 'function') listeners(payload);
    else if (listeners !== undefined) for (const listener of listeners) listener(payload);
    return resolved;
  }

  listenDirect(channel: string, listener: DirectListener): Promise<void> {
    const listeners = this.channels.get(channel);
    if (listeners === undefined) this.channels.set(channel, listener);
    else if (typeof listeners !== 'function') listeners.add(listener);
    else if (listeners !== listener) this.channels.set(channel, new Set([listeners, listener]));
    return resolved;
  }

  unlistenDirect(channel: string, listener: DirectListener): Promise<void> {
    const listeners = this.channels.get(channel);
    if (listeners === listener) this.channels.delete(channel);
    else if (typeof listeners === 'object' && listeners.delete(listener) && listeners.size === 0) this.channels.delete(channel);
    return resolved;
  }

  close(): Promise<void> {
    this.streams.clear();
    this.holding.clear();
    this.bytes = this.messages = 0;
    this.channels.clear();
    return resolved;
  }
}
