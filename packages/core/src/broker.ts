/**
 * How sessions on one or many nodes share topics and reach users. The core talks to this
 * interface only; `MemoryBroker` is the embedded default and a Redis Streams broker
 * implements the same methods for many nodes.
 */
import type { StreamPosition } from './envelope.ts';
import type { DependencyHealth } from './health.ts';
import type { Meter } from './meter.ts';

/** One message of a topic, as stored and delivered by a broker. */
export interface TopicMessage {
  readonly topic: string;
  readonly epoch: string;
  /** Contiguous within an epoch, starting at 1. */
  readonly offset: number;
  readonly type: string;
  /** The body as JSON text, stringified once by the publisher. */
  readonly body: string | undefined;
}

/** What a broker still holds of a topic after a position. */
export interface TopicHistory {
  /** The stream's current epoch and latest offset. */
  readonly position: StreamPosition;
  /** Messages after the requested offset, oldest first (empty unless `complete`). */
  readonly messages: readonly TopicMessage[];
  /** True when the stream has the same epoch and holds every message after the requested offset. */
  readonly complete: boolean;
}

/** How much history a broker keeps per topic, announced to clients in `herald.Welcome`. */
export interface TopicRetention {
  /** Messages kept per topic (older ones are trimmed). */
  readonly messages: number;
  /** Messages older than this are trimmed, when the broker trims by age. */
  readonly ttlMs?: number;
}

export type TopicListener = (message: TopicMessage) => void;
export type DirectListener = (payload: string) => void;

/**
 * The pub/sub engine under a Herald server.
 *
 * Brokers MUST deliver a topic's messages to each listener in offset order, assign offsets
 * contiguously per epoch, and change the epoch whenever a stream loses its history
 * (restart, trim to nothing, reset), so that clients are told instead of silently skipping.
 */
export interface Broker {
  /** What it keeps per topic, when it can say (announced in `herald.Welcome` as `topicHistory`). */
  readonly retention?: TopicRetention;
  /**
   * Takes the history rules of the contract's topic patterns: a topic for which `retentionOf`
   * answers keeps that much history instead of `retention`. Servers sharing a broker give it the
   * same rules. A broker without it cannot serve a contract whose patterns set `history`.
   */
  useTopicRetention?(retentionOf: (topic: string) => TopicRetention | undefined): void;
  /**
   * Appends to a topic's history and delivers to every listener of the topic, on every node.
   * With an `idempotencyKey` already used for this topic within the broker's idempotency
   * window, it does neither and resolves with the position the key's first publish got: every
   * broker MUST honour the key, across all nodes sharing the topic.
   */
  publish(topic: string, type: string, body: string | undefined, idempotencyKey?: string): Promise<StreamPosition>;
  subscribe(topic: string, listener: TopicListener): Promise<void>;
  unsubscribe(topic: string, listener: TopicListener): Promise<void>;
  /** The current epoch and latest offset (0 when nothing was published in this epoch). */
  position(topic: string): Promise<StreamPosition>;
  history(topic: string, since: StreamPosition): Promise<TopicHistory>;
  /** Fire-and-forget delivery to a channel's listeners on every node (used for send-to-user). */
  sendDirect(channel: string, payload: string): Promise<void>;
  listenDirect(channel: string, listener: DirectListener): Promise<void>;
  unlistenDirect(channel: string, listener: DirectListener): Promise<void>;
  /** The link to where topics live, for `/readyz` (absent: always reachable). */
  health?(): DependencyHealth;
  /**
   * Called once by the server that uses this broker, with its `meter`: a broker with a link of its
   * own (Redis) reports on it there (outbox depth, errors, reconnects).
   */
  instrument?(meter: Meter): void;
  close(): Promise<void>;
}
