/**
 * `RedisLongPollStore`: long-poll connections every node can serve. The node that opened a
 * connection holds its core session and appends what the session sends to a Redis list; a
 * poll on any node reads (and acknowledges) that list, waiting on a per-connection wake-up
 * channel when it is empty; a send on any node is published to the holder's channel. The
 * holder is alive while its session store's heartbeat is and it listens on its channel; once
 * it is gone, requests are answered "unknown session" at once, polls held for its connections
 * on other nodes too, and the client opens a new connection and resumes.
 */
import { CloseCode } from '@herald/core';
import type { LongPollPeer, PollResult, SharedLongPollSocket, SharedLongPollStore, SharedRefusal } from '@herald/long-poll';
import { Redis } from 'ioredis';
import { connectionOptions, type RedisConnection } from './broker.ts';
import type { RedisSessionStore } from './session-store.ts';

/** Options of `RedisLongPollStore`. */
export interface RedisLongPollStoreOptions {
  /** Where Redis is: the same Redis as the session store's. */
  readonly redis?: RedisConnection;
  /** The node's session store: its node id, key prefix and heartbeat say which holders are alive. */
  readonly sessionStore: RedisSessionStore;
}

/**
 * How often a node asks whether the holders of the connections it holds polls for are alive: a
 * holder that died is seen within this of its death (a frozen one, of its heartbeat expiring).
 */
const HOLDER_CHECK_MS = 500;

// Whether a connection's holder is alive: its heartbeat key exists and it listens on its inbox.
// A process that dies stops listening at once (Redis drops its connection), long before its
// heartbeat expires; a frozen one keeps its connection, and is dead once its heartbeat expires.
const ALIVE = `
local function alive(prefix, owner)
  if redis.call('EXISTS', prefix .. 'n:' .. owner) == 0 then return false end
  return redis.call('PUBSUB', 'NUMSUB', prefix .. 'lpin:' .. owner)[2] > 0
end
`;

// The checks every request makes. KEYS: hash. ARGV[1]: '1' .. credential, or '0'; ARGV[2]: prefix.
const CHECK = `${ALIVE}
local function check()
  if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
  local credential = redis.call('HGET', KEYS[1], 'c') or ''
  if string.sub(ARGV[1], 1, 1) == '1' and string.sub(ARGV[1], 2) ~= credential then return 'forbidden' end
  if not alive(ARGV[2], redis.call('HGET', KEYS[1], 'o')) then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 'unknown'
  end
  return nil
end
`;

// ARGV: prefix, then holders. Returns 1 (alive) or 0 per holder.
const ALIVE_SCRIPT = `${ALIVE}
local up = {}
for i = 2, #ARGV do up[i - 1] = alive(ARGV[1], ARGV[i]) and 1 or 0 end
return up
`;

// KEYS: hash, frames. ARGV: owner, credential ('' for none), ttl
const OPEN_SCRIPT = `
redis.call('HSET', KEYS[1], 'o', ARGV[1], 'c', ARGV[2], 'n', 0, 'b', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0
`;

// KEYS: hash, frames. ARGV: frame. Returns the bytes buffered, or -1 when the connection is gone.
// Waiting polls are woken once per tick, after every frame of the tick (see `RedisLongPollSocket`).
const APPEND_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[2], redis.call('PTTL', KEYS[1]))
redis.call('HINCRBY', KEYS[1], 'n', 1)
return redis.call('HINCRBY', KEYS[1], 'b', string.len(ARGV[1]))
`;

// KEYS: hash. ARGV: closed JSON
const CLOSE_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'x', ARGV[1])
return 1
`;

// KEYS: hash, frames. ARGV: credential, prefix, ack, ttl
const POLL_SCRIPT = `${CHECK}
local refused = check()
if refused then return {refused} end
local len = redis.call('LLEN', KEYS[2])
local from = tonumber(redis.call('HGET', KEYS[1], 'n')) - len + 1
local drop = math.min(tonumber(ARGV[3]) - from + 1, len)
if drop > 0 then
  local bytes = 0
  for _, frame in ipairs(redis.call('LRANGE', KEYS[2], 0, drop - 1)) do bytes = bytes + string.len(frame) end
  redis.call('LTRIM', KEYS[2], drop, -1)
  redis.call('HINCRBY', KEYS[1], 'b', -bytes)
  from = from + drop
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return {'ok', from, redis.call('HGET', KEYS[1], 'x') or '', redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGET', KEYS[1], 'o')}
`;

// KEYS: hash, frames. ARGV: credential, prefix, ttl, payload (without the owner), delete ('1' or '0')
const SEND_SCRIPT = `${CHECK}
local refused = check()
if refused then return refused end
local owner = redis.call('HGET', KEYS[1], 'o')
redis.call('PUBLISH', ARGV[2] .. 'lpin:' .. owner, ARGV[4])
if ARGV[5] == '1' then redis.call('DEL', KEYS[1], KEYS[2]) else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 'ok'
`;

interface LongPollRedis extends Redis {
  heraldLpOpen(hash: string, frames: string, owner: string, credential: string, ttl: string): Promise<number>;
  heraldLpAppend(hash: string, frames: string, frame: string): Promise<number>;
  heraldLpClose(hash: string, closed: string): Promise<number>;
  heraldLpPoll(hash: string, frames: string, credential: string, prefix: string, ack: string, ttl: string): Promise<[string, number?, string?, string[]?, string?]>;
  heraldLpSend(hash: string, frames: string, credential: string, prefix: string, ttl: string, payload: string, remove: string): Promise<string>;
  heraldLpAlive(prefix: string, ...holders: string[]): Promise<number[]>;
}

/** What a poll read, and which node holds the connection. */
interface HolderRead extends PollResult {
  readonly holder: string;
}

/** The polls waiting on one connection, and the node that holds it. */
interface Waiting {
  readonly holder: string;
  readonly wakes: Set<() => void>;
}

/**
 * A connection this node holds: its frames go to Redis. What it writes in one tick (a Goodbye
 * and its close, a burst of notifications) is one wake-up for the polls waiting on it, sent
 * after the writes on the same connection, so a woken poll reads all of it.
 */
class RedisLongPollSocket implements SharedLongPollSocket {
  readonly transport = 'long-poll';
  connection: LongPollPeer | undefined;
  closedWith: { code: number; reason: string } | undefined;
  private waking = false;
  /** Always 0: the buffer is in Redis and drained by polls on any node; past `maxBufferedBytes` the connection closes (4507). */
  readonly bufferedAmount = 0;

  constructor(
    private readonly store: RedisLongPollStore,
    readonly sid: string,
    private readonly maxBufferedBytes: number,
  ) {}

  send(frame: string): void {
    if (this.closedWith !== undefined) return;
    this.store.append(this.sid, frame).then(
      (bytes) => {
        if (bytes < 0) this.gone();
        else if (bytes > this.maxBufferedBytes) this.close(CloseCode.SlowConsumer, 'slow consumer: long-poll buffer full');
      },
      () => this.gone(),
    );
    this.wake();
  }

  close(code: number, reason: string): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = { code, reason };
    this.store.closed(this.sid, this.closedWith);
    this.wake();
  }

  private wake(): void {
    if (this.waking) return;
    this.waking = true;
    queueMicrotask(() => {
      this.waking = false;
      this.store.wake(this.sid);
    });
  }

  /** The connection expired or could not be written: the session sees a dropped transport. */
  gone(): void {
    if (!this.store.forgetSocket(this)) return;
    this.closedWith ??= { code: 1006, reason: 'long-poll connection gone' };
    this.connection?.closed(1006);
  }
}

/**
 * Long-poll connections shared by every node through Redis. Pass it as the long-poll
 * handler's `store`, next to a `RedisSessionStore` given to `createHerald`.
 *
 * @example
 * const sessionStore = new RedisSessionStore({ redis: url });
 * const herald = createHerald({ contract, handlers, broker: new RedisBroker({ redis: url }), sessionStore });
 * const longPoll = createLongPollHandler(herald, { store: new RedisLongPollStore({ redis: url, sessionStore }) });
 */
export class RedisLongPollStore implements SharedLongPollStore {
  readonly shared = true;
  /** Settles once this node hears sends addressed to it: await it before serving, as until then every node (this one too) counts the connections it holds as gone. */
  readonly ready: Promise<void>;
  private readonly client: LongPollRedis;
  private readonly subscriber: Redis;
  private readonly prefix: string;
  private readonly nodeId: string;
  private readonly sockets = new Map<string, RedisLongPollSocket>();
  /** Polls waiting per connection, woken by its channel or by its holder's death. */
  private readonly waiting = new Map<string, Waiting>();
  /** Polls being answered: `close` lets them finish before it closes the connection. */
  private readonly polling = new Set<Promise<unknown>>();
  private sweep: ReturnType<typeof setInterval> | undefined;
  /** Runs while polls wait on connections other nodes hold. */
  private holderCheck: ReturnType<typeof setInterval> | undefined;
  private checkingHolders = false;
  /** Set by `close`: polls are answered at once from then on, not held. */
  private closing = false;
  private idleTimeoutMs = 60_000;

  constructor(options: RedisLongPollStoreOptions) {
    this.prefix = options.sessionStore.prefix;
    this.nodeId = options.sessionStore.nodeId;
    const redisOptions = connectionOptions(options.redis);
    this.client = new Redis(redisOptions) as LongPollRedis;
    this.client.defineCommand('heraldLpOpen', { numberOfKeys: 2, lua: OPEN_SCRIPT });
    this.client.defineCommand('heraldLpAppend', { numberOfKeys: 2, lua: APPEND_SCRIPT });
    this.client.defineCommand('heraldLpClose', { numberOfKeys: 1, lua: CLOSE_SCRIPT });
    this.client.defineCommand('heraldLpPoll', { numberOfKeys: 2, lua: POLL_SCRIPT });
    this.client.defineCommand('heraldLpSend', { numberOfKeys: 2, lua: SEND_SCRIPT });
    this.client.defineCommand('heraldLpAlive', { numberOfKeys: 0, lua: ALIVE_SCRIPT });
    this.client.on('error', () => {});
    this.subscriber = new Redis(redisOptions);
    this.subscriber.on('error', () => {});
    this.subscriber.on('message', (channel: string, message: string) => this.heard(channel, message));
    this.ready = this.subscriber.subscribe(this.inbox).then(() => undefined);
  }

  private get inbox(): string {
    return `${this.prefix}lpin:${this.nodeId}`;
  }

  private hashKey(sid: string): string {
    return `${this.prefix}lp:${sid}`;
  }

  private wakeChannel(sid: string): string {
    return `${this.prefix}lpw:${sid}`;
  }

  get size(): number {
    return this.sockets.size;
  }

  open(sid: string, credential: string | null, maxBufferedBytes: number, idleTimeoutMs: number): SharedLongPollSocket {
    this.idleTimeoutMs = idleTimeoutMs;
    const socket = new RedisLongPollSocket(this, sid, maxBufferedBytes);
    this.sockets.set(sid, socket);
    const key = this.hashKey(sid);
    this.client.heraldLpOpen(key, key + ':f', this.nodeId, credential ?? '', String(idleTimeoutMs)).catch(() => socket.gone());
    this.sweep ??= setInterval(() => void this.expire(), Math.min(5000, idleTimeoutMs / 2));
    return socket;
  }

  /** @internal */
  append(sid: string, frame: string): Promise<number> {
    const key = this.hashKey(sid);
    return this.client.heraldLpAppend(key, key + ':f', frame);
  }

  /** @internal */
  closed(sid: string, closed: { code: number; reason: string }): void {
    this.client.heraldLpClose(this.hashKey(sid), JSON.stringify(closed)).catch(() => {});
  }

  /** @internal Wakes the polls waiting on a connection, on whichever node they are held. */
  wake(sid: string): void {
    this.client.publish(this.wakeChannel(sid), '').catch(() => {});
  }

  /** @internal True when the socket was still held here. */
  forgetSocket(socket: RedisLongPollSocket): boolean {
    if (this.sockets.get(socket.sid) !== socket) return false;
    this.sockets.delete(socket.sid);
    if (this.sockets.size === 0) {
      clearInterval(this.sweep);
      this.sweep = undefined;
    }
    return true;
  }

  /** Connections whose keys expired (no client request for `idleTimeoutMs`) are dropped. */
  private async expire(): Promise<void> {
    const sockets = [...this.sockets.values()];
    if (sockets.length === 0 || this.client.status !== 'ready') return;
    const pipeline = this.client.pipeline();
    for (const socket of sockets) pipeline.exists(this.hashKey(socket.sid));
    const results = await pipeline.exec().catch(() => null);
    results?.forEach(([error, exists], index) => {
      if (error === null && exists === 0) sockets[index]?.gone();
    });
  }

  private heard(channel: string, message: string): void {
    if (channel === this.inbox) {
      const newline = message.indexOf('\n');
      const sid = message.slice(1, newline === -1 ? undefined : newline);
      const socket = this.sockets.get(sid);
      if (socket === undefined) return;
      if (message.charCodeAt(0) === 99 /* c */) {
        this.forgetSocket(socket);
        socket.connection?.closed(1000);
        return;
      }
      for (const frame of JSON.parse(message.slice(newline + 1)) as string[]) socket.connection?.receive(frame);
      return;
    }
    const sid = channel.slice(this.prefix.length + 4);
    for (const wake of this.waiting.get(sid)?.wakes ?? []) wake();
  }

  /** Wakes the polls waiting on connections whose holder is dead: their next read refuses them. */
  private async checkHolders(): Promise<void> {
    const holders = new Set<string>();
    for (const { holder } of this.waiting.values()) if (holder !== this.nodeId) holders.add(holder);
    if (holders.size === 0) {
      clearInterval(this.holderCheck);
      this.holderCheck = undefined;
      return;
    }
    if (this.checkingHolders || this.client.status !== 'ready') return;
    this.checkingHolders = true;
    const asked = [...holders];
    const alive = await this.client.heraldLpAlive(this.prefix, ...asked).catch(() => undefined);
    this.checkingHolders = false;
    const dead = new Set(asked.filter((_, index) => alive?.[index] === 0));
    if (dead.size === 0) return;
    for (const { holder, wakes } of this.waiting.values()) if (dead.has(holder)) for (const wake of wakes) wake();
  }

  private async read(sid: string, credential: string | null, ack: number): Promise<HolderRead | SharedRefusal> {
    const key = this.hashKey(sid);
    const [state, from, closed, frames, holder] = await this.client.heraldLpPoll(
      key,
      key + ':f',
      credential === null ? '0' : '1' + credential,
      this.prefix,
      String(ack),
      String(this.idleTimeoutMs),
    );
    if (state !== 'ok') return state as SharedRefusal;
    return {
      from: Number(from),
      frames: frames ?? [],
      closed: closed === undefined || closed === '' ? undefined : (JSON.parse(closed) as { code: number; reason: string }),
      holder: holder ?? '',
    };
  }

  poll(sid: string, credential: string | null, ack: number, holdMs: number, signal?: AbortSignal): Promise<PollResult | SharedRefusal> {
    const answer = this.pollNow(sid, credential, ack, holdMs, signal);
    this.polling.add(answer);
    const settled = (): void => void this.polling.delete(answer);
    answer.then(settled, settled);
    return answer;
  }

  private async pollNow(sid: string, credential: string | null, ack: number, holdMs: number, signal?: AbortSignal): Promise<PollResult | SharedRefusal> {
    const first = await this.read(sid, credential, ack);
    if (typeof first === 'string' || first.frames.length > 0 || first.closed !== undefined || holdMs <= 0 || this.closing) return first;
    let wake = (): void => {};
    const woken = new Promise<void>((resolve) => (wake = resolve));
    let waiting = this.waiting.get(sid);
    if (waiting === undefined) {
      this.waiting.set(sid, (waiting = { holder: first.holder, wakes: new Set() }));
      await this.subscriber.subscribe(this.wakeChannel(sid));
    }
    waiting.wakes.add(wake);
    // `close` may have come while this subscribed: it woke the polls it found, not this one.
    if (this.closing) wake();
    else if (first.holder !== this.nodeId) this.holderCheck ??= setInterval(() => void this.checkHolders(), HOLDER_CHECK_MS);
    const timer = setTimeout(wake, holdMs);
    signal?.addEventListener('abort', wake, { once: true });
    try {
      // Read again now that a wake-up cannot be missed, then wait for one.
      const again = await this.read(sid, credential, ack);
      if (typeof again === 'string' || again.frames.length > 0 || again.closed !== undefined) return again;
      await woken;
      return await this.read(sid, credential, ack);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', wake);
      waiting.wakes.delete(wake);
      if (waiting.wakes.size === 0 && this.waiting.get(sid) === waiting) {
        this.waiting.delete(sid);
        this.subscriber.unsubscribe(this.wakeChannel(sid)).catch(() => {});
      }
    }
  }

  async send(sid: string, credential: string | null, frames: readonly string[]): Promise<true | SharedRefusal> {
    return this.forward(sid, credential, 'f' + sid + '\n' + JSON.stringify(frames), false);
  }

  async delete(sid: string, credential: string | null): Promise<true | SharedRefusal> {
    return this.forward(sid, credential, 'c' + sid, true);
  }

  private async forward(sid: string, credential: string | null, payload: string, remove: boolean): Promise<true | SharedRefusal> {
    const key = this.hashKey(sid);
    const state = await this.client.heraldLpSend(
      key,
      key + ':f',
      credential === null ? '0' : '1' + credential,
      this.prefix,
      String(this.idleTimeoutMs),
      payload,
      remove ? '1' : '0',
    );
    return state === 'ok' ? true : (state as SharedRefusal);
  }

  /**
   * For the handler's `close`: answers every poll held here with what there is. Those of
   * connections this node holds carry their Goodbye (a server shutting down has just written it,
   * on this connection, so it is in); those of connections held elsewhere come back as they are,
   * and their clients poll again, on another node. Requests that still arrive are served until
   * `disconnect`, polls without being held.
   */
  close(): void {
    this.closing = true;
    clearInterval(this.sweep);
    this.sweep = undefined;
    clearInterval(this.holderCheck);
    this.holderCheck = undefined;
    for (const { wakes } of this.waiting.values()) for (const wake of wakes) wake();
    this.sockets.clear();
  }

  /** Closes the connections to Redis once the polls being answered are done; call it last, after the server's `close`. */
  async disconnect(): Promise<void> {
    this.close();
    await Promise.allSettled([...this.polling]);
    this.subscriber.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
