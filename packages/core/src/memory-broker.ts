import type { Broker, DirectListener, TopicHistory, TopicListener, TopicMessage, TopicRetention } from './broker.ts';
import type { StreamPosition } from './envelope.ts';
import { randomId } from './random-id.ts';

/** Bounds of the history a `MemoryBroker` keeps per topic. */
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
}

interface Stream {
  readonly epoch: string;
  offset: number;
  /** History: `messages[start…]`, oldest first, with the time each was published. */
  messages: TopicMessage[];
  times: number[];
  start: number;
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
  private readonly maxTopics: number;
  private readonly now: () => number;

  constructor(options: MemoryBrokerOptions = {}) {
    this.historySize = options.historySize ?? 1000;
    this.historyTtlMs = options.historyTtlMs ?? Number.POSITIVE_INFINITY;
    this.maxTopics = options.maxTopics ?? 10_000;
    this.now = options.now ?? Date.now;
    this.retention = options.historyTtlMs === undefined ? { messages: this.historySize } : { messages: this.historySize, ttlMs: options.historyTtlMs };
  }

  /** The stream of a topic, created on demand; each use makes it the most recently used. */
  private stream(topic: string): Stream {
    let stream = this.streams.get(topic);
    if (stream === undefined) {
      if (this.streams.size >= this.maxTopics) this.forgetOne();
      stream = { epoch: randomId(6), offset: 0, messages: [], times: [], start: 0, listeners: new Set() };
    } else this.streams.delete(topic);
    this.streams.set(topic, stream);
    return stream;
  }

  /** Forgets the least recently used topic nobody listens to. */
  private forgetOne(): void {
    for (const [topic, stream] of this.streams) {
      if (stream.listeners.size === 0) {
        this.streams.delete(topic);
        return;
      }
    }
  }

  private held(stream: Stream): number {
    return stream.messages.length - stream.start;
  }

  private trim(stream: Stream): void {
    const cutoff = this.now() - this.historyTtlMs;
    let start = Math.max(stream.start, stream.messages.length - this.historySize);
    while (start < stream.times.length && (stream.times[start] as number) < cutoff) start++;
    stream.start = start;
    if (start > 1024 && start * 2 > stream.messages.length) {
      stream.messages = stream.messages.slice(start);
      stream.times = stream.times.slice(start);
      stream.start = 0;
    }
  }

  publish(topic: string, type: string, body: string | undefined): Promise<StreamPosition> {
    const stream = this.stream(topic);
    const message: TopicMessage = { topic, epoch: stream.epoch, offset: ++stream.offset, type, body };
    stream.messages.push(message);
    stream.times.push(this.now());
    this.trim(stream);
    for (const listener of stream.listeners) listener(message);
    return Promise.resolve({ epoch: stream.epoch, offset: stream.offset });
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
    return Promise.resolve({ epoch: stream.epoch, offset: stream.offset });
  }

  history(topic: string, since: StreamPosition): Promise<TopicHistory> {
    const stream = this.stream(topic);
    this.trim(stream);
    const position = { epoch: stream.epoch, offset: stream.offset };
    const oldest = stream.offset - this.held(stream) + 1;
    const complete = since.epoch === stream.epoch && since.offset <= stream.offset && since.offset + 1 >= oldest;
    const messages = complete ? stream.messages.slice(stream.start + since.offset + 1 - oldest) : [];
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
    this.channels.clear();
    return resolved;
  }
}
