/**
 * One client of the run and what it saw: its topic and its private notifications as stream
 * logs, the resets it was told of, and the node that last answered it.
 */
import { createClient, longPollTransport, type HeraldClient } from '@herald/client';
import { Agent, fetch as undiciFetch } from 'undici';
import WebSocket from 'ws';
import type { ChaosContract } from './app.ts';
import type { LatencyHistogram } from './latency-histogram.ts';
import type { RequestTally } from './request-tally.ts';
import { StreamLog } from './stream-log.ts';

const SUBSCRIBE_ATTEMPTS = 3;
/** State changes kept per client, for the account of slow recoveries. */
const TIMELINE_LENGTH = 64;

/** Client i's user (and token): the publisher sends to it by this name. */
export const userIdOf = (index: number): string => `user${index}`;

/**
 * Every HTTP request and upgrade of a client carries its user id in this header, so the fault
 * proxy's faults can be told apart per client (a link's `head`).
 */
export const CLIENT_HEADER = 'x-chaos-client';
const clientHeaderPattern = new RegExp(`^${CLIENT_HEADER}: *(\\S+)`, 'im');

/** The client a fault proxy link belongs to, from what it sent first. */
export const clientOfLink = (head: string): string | undefined => clientHeaderPattern.exec(head)?.[1];

export interface ObservedClientOptions {
  readonly index: number;
  /** `host:port` the clients connect to: the fault proxy. */
  readonly origin: string;
  readonly topics: number;
  readonly requestTimeoutMs: number;
  readonly latency: LatencyHistogram;
  readonly requests: RequestTally;
  /** Handler exceptions, refused subscriptions, `herald.Error` notices. */
  readonly onError: (error: unknown) => void;
}

export class ObservedClient {
  readonly index: number;
  readonly userId: string;
  readonly longPoll: boolean;
  readonly topicName: string;
  readonly topicIndex: number;
  readonly topic = new StreamLog();
  readonly privates = new StreamLog();
  /** How often it was told `recovered: false` or `herald.TopicReset`. */
  recoveryFailures = 0;
  /** The node that answered its last request since it last (re)connected. */
  node: string | undefined;
  readonly client: HeraldClient<ChaosContract>;
  /** Subscriptions that timed out during setup and were made again. */
  subscribeRetries = 0;
  /** Its last state changes (with the close code that ended the connection) and errors, at epoch ms `at`. */
  readonly timeline: { readonly at: number; readonly what: string }[] = [];
  private agent: Agent | undefined;
  private readonly onTick = (body: { readonly n: number; readonly t: number }): void => this.received(this.topic, body);

  constructor(private readonly options: ObservedClientOptions) {
    this.index = options.index;
    this.userId = userIdOf(options.index);
    this.longPoll = options.index % 2 === 1;
    this.topicIndex = options.index % options.topics;
    this.topicName = `room/${this.topicIndex}`;
    this.client = createClient<ChaosContract>({
      url: `ws://${options.origin}/ws`,
      WebSocket,
      headers: { [CLIENT_HEADER]: this.userId },
      ...(this.longPoll ? { transport: longPollTransport({ url: `http://${options.origin}/lp`, headers: { [CLIENT_HEADER]: this.userId }, fetch: this.ownFetch() }) } : {}),
      token: this.userId,
      reconnectDelayMs: 100,
      maxReconnectDelayMs: 1000,
      requestTimeoutMs: options.requestTimeoutMs,
      onStateChange: (state) => {
        if (state !== 'open') this.node = undefined;
        const close = state === 'open' ? undefined : this.client.lastClose?.code;
        this.note(close === undefined ? state : `${state} (${close})`);
      },
      onRecoveryFailed: (failure) => {
        const at = Date.now();
        this.recoveryFailures++;
        if (failure.sessionReset) this.privates.tell(at);
        if (failure.topics.includes(this.topicName)) this.topic.tell(at);
      },
      onError: (error) => {
        this.note(`error: ${error instanceof Error ? error.message : String(error)}`.slice(0, 120));
        options.onError(error);
      },
    });
    this.client.on('chaos.Private', (body) => this.received(this.privates, body));
  }

  /**
   * A fetch with connections of its own, as each browser has: links are not shared with other
   * clients of this process, so a fault on a link (and its `x-chaos-client`) is this client's.
   */
  private ownFetch(): typeof fetch {
    const dispatcher = (this.agent = new Agent({ keepAliveTimeout: 30_000 }));
    return ((input: string | URL, init?: RequestInit) => undiciFetch(input, { ...(init as object), dispatcher })) as unknown as typeof fetch;
  }

  /** Closes the client, then its connections. */
  close(): void {
    this.client.close();
    void this.agent?.close().catch(() => {});
  }

  /** Subscribes to its topic; resolves once the server confirmed, trying again (as a new subscription) after a timeout. */
  async subscribe(attempts = SUBSCRIBE_ATTEMPTS): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const subscription = this.client.subscribe(this.topicName, this.onTick);
      try {
        await subscription.ready;
        return;
      } catch (error) {
        subscription.unsubscribe();
        if (attempt >= attempts) {
          const where = `${this.longPoll ? 'long-poll' : 'websocket'}, ${this.client.state}, last close ${JSON.stringify(this.client.lastClose)}`;
          throw new Error(`${this.userId} (${where}) could not subscribe to ${this.topicName} in ${attempts} attempts: ${String(error)}`);
        }
        this.subscribeRetries++;
      }
    }
  }

  request(key: string): void {
    const request = this.client.request('chaos.Run', { key });
    void request.then(
      ({ node }) => (this.node = node),
      () => {},
    );
    this.options.requests.track(key, request);
  }

  /** How long after `at` its next message came, of either stream (undefined: none came). */
  nextMessageAfter(at: number): number | undefined {
    const times = [this.topic.firstAfter(at), this.privates.firstAfter(at)].filter((time) => time !== undefined);
    return times.length === 0 ? undefined : Math.min(...times) - at;
  }

  /** Its state changes and errors between `from` and `to`, as `+<ms after from> <state>[ (<close code>)]`. */
  timelineBetween(from: number, to: number): string {
    return this.timeline
      .filter((event) => event.at >= from && event.at <= to)
      .map((event) => `+${event.at - from} ${event.what}`)
      .join(', ');
  }

  private note(what: string): void {
    this.timeline.push({ at: Date.now(), what });
    if (this.timeline.length > TIMELINE_LENGTH) this.timeline.shift();
  }

  private received(stream: StreamLog, body: { readonly n: number; readonly t: number }): void {
    const at = Date.now();
    if (stream.receive(body.n, at)) this.options.latency.record(at - body.t);
  }
}
