/**
 * `RedisInspectionRelay`: the core's `InspectionRelay` on Redis, so that the inspector of any
 * node shows every node. Each node writes its report to a key of its own with a TTL, and lists
 * itself in a sorted set scored by when that key expires; a node that stops (or dies) drops off
 * the page once its key lapses. Requests for a node go to its channel with PUBLISH, and its
 * answer comes back on the asking node's channel.
 */
import { type InspectionRelay, randomId } from '@herald/core';
import { Redis } from 'ioredis';
import { connectionOptions, type RedisConnection } from './broker.ts';

/** Options of `RedisInspectionRelay`. */
export interface RedisInspectionRelayOptions {
  /** Where Redis is (default `127.0.0.1:6379`). */
  readonly redis?: RedisConnection;
  /** Prefix of every key and channel (default `herald:`); the same on every node. */
  readonly prefix?: string;
  /** This node's name on the page (default random). Unique per running process. */
  readonly nodeId?: string;
  /** How often this node writes its report (default 1000 ms). */
  readonly reportMs?: number;
  /** How long a report stays after it was written: a node that stops reporting is gone after this (default 5000 ms). */
  readonly ttlMs?: number;
  /** How long `ask` waits for the other node's answer (default 5000 ms). */
  readonly askTimeoutMs?: number;
}

interface Asked {
  readonly id: string;
  readonly from: string;
  readonly request: unknown;
}

interface Answered {
  readonly id: string;
  readonly answer: unknown;
}

interface Waiting {
  resolve(answer: unknown): void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/**
 * The inspector across nodes on one Redis.
 *
 * @example
 * const relay = new RedisInspectionRelay({ redis: process.env.REDIS_URL, nodeId: 'node-1' });
 * const inspector = createInspector(herald, { token, relay });
 */
export class RedisInspectionRelay implements InspectionRelay {
  readonly nodeId: string;
  private readonly client: Redis;
  private readonly subscriber: Redis;
  private readonly prefix: string;
  private readonly reportMs: number;
  private readonly ttlMs: number;
  private readonly askTimeoutMs: number;
  private readonly waiting = new Map<string, Waiting>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private reporting: Promise<void> | undefined;
  private closed = false;

  constructor(options: RedisInspectionRelayOptions = {}) {
    this.prefix = options.prefix ?? 'herald:';
    this.nodeId = options.nodeId ?? randomId(12);
    this.reportMs = options.reportMs ?? 1000;
    this.ttlMs = options.ttlMs ?? 5000;
    this.askTimeoutMs = options.askTimeoutMs ?? 5000;
    this.client = new Redis(connectionOptions(options.redis));
    this.subscriber = new Redis(connectionOptions(options.redis));
    // Errors surface as failed reports and unanswered asks; the clients reconnect on their own.
    this.client.on('error', () => {});
    this.subscriber.on('error', () => {});
  }

  private get nodesKey(): string {
    return `${this.prefix}inspect:nodes`;
  }

  private reportKey(node: string): string {
    return `${this.prefix}inspect:node:${node}`;
  }

  private askChannel(node: string): string {
    return `${this.prefix}inspect:ask:${node}`;
  }

  private answerChannel(node: string): string {
    return `${this.prefix}inspect:answer:${node}`;
  }

  start(node: { report(): unknown; answer(request: unknown): unknown }): void {
    const ask = this.askChannel(this.nodeId);
    const answered = this.answerChannel(this.nodeId);
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel === ask) void this.answer(node, text);
      else if (channel === answered) this.answered(text);
    });
    void this.subscriber.subscribe(ask, answered).catch(() => {});
    const report = (): void => {
      this.reporting ??= this.report(node.report()).finally(() => (this.reporting = undefined));
    };
    this.timer = setInterval(report, this.reportMs);
    this.timer.unref?.();
    report();
  }

  private async report(report: unknown): Promise<void> {
    const expires = Date.now() + this.ttlMs;
    try {
      await this.client
        .multi()
        .set(this.reportKey(this.nodeId), JSON.stringify(report), 'PX', this.ttlMs)
        .zadd(this.nodesKey, expires, this.nodeId)
        .zremrangebyscore(this.nodesKey, '-inf', Date.now())
        .exec();
    } catch {
      // The next report tries again; meanwhile the page shows this node's last one, then none.
    }
  }

  private async answer(node: { answer(request: unknown): unknown }, text: string): Promise<void> {
    let asked: Asked;
    try {
      asked = JSON.parse(text) as Asked;
    } catch {
      return;
    }
    let answer: unknown;
    try {
      answer = await node.answer(asked.request);
    } catch (error) {
      answer = { status: 500, body: { error: 'internal', message: error instanceof Error ? error.message : String(error) } };
    }
    const reply: Answered = { id: asked.id, answer };
    await this.client.publish(this.answerChannel(asked.from), JSON.stringify(reply)).catch(() => {});
  }

  private answered(text: string): void {
    let reply: Answered;
    try {
      reply = JSON.parse(text) as Answered;
    } catch {
      return;
    }
    const waiting = this.waiting.get(reply.id);
    if (waiting === undefined) return;
    this.waiting.delete(reply.id);
    clearTimeout(waiting.timer);
    waiting.resolve(reply.answer);
  }

  async reports(): Promise<ReadonlyMap<string, unknown>> {
    const nodes = await this.client.zrangebyscore(this.nodesKey, Date.now(), '+inf');
    const others = nodes.filter((node) => node !== this.nodeId);
    const reports = new Map<string, unknown>();
    if (others.length === 0) return reports;
    const texts = await this.client.mget(...others.map((node) => this.reportKey(node)));
    others.forEach((node, index) => {
      const text = texts[index];
      if (typeof text === 'string') reports.set(node, JSON.parse(text));
    });
    return reports;
  }

  async ask(nodeId: string, request: unknown): Promise<unknown> {
    const id = randomId(12);
    const answer = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`node ${nodeId} did not answer within ${this.askTimeoutMs} ms`));
      }, this.askTimeoutMs);
      this.waiting.set(id, { resolve, timer });
    });
    const asked: Asked = { id, from: this.nodeId, request };
    const receivers = await this.client.publish(this.askChannel(nodeId), JSON.stringify(asked));
    if (receivers === 0) {
      const waiting = this.waiting.get(id);
      if (waiting !== undefined) clearTimeout(waiting.timer);
      this.waiting.delete(id);
      throw new Error(`node ${nodeId} is not listening`);
    }
    return answer;
  }

  /** Stops reporting and answering, and takes this node off the page at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.reporting;
    for (const waiting of this.waiting.values()) clearTimeout(waiting.timer);
    this.waiting.clear();
    await this.client
      .multi()
      .del(this.reportKey(this.nodeId))
      .zrem(this.nodesKey, this.nodeId)
      .exec()
      .catch(() => {});
    this.client.disconnect();
    this.subscriber.disconnect();
  }
}
