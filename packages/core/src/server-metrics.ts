/**
 * The `herald_` metric families and the instruments of each label set, bound once and kept:
 * after warm-up, reporting is a map lookup and an in-place increment. Only made when the
 * server has a `meter`; without one, every call site is a skipped `undefined` check.
 */
import type { CounterInstrument, HistogramInstrument, Meter, MetricLabels } from './meter.ts';

/** Request latency buckets, in seconds: from sub-millisecond answers to slow handlers. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Local subscribers reached by one topic message. */
const FANOUT_BUCKETS = [0, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000];
/** The label value of a request type that is not in the contract. */
export const UNKNOWN_TYPE_LABEL = 'unknown';

/** What a scrape reads from the server. */
export interface ServerGauges {
  readonly sessions: number;
  readonly connections: number;
  readonly topics: number;
  readonly subscriptions: number;
  readonly bufferedBytes: number;
  readonly replayFrames: number;
  /** Topics this node's sessions are present on, counted per session. */
  readonly presenceMemberships: number;
}

/** Instruments of one label family, made on first use of each label set. */
class Family<T> {
  private readonly bound = new Map<string, T>();

  constructor(
    private readonly make: (labels: MetricLabels) => T,
    private readonly label: string,
  ) {}

  of(value: string): T {
    let instrument = this.bound.get(value);
    if (instrument === undefined) {
      instrument = this.make({ [this.label]: value });
      this.bound.set(value, instrument);
    }
    return instrument;
  }
}

/** Instruments of a family with two labels, the first one outer. */
class Family2<T> {
  private readonly bound = new Map<string, Map<string | number, T>>();

  constructor(
    private readonly make: (labels: MetricLabels) => T,
    private readonly first: string,
    private readonly second: string,
  ) {}

  of(a: string, b: string | number): T {
    let inner = this.bound.get(a);
    if (inner === undefined) this.bound.set(a, (inner = new Map()));
    let instrument = inner.get(b);
    if (instrument === undefined) {
      instrument = this.make({ [this.first]: a, [this.second]: String(b) });
      inner.set(b, instrument);
    }
    return instrument;
  }
}

/** The instruments of one request type and status code. */
class RequestSeries {
  constructor(
    readonly count: CounterInstrument,
    readonly latency: HistogramInstrument,
  ) {}
}

/** Per transport (`websocket`, `long-poll`): what a connection reports on its hot path. */
export class TransportMetrics {
  constructor(
    readonly framesIn: CounterInstrument,
    readonly framesOut: CounterInstrument,
    readonly bytesIn: CounterInstrument,
    readonly bytesOut: CounterInstrument,
    /** The counter of the transport's connections closed with a code. */
    private readonly closedWith: (code: number) => CounterInstrument,
  ) {}

  /** A connection of the transport closed (1006 when the transport gave no code). */
  connectionClosed(code: number | undefined): void {
    this.closedWith(code ?? 1006).add(1);
  }
}

export class ServerMetrics {
  private readonly transports = new Map<string, TransportMetrics>();
  private readonly framesIn: Family<CounterInstrument>;
  private readonly framesOut: Family<CounterInstrument>;
  private readonly bytesIn: Family<CounterInstrument>;
  private readonly bytesOut: Family<CounterInstrument>;
  private readonly opened: Family<CounterInstrument>;
  private readonly closed: Family2<CounterInstrument>;
  private readonly requests: (labels: MetricLabels) => CounterInstrument;
  private readonly latency: (labels: MetricLabels) => HistogramInstrument;
  /** Per contract type (and `unknown`), per status code. */
  private readonly answered = new Map<string, Map<number, RequestSeries>>();
  private readonly retries: Family<CounterInstrument>;
  private readonly resumed: Family2<CounterInstrument>;
  private readonly upgradeRefusals: Family<CounterInstrument>;
  private readonly presenceChanges: Family<CounterInstrument>;
  readonly authenticated: CounterInstrument;
  readonly detached: CounterInstrument;
  readonly notificationsSent: CounterInstrument;
  readonly notificationsAcked: CounterInstrument;
  readonly notificationsReplayed: CounterInstrument;
  readonly publishes: CounterInstrument;
  readonly fanout: HistogramInstrument;
  readonly rateLimited: CounterInstrument;
  readonly highWater: CounterInstrument;
  readonly presenceErrors: CounterInstrument;

  constructor(
    meter: Meter,
    gauges: () => ServerGauges,
    /** Whether a request type is the contract's: label values stay bounded by it. */
    private readonly known: (type: string) => boolean,
  ) {
    const counter = (name: string, help: string, labelNames: readonly string[] = []) => meter.counter({ name, help, labelNames, unit: '1' });
    const bytes = (name: string, help: string) => meter.counter({ name, help, labelNames: ['transport'], unit: 'By' });
    this.framesIn = new Family(counter('herald_frames_received_total', 'Frames received from clients.', ['transport']), 'transport');
    this.framesOut = new Family(counter('herald_frames_sent_total', 'Frames sent to clients one by one (native topic publishes are counted in herald_topic_fanout).', ['transport']), 'transport');
    this.bytesIn = new Family(bytes('herald_received_bytes_total', 'Text received from clients, in UTF-16 code units (bytes for ASCII JSON).'), 'transport');
    this.bytesOut = new Family(bytes('herald_sent_bytes_total', 'Text sent to clients one by one, in UTF-16 code units (bytes for ASCII JSON).'), 'transport');
    this.opened = new Family(counter('herald_connections_opened_total', 'Connections opened (accepted upgrades and long-poll opens).', ['transport']), 'transport');
    this.closed = new Family2(counter('herald_connections_closed_total', 'Connections closed, by close code (1006 when the transport gave none).', ['transport', 'code']), 'transport', 'code');
    this.requests = counter('herald_requests_total', 'Application requests answered, by contract type and status code.', ['type', 'code']);
    this.latency = meter.histogram({
      name: 'herald_request_duration_seconds',
      help: 'Time from a request frame to its answer.',
      labelNames: ['type', 'code'],
      unit: 's',
      buckets: LATENCY_BUCKETS,
    });
    this.retries = new Family(counter('herald_retries_answered_total', 'Retried requests answered from the retry cache, not run again.', ['type']), 'type');
    this.resumed = new Family2(counter('herald_sessions_resumed_total', 'herald.Resume answers, by recovered and the RecoveryReason (none when recovered).', ['recovered', 'reason']), 'recovered', 'reason');
    this.upgradeRefusals = new Family(counter('herald_upgrade_refusals_total', 'Upgrades (and long-poll opens) refused, by error reason.', ['reason']), 'reason');
    this.authenticated = counter('herald_sessions_authenticated_total', 'Sessions authenticated.')({});
    this.detached = counter('herald_sessions_detached_total', 'Sessions whose connection dropped, kept for a resume.')({});
    this.notificationsSent = counter('herald_notifications_sent_total', 'Private notifications queued for sessions.')({});
    this.notificationsAcked = counter('herald_notifications_acked_total', 'Private notifications confirmed by cumulative acks.')({});
    this.notificationsReplayed = counter('herald_notifications_replayed_total', 'Private notifications sent from the replay buffer rather than live: after a resume, a drained send buffer, or a new session settling.')({});
    this.publishes = counter('herald_topic_messages_total', 'Topic messages delivered to this node by the broker.')({});
    this.fanout = meter.histogram({ name: 'herald_topic_fanout', help: 'Local subscribers one topic message reached.', labelNames: [], unit: '1', buckets: FANOUT_BUCKETS })({});
    this.rateLimited = counter('herald_rate_limited_frames_total', 'Frames refused over the rate limit or processing budget.')({});
    this.highWater = counter('herald_send_buffer_high_water_total', 'Times a send buffer went above the high-water mark (notifications then wait).')({});
    this.presenceChanges = new Family(
      counter('herald_presence_changes_total', 'Presence changes this node saw: members joined, updated their state, or left (reaped ones included).', ['change']),
      'change',
    );
    this.presenceErrors = counter('herald_presence_errors_total', 'Presence store or broker calls that failed.')({});
    const gauge = (name: string, help: string, read: (g: ServerGauges) => number, unit = '1') => {
      meter.gauge({ name, help, labelNames: [], unit }, () => read(gauges()));
    };
    gauge('herald_sessions', 'Sessions held, connected or detached.', (g) => g.sessions);
    gauge('herald_connections_open', 'Connections open.', (g) => g.connections);
    gauge('herald_topics', 'Topics with local subscribers.', (g) => g.topics);
    gauge('herald_subscriptions', 'Topic subscriptions of local sessions.', (g) => g.subscriptions);
    gauge('herald_send_buffer_bytes', 'Bytes queued in the transports’ send buffers.', (g) => g.bufferedBytes, 'By');
    gauge('herald_replay_frames', 'Private notifications held for replay.', (g) => g.replayFrames);
    gauge('herald_presence_memberships', 'Presence topics this node’s sessions are members of, one per session and topic.', (g) => g.presenceMemberships);
  }

  transport(name: string): TransportMetrics {
    let metrics = this.transports.get(name);
    if (metrics === undefined) {
      const closed = this.closed;
      metrics = new TransportMetrics(this.framesIn.of(name), this.framesOut.of(name), this.bytesIn.of(name), this.bytesOut.of(name), (code) => closed.of(name, code));
      this.transports.set(name, metrics);
      this.opened.of(name);
    }
    return metrics;
  }

  connectionOpened(transport: string): void {
    this.opened.of(transport).add(1);
  }

  /** The label value of a request type: itself when the contract has it, else `unknown`. */
  typeLabel(type: string): string {
    return this.known(type) ? type : UNKNOWN_TYPE_LABEL;
  }

  requestAnswered(type: string, code: number, seconds: number): void {
    // Contract types hit the first lookup; any other type is looked up as `unknown`, never kept.
    const byCode = this.answered.get(type) ?? this.answeredOf(this.typeLabel(type));
    let series = byCode.get(code);
    if (series === undefined) {
      const labels = { type: this.typeLabel(type), code: String(code) };
      series = new RequestSeries(this.requests(labels), this.latency(labels));
      byCode.set(code, series);
    }
    series.count.add(1);
    series.latency.record(seconds);
  }

  private answeredOf(label: string): Map<number, RequestSeries> {
    let byCode = this.answered.get(label);
    if (byCode === undefined) this.answered.set(label, (byCode = new Map()));
    return byCode;
  }

  retryAnswered(type: string): void {
    this.retries.of(this.typeLabel(type)).add(1);
  }

  sessionResumed(recovered: boolean, reason: string | undefined): void {
    this.resumed.of(recovered ? 'true' : 'false', reason ?? 'none').add(1);
  }

  presenceChanged(change: 'joined' | 'updated' | 'left'): void {
    this.presenceChanges.of(change).add(1);
  }

  upgradeRefused(reason: string): void {
    this.upgradeRefusals.of(reason).add(1);
  }
}
