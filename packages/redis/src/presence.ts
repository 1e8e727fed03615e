/**
 * `RedisPresence`: the core's `PresenceStore` on Redis, so every node sees the same members.
 * Per topic, three hashes in the topic's hash slot: its sessions (session → user and owning
 * node), its users' session counts, and its users' states; joins, updates and leaves are one
 * Lua script each. Every node refreshes a heartbeat key and lists what it owns; a node whose
 * heartbeat lapsed is reaped by the first live node to notice (its members leave, with diffs),
 * so the members of a node that died disappear within `nodeTimeoutMs` plus a heartbeat. A
 * Redis that restarted empty is noticed by a marker key, and every node announces its own
 * members again.
 */
import { randomId, type PresenceChange, type PresenceMember, type PresencePage, type PresenceStore, type PresenceStoreListener } from '@herald/core';
import { Redis } from 'ioredis';
import { connectionOptions, type RedisConnection, type RedisHealth } from './broker.ts';

/** Options of `RedisPresence`. */
export interface RedisPresenceOptions {
  /** Where Redis is (default `127.0.0.1:6379`). */
  readonly redis?: RedisConnection;
  /** Prefix of every key (default `herald:`); the same on every node. */
  readonly prefix?: string;
  /** This node's id (default random). Unique per running process. */
  readonly nodeId?: string;
  /** A node whose heartbeat is older than this is dead, and its members leave (default 3000 ms). */
  readonly nodeTimeoutMs?: number;
  /** How often this node refreshes its heartbeat and looks for dead nodes (default a third of `nodeTimeoutMs`). */
  readonly heartbeatMs?: number;
}

// KEYS: sessions, users, states. ARGV: session, user, node.
const JOIN_SCRIPT = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '\\t' .. ARGV[3])
if owner then return {0, 0, tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '1'), redis.call('HGET', KEYS[3], ARGV[2]) or false} end
local occupied = redis.call('HLEN', KEYS[2]) == 0
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
return {n == 1 and 1 or 0, occupied and 1 or 0, n, redis.call('HGET', KEYS[3], ARGV[2]) or false}
`;

// KEYS: sessions, users, states. ARGV: session, user, node ('' for any).
const LEAVE_SCRIPT = `
local owner = redis.call('HGET', KEYS[1], ARGV[1])
if not owner then return {0, 0, -1, false} end
if ARGV[3] ~= '' and owner ~= ARGV[2] .. '\\t' .. ARGV[3] then return {0, 0, -1, false} end
redis.call('HDEL', KEYS[1], ARGV[1])
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], -1)
if n > 0 then return {0, 0, n, redis.call('HGET', KEYS[3], ARGV[2]) or false} end
redis.call('HDEL', KEYS[2], ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
return {1, redis.call('HLEN', KEYS[2]) == 0 and 1 or 0, 0, false}
`;

// KEYS: sessions, users, states. ARGV: session, state (JSON).
const UPDATE_SCRIPT = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return false end
local user = string.match(redis.call('HGET', KEYS[1], ARGV[1]), '^(.-)\\t')
redis.call('HSET', KEYS[3], user, ARGV[2])
return tonumber(redis.call('HGET', KEYS[2], user) or '1')
`;

type ScriptReply = [number, number, number, string | null];

interface PresenceRedis extends Redis {
  heraldPresenceJoin(sessions: string, users: string, states: string, session: string, user: string, node: string): Promise<ScriptReply>;
  heraldPresenceLeave(sessions: string, users: string, states: string, session: string, user: string, node: string): Promise<ScriptReply>;
  heraldPresenceUpdate(sessions: string, users: string, states: string, session: string, state: string): Promise<number | null>;
}

/** What this node joined, so that it can say so again to a Redis that lost it. */
interface Owned {
  readonly topic: string;
  readonly userId: string;
  readonly sessionId: string;
}

const NOTHING: PresenceChange = { member: undefined, occupied: false, vacated: false };

function member(userId: string, connections: number, state: string | null | undefined): PresenceMember {
  return state === null || state === undefined ? { userId, connections } : { userId, state: JSON.parse(state) as unknown, connections };
}

/**
 * Presence shared by every node on one Redis.
 *
 * @example
 * const presence = new RedisPresence({ redis: process.env.REDIS_URL });
 * const herald = createHerald({ contract, handlers, broker, sessionStore, presence });
 */
export class RedisPresence implements PresenceStore {
  private readonly client: PresenceRedis;
  private readonly prefix: string;
  readonly nodeId: string;
  private readonly nodeTimeoutMs: number;
  private readonly owned = new Map<string, Owned>();
  private listener: PresenceStoreListener | undefined;
  private readonly timer: ReturnType<typeof setInterval>;
  /** The marker this node set: when Redis no longer holds it, Redis lost everything. */
  private marker: string | undefined;
  private lastError: string | undefined;
  private beating: Promise<void> | undefined;
  private beats = 0;
  private closed = false;

  constructor(options: RedisPresenceOptions = {}) {
    this.prefix = options.prefix ?? 'herald:';
    this.nodeId = options.nodeId ?? randomId(12);
    this.nodeTimeoutMs = options.nodeTimeoutMs ?? 3000;
    this.client = new Redis(connectionOptions(options.redis)) as PresenceRedis;
    this.client.defineCommand('heraldPresenceJoin', { numberOfKeys: 3, lua: JOIN_SCRIPT });
    this.client.defineCommand('heraldPresenceLeave', { numberOfKeys: 3, lua: LEAVE_SCRIPT });
    this.client.defineCommand('heraldPresenceUpdate', { numberOfKeys: 3, lua: UPDATE_SCRIPT });
    this.client.on('error', (error: Error) => (this.lastError = error.message));
    this.client.on('ready', () => {
      this.lastError = undefined;
      void this.heartbeat();
    });
    this.timer = setInterval(() => void this.heartbeat(), options.heartbeatMs ?? Math.max(100, Math.floor(this.nodeTimeoutMs / 3)));
    this.timer.unref?.();
    void this.heartbeat();
  }

  attach(listener: PresenceStoreListener): void {
    this.listener = listener;
  }

  private keys(topic: string): [string, string, string] {
    const base = `${this.prefix}p:{${topic}}`;
    return [`${base}:s`, `${base}:u`, `${base}:st`];
  }

  private get aliveKey(): string {
    return `${this.prefix}p:alive:${this.nodeId}`;
  }

  private ownedKey(node: string): string {
    return `${this.prefix}p:owned:${node}`;
  }

  async join(topic: string, userId: string, sessionId: string): Promise<PresenceChange> {
    const entry = `${topic}\t${userId}\t${sessionId}`;
    this.owned.set(entry, { topic, userId, sessionId });
    // Listed before the member is written: a node that dies in between is reaped with it.
    await this.client
      .multi()
      .sadd(this.ownedKey(this.nodeId), entry)
      .sadd(`${this.prefix}p:nodes`, this.nodeId)
      .set(this.aliveKey, '1', 'PX', this.nodeTimeoutMs)
      .exec();
    const [joined, occupied, connections, state] = await this.client.heraldPresenceJoin(...this.keys(topic), sessionId, userId, this.nodeId);
    return { member: joined === 1 ? 'joined' : undefined, current: member(userId, connections, state), occupied: occupied === 1, vacated: false };
  }

  async update(topic: string, userId: string, sessionId: string, state: unknown): Promise<PresenceChange> {
    const connections = await this.client.heraldPresenceUpdate(...this.keys(topic), sessionId, JSON.stringify(state ?? null));
    if (connections === null) return NOTHING;
    return { member: 'updated', current: state === undefined ? { userId, connections } : { userId, state, connections }, occupied: false, vacated: false };
  }

  async leave(topic: string, userId: string, sessionId: string): Promise<PresenceChange> {
    const entry = `${topic}\t${userId}\t${sessionId}`;
    this.owned.delete(entry);
    const change = await this.leaveOwned(topic, userId, sessionId, '');
    await this.client.srem(this.ownedKey(this.nodeId), entry);
    return change;
  }

  private async leaveOwned(topic: string, userId: string, sessionId: string, node: string): Promise<PresenceChange> {
    const [left, vacated, connections, state] = await this.client.heraldPresenceLeave(...this.keys(topic), sessionId, userId, node);
    if (connections < 0) return NOTHING;
    if (left === 1) return { member: 'left', occupied: false, vacated: vacated === 1 };
    return { member: undefined, current: member(userId, connections, state), occupied: false, vacated: false };
  }

  async members(topic: string, after: string | undefined, limit: number): Promise<PresencePage> {
    const [, usersKey, statesKey] = this.keys(topic);
    const counts = await this.client.hgetall(usersKey);
    const ids = Object.keys(counts)
      .filter((id) => after === undefined || id > after)
      .sort();
    const page = ids.slice(0, limit);
    const states = page.length === 0 ? [] : await this.client.hmget(statesKey, ...page);
    const members = page.map((id, i) => member(id, Number(counts[id]), states[i]));
    const last = page.at(-1);
    const count = Object.keys(counts).length;
    return ids.length > limit && last !== undefined ? { members, count, next: last } : { members, count };
  }

  count(topic: string): Promise<number> {
    return this.client.hlen(this.keys(topic)[1]);
  }

  health(): RedisHealth {
    const up = this.client.status === 'ready';
    return { status: up ? 'ok' : 'down', outbox: 0, lastError: this.lastError };
  }

  /** Refreshes this node's heartbeat, re-announces its members to a Redis that lost them, and reaps dead nodes. */
  private heartbeat(): Promise<void> {
    if (this.beating !== undefined || this.closed) return this.beating ?? Promise.resolve();
    this.beating = this.beat()
      .catch((error: unknown) => {
        this.lastError = error instanceof Error ? error.message : String(error);
      })
      .finally(() => (this.beating = undefined));
    return this.beating;
  }

  private async beat(): Promise<void> {
    if (this.client.status !== 'ready') return;
    const markerKey = `${this.prefix}p:marker`;
    const marker = await this.client.get(markerKey);
    const lost = this.marker !== undefined && marker === null;
    if (marker === null) await this.client.set(markerKey, (this.marker = randomId(8)), 'NX');
    else this.marker = marker;
    // A heartbeat that had lapsed (a stalled process) may have had this node reaped: it says what it owns again.
    const was = await this.client.set(this.aliveKey, '1', 'PX', this.nodeTimeoutMs, 'GET');
    await this.client.sadd(`${this.prefix}p:nodes`, this.nodeId);
    if (lost || (was === null && this.beats > 0)) await this.reannounce();
    this.beats++;
    await this.reap();
  }

  /** Redis restarted empty: every member of this node joins again (a diff for each, as it is new to everyone who asks now). */
  private async reannounce(): Promise<void> {
    for (const [entry, { topic, userId, sessionId }] of this.owned) {
      await this.client.sadd(this.ownedKey(this.nodeId), entry);
      const change = await this.join(topic, userId, sessionId);
      if (change.member !== undefined || change.occupied) this.listener?.(topic, userId, change);
    }
  }

  /** Members of nodes whose heartbeat lapsed leave, told through the listener; one live node reaps each dead one. */
  private async reap(): Promise<void> {
    const nodes = await this.client.smembers(`${this.prefix}p:nodes`);
    for (const node of nodes) {
      if (node === this.nodeId || (await this.client.exists(`${this.prefix}p:alive:${node}`)) === 1) continue;
      const lock = await this.client.set(`${this.prefix}p:reap:${node}`, this.nodeId, 'PX', this.nodeTimeoutMs, 'NX');
      if (lock === null) continue;
      const entries = await this.client.smembers(this.ownedKey(node));
      for (const entry of entries) {
        const [topic, userId, sessionId] = entry.split('\t') as [string, string, string];
        // Only if the session is still the dead node's: one that resumed elsewhere joined again there.
        const change = await this.leaveOwned(topic, userId, sessionId, node);
        await this.client.srem(this.ownedKey(node), entry);
        if (change.member !== undefined || change.vacated) this.listener?.(topic, userId, change);
      }
      await this.client.srem(`${this.prefix}p:nodes`, node);
    }
  }

  /** Stops the heartbeat; this node's members stay until other nodes reap them (or it is taken over). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.beating;
    this.client.disconnect();
  }
}
