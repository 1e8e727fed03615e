/**
 * `RedisSessionStore`: the core's `SessionStore` on Redis. Per session, a hash (user, owning
 * node, last `seq`) and a stream as its mailbox, whose entry ids are the notifications' `seq`;
 * per user, the set of its sessions; per request id, its claim and then its answer; per node,
 * a heartbeat key and a channel on which it hears of notifications for the sessions it owns
 * and of sessions other nodes claimed from it. Everything that must be atomic is one Lua
 * script. Keys expire `resumeWindowMs` after their owner stops refreshing them.
 */
import {
  idempotencyWindow,
  randomId,
  type ClaimedSession,
  type RequestClaim,
  type SessionStore,
  type SessionStoreLimits,
  type SessionStoreListener,
  type StoredNotification,
} from '@herald/core';
import { Redis } from 'ioredis';
import { connectionOptions, type RedisConnection, type RedisHealth } from './broker.ts';

/** Options of `RedisSessionStore`. */
export interface RedisSessionStoreOptions {
  /** Where Redis is (default `127.0.0.1:6379`). */
  readonly redis?: RedisConnection;
  /** Prefix of every key and channel (default `herald:`); the same on every node. */
  readonly prefix?: string;
  /** This node's id (default random). Unique per running process. */
  readonly nodeId?: string;
  /** A node not heard from for this long is dead: requests it was running are answered `outcome_unknown` (default 3000 ms). */
  readonly nodeTimeoutMs?: number;
  /** How long a `sendToUser` `idempotencyKey` is remembered per user, for every node (default 5 minutes). */
  readonly idempotencyWindowMs?: number;
}

// Shared by the scripts that append to mailboxes. ARGV of the caller: prefix, window, ttl.
const APPEND = `
local function append(prefix, sid, t, hasBody, b, window, ttl)
  local skey = prefix .. 's:' .. sid
  local owner = redis.call('HGET', skey, 'o')
  if not owner then return nil end
  local seq = redis.call('HINCRBY', skey, 'q', 1)
  local mkey = skey .. ':m'
  if hasBody == '1' then
    redis.call('XADD', mkey, 'MAXLEN', window, seq .. '-0', 't', t, 'b', b)
  else
    redis.call('XADD', mkey, 'MAXLEN', window, seq .. '-0', 't', t)
  end
  redis.call('PEXPIRE', mkey, ttl)
  redis.call('PUBLISH', prefix .. 'node:' .. owner, 'n' .. sid .. '\\n' .. seq .. '\\n' .. t .. '\\n' .. hasBody .. b)
  return seq
end
`;

// ARGV: prefix, window, ttl, sid, type, hasBody, body
const NOTIFY_SCRIPT = `${APPEND}
return append(ARGV[1], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[2], ARGV[3])
`;

// KEYS: user set, idempotency key. ARGV: prefix, window, ttl, type, hasBody, body, idempotency
// window ('0': no key). A key used within its window appends nothing.
const NOTIFY_USER_SCRIPT = `${APPEND}
if ARGV[7] ~= '0' then
  if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[7]) == false then return 1 end
end
for _, sid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not append(ARGV[1], sid, ARGV[4], ARGV[5], ARGV[6], ARGV[2], ARGV[3]) then redis.call('SREM', KEYS[1], sid) end
end
return 0
`;

// KEYS: session, user set. ARGV: user, node, ttl, sid
const CREATE_SCRIPT = `
redis.call('HSET', KEYS[1], 'u', ARGV[1], 'o', ARGV[2], 'q', 0)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('SADD', KEYS[2], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 0
`;

// KEYS: session, mailbox, user set. ARGV: prefix, user, node, first seq wanted, ttl, sid
const CLAIM_SCRIPT = `
local owner = redis.call('HGET', KEYS[1], 'o')
if not owner or redis.call('HGET', KEYS[1], 'u') ~= ARGV[2] then return nil end
redis.call('HSET', KEYS[1], 'o', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[6])
redis.call('PEXPIRE', KEYS[3], ARGV[5])
if owner ~= ARGV[3] then redis.call('PUBLISH', ARGV[1] .. 'node:' .. owner, 't' .. ARGV[6]) end
return {tonumber(redis.call('HGET', KEYS[1], 'q')), redis.call('XRANGE', KEYS[2], ARGV[4], '+')}
`;

// KEYS: session, mailbox. ARGV: prefix, node, sid
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[2] then return 0 end
local user = redis.call('HGET', KEYS[1], 'u')
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', ARGV[1] .. 'u:' .. user, ARGV[3])
return 1
`;

// KEYS: request, session. ARGV: prefix, node, type, ttl
// A session Redis no longer holds lost its requests' records with it (Redis restarted empty,
// or was flushed): an id it has no record of may have run before, so it is not run now.
const BEGIN_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if not v then
  if redis.call('EXISTS', KEYS[2]) == 0 then return {'lost'} end
  redis.call('SET', KEYS[1], 'p' .. ARGV[2] .. ' ' .. ARGV[3], 'PX', ARGV[4])
  return {'new'}
end
if string.sub(v, 1, 1) == 'd' then
  local nl = string.find(v, '\\n', 1, true)
  local t = string.sub(v, 2, nl - 1)
  if t ~= ARGV[3] then return {'conflict', t} end
  return {'done', string.sub(v, nl + 1)}
end
local sp = string.find(v, ' ', 1, true)
local node = string.sub(v, 2, sp - 1)
local t = string.sub(v, sp + 1)
if t ~= ARGV[3] then return {'conflict', t} end
if node == ARGV[2] or redis.call('EXISTS', ARGV[1] .. 'n:' .. node) == 1 then return {'running'} end
return {'lost'}
`;

// KEYS: request. ARGV: frame, ttl
const FINISH_SCRIPT = `
local v = redis.call('GET', KEYS[1])
local t = ''
if v and string.sub(v, 1, 1) == 'p' then t = string.sub(v, string.find(v, ' ', 1, true) + 1) end
if v and string.sub(v, 1, 1) == 'd' then return 0 end
redis.call('SET', KEYS[1], 'd' .. t .. '\\n' .. ARGV[1], 'PX', ARGV[2])
return 1
`;

/** The longest period between two refreshes of the owned sessions (keys and heads). */
const REFRESH_MS = 5000;

type StreamEntry = [id: string, fields: string[]];

interface StoreRedis extends Redis {
  heraldNotify(...args: string[]): Promise<number | null>;
  heraldNotifyUser(user: string, key: string, ...args: string[]): Promise<number>;
  heraldCreate(session: string, user: string, ...args: string[]): Promise<number>;
  heraldClaim(session: string, mailbox: string, user: string, ...args: string[]): Promise<[number, StreamEntry[]] | null>;
  heraldRelease(session: string, mailbox: string, ...args: string[]): Promise<number>;
  heraldBegin(request: string, session: string, ...args: string[]): Promise<[string, string?]>;
  heraldFinish(request: string, frame: string, ttl: string): Promise<number>;
}

function parseEntry(entry: StreamEntry): StoredNotification {
  const fields = entry[1];
  let type = '';
  let body: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] === 't') type = fields[i + 1] as string;
    else if (fields[i] === 'b') body = fields[i + 1] as string;
  }
  return { seq: Number(entry[0].slice(0, entry[0].indexOf('-'))), type, body };
}

/**
 * Sessions shared by every node on one Redis: resume, replay, de-duplicated retries and
 * send-to-user work whichever node a client reaches.
 *
 * @example
 * const sessionStore = new RedisSessionStore({ redis: process.env.REDIS_URL });
 * const herald = createHerald({ contract, handlers, broker: new RedisBroker({ redis: process.env.REDIS_URL }), sessionStore });
 */
export class RedisSessionStore implements SessionStore {
  /** This node's id, as other nodes see it. */
  readonly nodeId: string;
  /** Settles once this node listens on its channel: await it before serving clients. */
  readonly ready: Promise<void>;
  private readonly client: StoreRedis;
  private readonly subscriber: Redis;
  /** The prefix of every key and channel. */
  readonly prefix: string;
  private readonly nodeTimeoutMs: number;
  /** `idempotencyWindowMs` as the scripts take it. */
  private readonly idempotencyWindow: string;
  private listener: SessionStoreListener | undefined;
  private limits: SessionStoreLimits = { replayWindow: 1000, resumeWindowMs: 120_000 };
  /** Sessions this node owns, with their user: their keys are kept alive by `refresh`. */
  private readonly owned = new Map<string, string>();
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private refresher: ReturnType<typeof setInterval> | undefined;
  private lastError: string | undefined;
  private closed = false;

  constructor(options: RedisSessionStoreOptions = {}) {
    this.prefix = options.prefix ?? 'herald:';
    this.nodeId = options.nodeId ?? randomId(12);
    this.nodeTimeoutMs = options.nodeTimeoutMs ?? 3000;
    this.idempotencyWindow = String(idempotencyWindow('RedisSessionStore', options.idempotencyWindowMs));
    const redisOptions = connectionOptions(options.redis);
    this.client = new Redis(redisOptions) as StoreRedis;
    this.client.defineCommand('heraldNotify', { numberOfKeys: 0, lua: NOTIFY_SCRIPT });
    this.client.defineCommand('heraldNotifyUser', { numberOfKeys: 2, lua: NOTIFY_USER_SCRIPT });
    this.client.defineCommand('heraldCreate', { numberOfKeys: 2, lua: CREATE_SCRIPT });
    this.client.defineCommand('heraldClaim', { numberOfKeys: 3, lua: CLAIM_SCRIPT });
    this.client.defineCommand('heraldRelease', { numberOfKeys: 2, lua: RELEASE_SCRIPT });
    this.client.defineCommand('heraldBegin', { numberOfKeys: 2, lua: BEGIN_SCRIPT });
    this.client.defineCommand('heraldFinish', { numberOfKeys: 1, lua: FINISH_SCRIPT });
    this.subscriber = new Redis(redisOptions);
    const noteError = (error: Error): void => {
      this.lastError = error.message;
    };
    this.client.on('error', noteError);
    this.subscriber.on('error', noteError);
    this.client.on('ready', () => {
      this.lastError = undefined;
      this.beat();
    });
    this.subscriber.on('message', (_channel: string, message: string) => this.heard(message));
    this.ready = this.subscriber.subscribe(this.nodeChannel(this.nodeId)).then(() => undefined);
    this.heartbeat = setInterval(() => this.beat(), Math.max(100, Math.floor(this.nodeTimeoutMs / 3)));
    this.heartbeat.unref?.();
  }

  private nodeChannel(nodeId: string): string {
    return `${this.prefix}node:${nodeId}`;
  }

  private sessionKey(sessionId: string): string {
    return `${this.prefix}s:${sessionId}`;
  }

  private userKey(userId: string): string {
    return `${this.prefix}u:${userId}`;
  }

  private requestKey(sessionId: string, requestId: string): string {
    return `${this.prefix}s:${sessionId}:r:${requestId}`;
  }

  /** How long a session outlives its owner. */
  private get ttl(): string {
    return String(this.limits.resumeWindowMs);
  }

  private beat(): void {
    if (this.client.status !== 'ready') return;
    this.client.set(`${this.prefix}n:${this.nodeId}`, '1', 'PX', this.nodeTimeoutMs).catch(() => {
      // The next beat tries again; missing beats only make other nodes call this one dead.
    });
  }

  /**
   * Keeps the keys of owned sessions from expiring, in one pipeline per period; reports the
   * sessions Redis no longer has (it restarted, or was flushed), and every session's head
   * `seq`, so the server sees what a dropped channel message did not bring.
   */
  private refresh(): void {
    if (this.owned.size === 0 || this.client.status !== 'ready') return;
    const pipeline = this.client.pipeline();
    const ttl = this.ttl;
    const sessions = [...this.owned];
    for (const [sessionId, userId] of sessions) {
      const key = this.sessionKey(sessionId);
      pipeline.pexpire(key, ttl).pexpire(key + ':m', ttl).pexpire(this.userKey(userId), ttl).hget(key, 'q');
    }
    pipeline.exec().then(
      (results) => {
        sessions.forEach(([sessionId], index) => {
          const [error, found] = results?.[index * 4] ?? [null, 1];
          if (error !== null || !this.owned.has(sessionId)) return;
          if (found === 0) {
            this.owned.delete(sessionId);
            this.listener?.lost(sessionId);
            return;
          }
          const [headError, head] = results?.[index * 4 + 3] ?? [null, null];
          if (headError === null && head !== null) this.listener?.head?.(sessionId, Number(head));
        });
      },
      () => {
        // Retried next period; keys live a whole resume window, many periods.
      },
    );
  }

  private own(sessionId: string, userId: string): void {
    this.owned.set(sessionId, userId);
    if (this.refresher === undefined) {
      this.refresher = setInterval(() => this.refresh(), Math.max(50, Math.min(REFRESH_MS, Math.floor(this.limits.resumeWindowMs / 4))));
      this.refresher.unref?.();
    }
  }

  private heard(message: string): void {
    const listener = this.listener;
    if (listener === undefined) return;
    if (message.charCodeAt(0) === 116 /* t */) {
      const sessionId = message.slice(1);
      this.owned.delete(sessionId);
      listener.takenOver(sessionId);
      return;
    }
    const a = message.indexOf('\n');
    const b = message.indexOf('\n', a + 1);
    const c = message.indexOf('\n', b + 1);
    const hasBody = message.charCodeAt(c + 1) === 49; /* 1 */
    listener.notification(message.slice(1, a), {
      seq: Number(message.slice(a + 1, b)),
      type: message.slice(b + 1, c),
      body: hasBody ? message.slice(c + 2) : undefined,
    });
  }

  /** The link to Redis, for a health endpoint (`outbox` is always 0: session writes are not queued). */
  health(): RedisHealth {
    const up = this.client.status === 'ready' && this.subscriber.status === 'ready';
    return { status: up ? 'ok' : 'down', outbox: 0, lastError: this.lastError };
  }

  attach(listener: SessionStoreListener, limits: SessionStoreLimits): void {
    this.listener = listener;
    this.limits = limits;
  }

  async create(sessionId: string, userId: string): Promise<void> {
    this.own(sessionId, userId);
    await this.client.heraldCreate(this.sessionKey(sessionId), this.userKey(userId), userId, this.nodeId, this.ttl, sessionId);
  }

  async notify(sessionId: string, type: string, body: string | undefined): Promise<number | undefined> {
    const seq = await this.client.heraldNotify(
      this.prefix,
      String(this.limits.replayWindow),
      this.ttl,
      sessionId,
      type,
      body === undefined ? '0' : '1',
      body ?? '',
    );
    return seq === null ? undefined : Number(seq);
  }

  async notifyUser(userId: string, type: string, body: string | undefined, idempotencyKey?: string): Promise<void> {
    await this.client.heraldNotifyUser(
      this.userKey(userId),
      `${this.userKey(userId)}:k:${idempotencyKey ?? ''}`,
      this.prefix,
      String(this.limits.replayWindow),
      this.ttl,
      type,
      body === undefined ? '0' : '1',
      body ?? '',
      idempotencyKey === undefined ? '0' : this.idempotencyWindow,
    );
  }

  async read(sessionId: string, after: number): Promise<readonly StoredNotification[]> {
    const entries = (await this.client.xrange(this.sessionKey(sessionId) + ':m', `${after + 1}-0`, '+')) as StreamEntry[];
    return entries.map(parseEntry);
  }

  async ack(sessionId: string, seq: number): Promise<void> {
    await this.client.xtrim(this.sessionKey(sessionId) + ':m', 'MINID', `${seq + 1}-0`);
  }

  async claim(sessionId: string, userId: string, after: number): Promise<ClaimedSession | undefined> {
    const key = this.sessionKey(sessionId);
    const claimed = await this.client.heraldClaim(
      key,
      key + ':m',
      this.userKey(userId),
      this.prefix,
      userId,
      this.nodeId,
      `${after + 1}-0`,
      this.ttl,
      sessionId,
    );
    if (claimed === null) return undefined;
    this.own(sessionId, userId);
    return { seq: Number(claimed[0]), notifications: claimed[1].map(parseEntry) };
  }

  async release(sessionId: string): Promise<void> {
    this.owned.delete(sessionId);
    const key = this.sessionKey(sessionId);
    await this.client.heraldRelease(key, key + ':m', this.prefix, this.nodeId, sessionId);
  }

  forget(sessionId: string): void {
    this.owned.delete(sessionId);
  }

  async beginRequest(sessionId: string, requestId: string, type: string): Promise<RequestClaim> {
    const [state, value] = await this.client.heraldBegin(
      this.requestKey(sessionId, requestId),
      this.sessionKey(sessionId),
      this.prefix,
      this.nodeId,
      type,
      this.ttl,
    );
    switch (state) {
      case 'done':
        return { state, frame: value as string };
      case 'conflict':
        return { state, type: value as string };
      case 'new':
      case 'running':
      case 'lost':
        return { state };
      default:
        throw new Error(`unexpected request state ${state}`);
    }
  }

  async finishRequest(sessionId: string, requestId: string, frame: string): Promise<void> {
    await this.client.heraldFinish(this.requestKey(sessionId, requestId), frame, this.ttl);
  }

  /** Stops the heartbeat and closes the connections; sessions owned here stay resumable elsewhere. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    clearInterval(this.refresher);
    this.owned.clear();
    this.subscriber.disconnect();
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
