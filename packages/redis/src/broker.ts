/**
 * `RedisBroker`: the core's `Broker` on Redis, for many nodes. Each topic is a Redis Stream
 * (its history, trimmed by length and age) beside a small hash holding the stream's epoch and
 * last offset. One Lua script assigns the next offset, appends to the stream and publishes the
 * message on the topic's channel, so offsets are contiguous and every node hears them in order.
 * A node that misses part of a channel (a dropped subscriber connection) fills the gap from the
 * stream before delivering anything later.
 */
import type { Broker, CounterInstrument, DirectListener, Meter, StreamPosition, TopicHistory, TopicListener, TopicMessage, TopicRetention } from '@herald/core';
import { idempotencyWindow, randomId } from '@herald/core';
import { Redis, type RedisOptions } from 'ioredis';
import { Outbox } from './outbox.ts';

/** Where Redis is: a URL (`redis://user:pass@127.0.0.1:6379/0`, `rediss://` for TLS) or ioredis options. */
export type RedisConnection = string | Omit<RedisOptions, 'replyMapping'>;

/** Options of `RedisBroker`. */
export interface RedisBrokerOptions {
  /** Where Redis is (default `127.0.0.1:6379`). */
  readonly redis?: RedisConnection;
  /** Prefix of every key and channel (default `herald:`), to share a Redis between apps. */
  readonly prefix?: string;
  /** Messages kept per topic (default 1000). */
  readonly historySize?: number;
  /** Messages older than this are trimmed (default: kept until pushed out by size). */
  readonly historyTtlMs?: number;
  /** Publishes and direct sends held while Redis is unreachable (default 10,000); past it they are refused. */
  readonly outboxSize?: number;
  /**
   * A topic nobody published to for this long is forgotten, history and epoch (default 7 days),
   * so Redis does not keep every topic ever used. If it comes back it has a new epoch: its
   * subscribers are told that history was lost.
   */
  readonly topicTtlMs?: number;
  /** How long a publish's `idempotencyKey` is remembered per topic, for every node (default 5 minutes). */
  readonly idempotencyWindowMs?: number;
}

/** What a broker says about its link to Redis. */
export interface RedisHealth {
  /** `ok`: connected, nothing waiting; `degraded`: connected but draining the outbox; `down`: not connected. */
  readonly status: 'ok' | 'degraded' | 'down';
  /** Writes waiting for Redis. */
  readonly outbox: number;
  /** The last connection error, if any since the last successful connect. */
  readonly lastError: string | undefined;
}

// KEYS: stream, meta, channel, idempotency key. ARGV: type, body ('' with hasBody '0'), hasBody,
// maxlen, minid, new epoch, topic ttl, idempotency window ('0': no key). A key used within the
// window publishes nothing and answers the position its first publish got.
const PUBLISH_SCRIPT = `
if ARGV[8] ~= '0' then
  local first = redis.call('GET', KEYS[4])
  if first then
    local nl = string.find(first, '\\n', 1, true)
    return {string.sub(first, 1, nl - 1), tonumber(string.sub(first, nl + 1))}
  end
end
local epoch = redis.call('HGET', KEYS[2], 'e')
if not epoch then
  epoch = ARGV[6]
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[2], 'e', epoch, 'o', 0)
end
redis.call('PEXPIRE', KEYS[2], ARGV[7])
local offset = redis.call('HINCRBY', KEYS[2], 'o', 1)
if ARGV[3] == '1' then
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], '*', 'o', offset, 't', ARGV[1], 'b', ARGV[2])
else
  redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[4], '*', 'o', offset, 't', ARGV[1])
end
if ARGV[5] ~= '0' then redis.call('XTRIM', KEYS[1], 'MINID', ARGV[5]) end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('PUBLISH', KEYS[3], epoch .. '\\n' .. offset .. '\\n' .. ARGV[1] .. '\\n' .. ARGV[3] .. ARGV[2])
if ARGV[8] ~= '0' then redis.call('SET', KEYS[4], epoch .. '\\n' .. offset, 'PX', ARGV[8]) end
return {epoch, offset}
`;

// KEYS: meta. ARGV: new epoch, topic ttl. The position, creating the epoch when the topic is new (or was lost).
const POSITION_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {ARGV[1], 0}
end
return {epoch, tonumber(redis.call('HGET', KEYS[1], 'o'))}
`;

// KEYS: meta, stream. ARGV: new epoch, since epoch, since offset, topic ttl. The position and, in the
// same epoch, the entries after `since`: the stream's last (offset - since) entries.
const HISTORY_SCRIPT = `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', ARGV[1], 'o', 0)
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return {ARGV[1], 0, {}}
end
local offset = tonumber(redis.call('HGET', KEYS[1], 'o'))
local count = offset - tonumber(ARGV[3])
if epoch ~= ARGV[2] or count <= 0 or count > offset then return {epoch, offset, {}} end
return {epoch, offset, redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', count)}
`;

type StreamEntry = [id: string, fields: string[]];

interface BrokerRedis extends Redis {
  heraldPublish(stream: string, meta: string, channel: string, key: string, ...args: string[]): Promise<[string, number]>;
  heraldPosition(meta: string, epoch: string, ttl: string): Promise<[string, number]>;
  heraldHistory(meta: string, stream: string, epoch: string, sinceEpoch: string, sinceOffset: number, ttl: string): Promise<[string, number, StreamEntry[]]>;
}

/** The local side of one topic: its listeners, and where this node's deliveries stand. */
interface LocalTopic {
  readonly listeners: Set<TopicListener>;
  epoch: string;
  offset: number;
  /** Messages heard while a gap is being filled from the stream. */
  queue: TopicMessage[] | null;
}

/** Whether an ioredis error means "no connection" rather than "Redis refused the command". */
export function isConnectionError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    error.name === 'MaxRetriesPerRequestError' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|LOADING|ETIMEDOUT/.test(error.message)
  );
}

/** One Redis connection's counters; unset until a server's meter is handed over. */
class LinkMetrics {
  errors: CounterInstrument | undefined = undefined;
  reconnects: CounterInstrument | undefined = undefined;
  private readyBefore = false;

  ready(): void {
    if (this.readyBefore) this.reconnects?.add(1);
    this.readyBefore = true;
  }
}

/**
 * ioredis options shared by every connection Herald opens: reconnect forever; a command issued
 * while Redis is away waits for one reconnect attempt, then fails (writes that must survive an
 * outage go through the outbox instead).
 */
export function connectionOptions(redis: RedisConnection | undefined): Omit<RedisOptions, 'replyMapping'> {
  const base = typeof redis === 'string' ? parseUrl(redis) : (redis ?? {});
  return {
    maxRetriesPerRequest: 1,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1000),
    ...base,
  };
}

function parseUrl(url: string): Omit<RedisOptions, 'replyMapping'> {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    host: parsed.hostname,
    port: Number(parsed.port || 6379),
    db,
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

function parseEntry(topic: string, epoch: string, entry: StreamEntry): TopicMessage {
  const fields = entry[1];
  let offset = 0;
  let type = '';
  let body: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const value = fields[i + 1] as string;
    switch (fields[i]) {
      case 'o':
        offset = Number(value);
        break;
      case 't':
        type = value;
        break;
      case 'b':
        body = value;
        break;
    }
  }
  return { topic, epoch, offset, type, body };
}

/**
 * The broker for many nodes: topics with history in Redis Streams, direct channels over
 * Redis pub/sub, and an outbox that holds writes while Redis is away.
 *
 * @example
 * const broker = new RedisBroker({ redis: process.env.REDIS_URL, historySize: 5000, historyTtlMs: 3_600_000 });
 * const herald = createHerald({ contract, handlers, broker });
 * // health endpoint: broker.health() → { status: 'ok', outbox: 0, lastError: undefined }
 */
export class RedisBroker implements Broker {
  private readonly client: BrokerRedis;
  private readonly subscriber: Redis;
  private readonly prefix: string;
  readonly retention: TopicRetention;
  private readonly historySize: number;
  private readonly historyTtlMs: number;
  private retentionOf: (topic: string) => TopicRetention | undefined = () => undefined;
  /** `topicTtlMs` as the scripts take it. */
  private readonly topicTtl: string;
  /** `idempotencyWindowMs` as the publish script takes it. */
  private readonly idempotencyWindow: string;
  private readonly outbox: Outbox;
  private readonly topics = new Map<string, LocalTopic>();
  private readonly channels = new Map<string, Set<DirectListener>>();
  private lastError: string | undefined;
  private closed = false;
  /** Errors and reconnects of each connection, once a server hands its meter over. */
  private readonly links: Record<'client' | 'subscriber', LinkMetrics> = { client: new LinkMetrics(), subscriber: new LinkMetrics() };

  constructor(options: RedisBrokerOptions = {}) {
    this.prefix = options.prefix ?? 'herald:';
    this.historySize = options.historySize ?? 1000;
    this.historyTtlMs = options.historyTtlMs ?? 0;
    this.retention = this.historyTtlMs > 0 ? { messages: this.historySize, ttlMs: this.historyTtlMs } : { messages: this.historySize };
    this.topicTtl = String(Math.max(options.topicTtlMs ?? 7 * 24 * 3_600_000, this.historyTtlMs, 1000));
    this.idempotencyWindow = String(idempotencyWindow('RedisBroker', options.idempotencyWindowMs));
    const redisOptions = connectionOptions(options.redis);
    this.client = new Redis(redisOptions) as BrokerRedis;
    this.client.defineCommand('heraldPublish', { numberOfKeys: 4, lua: PUBLISH_SCRIPT });
    this.client.defineCommand('heraldPosition', { numberOfKeys: 1, lua: POSITION_SCRIPT });
    this.client.defineCommand('heraldHistory', { numberOfKeys: 2, lua: HISTORY_SCRIPT });
    this.subscriber = new Redis(redisOptions);
    this.outbox = new Outbox(options.outboxSize ?? 10_000, () => this.client.status === 'ready', isConnectionError);
    const noteError = (link: LinkMetrics) => (error: Error): void => {
      this.lastError = error.message;
      link.errors?.add(1);
    };
    const noteClose = (): void => {
      this.lastError ??= 'connection to redis closed';
    };
    this.client.on('error', noteError(this.links.client));
    this.subscriber.on('error', noteError(this.links.subscriber));
    this.client.on('close', noteClose);
    this.subscriber.on('close', noteClose);
    this.client.on('ready', () => {
      this.links.client.ready();
      this.lastError = undefined;
      void this.outbox.flush();
    });
    this.subscriber.on('ready', () => {
      this.links.subscriber.ready();
      // Subscriptions come back by themselves; what was published meanwhile comes from the streams.
      for (const topic of this.topics.keys()) void this.catchUp(topic);
    });
    this.subscriber.on('message', (channel: string, message: string) => this.heard(channel, message));
  }

  private streamKey(topic: string): string {
    return `${this.prefix}t:{${topic}}`;
  }

  private metaKey(topic: string): string {
    return `${this.prefix}t:{${topic}}:m`;
  }

  private topicChannel(topic: string): string {
    return `${this.prefix}tc:${topic}`;
  }

  private directChannel(channel: string): string {
    return `${this.prefix}d:${channel}`;
  }

  /** Reports the outbox depth, and each connection's errors and reconnects, through the server's meter. */
  instrument(meter: Meter): void {
    meter.gauge({ name: 'herald_broker_outbox', help: 'Writes the Redis broker holds while Redis is away.', labelNames: [], unit: '1' }, () => this.outbox.size);
    const errors = meter.counter({ name: 'herald_redis_errors_total', help: 'Errors on the broker’s Redis connections.', labelNames: ['connection'], unit: '1' });
    const reconnects = meter.counter({ name: 'herald_redis_reconnects_total', help: 'Times a broker connection to Redis was ready again after losing it.', labelNames: ['connection'], unit: '1' });
    for (const connection of ['client', 'subscriber'] as const) {
      this.links[connection].errors = errors({ connection });
      this.links[connection].reconnects = reconnects({ connection });
    }
  }

  /** The link to Redis, for a health endpoint. */
  health(): RedisHealth {
    const up = this.client.status === 'ready' && this.subscriber.status === 'ready';
    const status = !up ? 'down' : this.outbox.size > 0 ? 'degraded' : 'ok';
    return { status, outbox: this.outbox.size, lastError: this.lastError };
  }

  useTopicRetention(retentionOf: (topic: string) => TopicRetention | undefined): void {
    this.retentionOf = retentionOf;
  }

  publish(topic: string, type: string, body: string | undefined, idempotencyKey?: string): Promise<StreamPosition> {
    const own = this.retentionOf(topic);
    const historySize = own?.messages ?? this.historySize;
    const ttlMs = own === undefined ? this.historyTtlMs : (own.ttlMs ?? 0);
    const minId = ttlMs > 0 ? String(Date.now() - ttlMs) : '0';
    return this.outbox.write(async () => {
      const [epoch, offset] = await this.client.heraldPublish(
        this.streamKey(topic),
        this.metaKey(topic),
        this.topicChannel(topic),
        // In the topic's hash slot, as its stream and meta keys.
        `${this.prefix}t:{${topic}}:k:${idempotencyKey ?? ''}`,
        type,
        body ?? '',
        body === undefined ? '0' : '1',
        String(Math.max(1, historySize)),
        minId,
        randomId(6),
        ttlMs > Number(this.topicTtl) ? String(ttlMs) : this.topicTtl,
        idempotencyKey === undefined ? '0' : this.idempotencyWindow,
      );
      return { epoch, offset: Number(offset) };
    });
  }

  async subscribe(topic: string, listener: TopicListener): Promise<void> {
    let local = this.topics.get(topic);
    if (local === undefined) {
      local = { listeners: new Set(), epoch: '', offset: 0, queue: [] };
      this.topics.set(topic, local);
      let position: StreamPosition;
      try {
        await this.subscriber.subscribe(this.topicChannel(topic));
        position = await this.position(topic);
      } catch (error) {
        if (this.topics.get(topic) === local) this.topics.delete(topic);
        throw error;
      }
      if (local.epoch === '') {
        local.epoch = position.epoch;
        local.offset = position.offset;
      }
      this.drainQueue(topic, local);
    }
    local.listeners.add(listener);
  }

  async unsubscribe(topic: string, listener: TopicListener): Promise<void> {
    const local = this.topics.get(topic);
    if (local === undefined || !local.listeners.delete(listener) || local.listeners.size > 0) return;
    this.topics.delete(topic);
    await this.subscriber.unsubscribe(this.topicChannel(topic));
  }

  async position(topic: string): Promise<StreamPosition> {
    const [epoch, offset] = await this.client.heraldPosition(this.metaKey(topic), randomId(6), this.topicTtl);
    return { epoch, offset: Number(offset) };
  }

  async history(topic: string, since: StreamPosition): Promise<TopicHistory> {
    const [epoch, rawOffset, entries] = await this.client.heraldHistory(
      this.metaKey(topic),
      this.streamKey(topic),
      randomId(6),
      since.epoch,
      since.offset,
      this.topicTtl,
    );
    const offset = Number(rawOffset);
    const position = { epoch, offset };
    if (since.epoch !== epoch || since.offset > offset || since.offset < 0) return { position, messages: [], complete: false };
    if (since.offset === offset) return { position, messages: [], complete: true };
    const messages = entries.map((entry) => parseEntry(topic, epoch, entry)).reverse();
    const complete = messages.length === offset - since.offset && messages[0]?.offset === since.offset + 1;
    return complete ? { position, messages, complete } : { position, messages: [], complete: false };
  }

  sendDirect(channel: string, payload: string): Promise<void> {
    return this.outbox.write(async () => {
      await this.client.publish(this.directChannel(channel), payload);
    });
  }

  async listenDirect(channel: string, listener: DirectListener): Promise<void> {
    let listeners = this.channels.get(channel);
    if (listeners === undefined) {
      this.channels.set(channel, (listeners = new Set()));
      listeners.add(listener);
      await this.subscriber.subscribe(this.directChannel(channel));
      return;
    }
    listeners.add(listener);
  }

  async unlistenDirect(channel: string, listener: DirectListener): Promise<void> {
    const listeners = this.channels.get(channel);
    if (listeners === undefined || !listeners.delete(listener) || listeners.size > 0) return;
    this.channels.delete(channel);
    await this.subscriber.unsubscribe(this.directChannel(channel));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.outbox.clear(new Error('broker closed'));
    this.topics.clear();
    this.channels.clear();
    this.subscriber.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }

  // ---- delivery ------------------------------------------------------------------------------

  private heard(channel: string, message: string): void {
    const topicPrefix = this.prefix + 'tc:';
    if (channel.startsWith(topicPrefix)) {
      const topic = channel.slice(topicPrefix.length);
      const local = this.topics.get(topic);
      if (local !== undefined) this.arrived(topic, local, decodeNotice(topic, message));
      return;
    }
    const listeners = this.channels.get(channel.slice(this.prefix.length + 2));
    if (listeners !== undefined) for (const listener of listeners) listener(message);
  }

  private arrived(topic: string, local: LocalTopic, message: TopicMessage): void {
    if (local.queue !== null) {
      local.queue.push(message);
      return;
    }
    const sameEpoch = message.epoch === local.epoch;
    if (sameEpoch && message.offset <= local.offset) return;
    if (message.offset > (sameEpoch ? local.offset + 1 : 1)) {
      // Missed on the channel (a dropped connection): read the gap from the stream first.
      if (!sameEpoch) {
        local.epoch = message.epoch;
        local.offset = 0;
      }
      local.queue = [message];
      void this.catchUp(topic);
      return;
    }
    this.emit(local, message);
  }

  private emit(local: LocalTopic, message: TopicMessage): void {
    local.epoch = message.epoch;
    local.offset = message.offset;
    for (const listener of local.listeners) listener(message);
  }

  /**
   * Delivers, from the stream, what this node missed of a topic, then what queued meanwhile.
   * When the stream no longer holds the gap, the queued messages go on after it: listeners see
   * the jump (the core tells subscribers with `herald.TopicReset`).
   */
  private async catchUp(topic: string): Promise<void> {
    const local = this.topics.get(topic);
    if (local === undefined || local.epoch === '') return;
    local.queue ??= [];
    try {
      let history = await this.history(topic, { epoch: local.epoch, offset: local.offset });
      // The stream restarted (Redis lost it): what it holds of its new epoch follows.
      if (history.position.epoch !== local.epoch) history = await this.history(topic, { epoch: history.position.epoch, offset: 0 });
      if (this.topics.get(topic) !== local) return;
      for (const message of history.messages) this.emit(local, message);
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
    }
    const first = local.queue?.[0];
    if (first !== undefined && (first.epoch !== local.epoch || first.offset > local.offset + 1)) {
      local.epoch = first.epoch;
      local.offset = first.offset - 1;
    }
    this.drainQueue(topic, local);
  }

  private drainQueue(topic: string, local: LocalTopic): void {
    const queue = local.queue;
    local.queue = null;
    if (queue === null) return;
    for (const message of queue) this.arrived(topic, local, message);
  }
}

/** The channel message the publish script sends: `epoch \n offset \n type \n hasBody body`. */
function decodeNotice(topic: string, message: string): TopicMessage {
  const a = message.indexOf('\n');
  const b = message.indexOf('\n', a + 1);
  const c = message.indexOf('\n', b + 1);
  const hasBody = message.charCodeAt(c + 1) === 49; // '1'
  return {
    topic,
    epoch: message.slice(0, a),
    offset: Number(message.slice(a + 1, b)),
    type: message.slice(b + 1, c),
    body: hasBody ? message.slice(c + 2) : undefined,
  };
}
