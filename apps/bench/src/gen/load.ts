/**
 * The load generator's scenarios, run in the runner's process (pinned to the other core than
 * the server). Every server speaks one of four WebSocket dialects: Herald (`herald.v1`, auth by
 * header at the upgrade), Herald in MessagePack (`herald.v1.msgpack`, the same envelopes in
 * binary frames), raw (uWS / `ws`: the request envelope, no session) and Socket.IO (engine.io
 * v4 + socket.io v5 framing, written by hand). Request frames are pre-built and
 * pre-masked; each read is answered with one write.
 */
import { msgpack } from '@herald/core/msgpack';
import { NOTE_BODY, REQUEST_BODY } from '../shared.ts';
import { machineTicks, selfCpuSeconds } from '../proc.ts';
import { FrameTemplate, maskedFrame, U32_PLACEHOLDER } from './frames.ts';
import { HttpConnection } from './http-client.ts';
import { RawWs, sourceAddress, type WsHandler, type WsOptions } from './ws-client.ts';

export type Dialect = 'herald' | 'herald-msgpack' | 'raw' | 'socketio';
/** How responses are recognised: Herald `resp`, any frame (raw JSON or echo), Socket.IO ack. */
export type Answer = 'herald' | 'any' | 'socketio';

/** What a measurement window reads of the server. */
export interface Measured {
  cpu(): number;
}

export interface Window {
  readonly count: number;
  readonly seconds: number;
  readonly perSecond: number;
  /** Server CPU as a fraction of one core over the window. */
  readonly serverCpu: number;
  /** Generator CPU as a fraction of one core over the window. */
  readonly generatorCpu: number;
  /**
   * Busy CPU of the whole machine (in cores) beyond the server and the generator: other
   * processes, and kernel network work not charged to either. High values mean a noisy run.
   */
  readonly otherCpu: number;
  /** CPU stolen by the hypervisor (in cores). */
  readonly stealCpu: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const C_R = 0x72; // 'r' of "resp"
const C_N = 0x6e; // 'n' of "notification"
const C_P = 0x70; // 'p' of "ping"/"pong"
const C_I = 0x69;
/** Byte offset of the kind's first letter in `{"kind":"…`. */
const KIND_AT = 9;
/** …and in MessagePack, where servers write `kind` first too: fixmap, fixstr `kind`, fixstr header of its value. */
const MSGPACK_KIND_AT = 7;
const kindAt = (dialect: Dialect) => (dialect === 'herald-msgpack' ? MSGPACK_KIND_AT : KIND_AT);
const heraldDialect = (dialect: Dialect) => dialect === 'herald' || dialect === 'herald-msgpack';

const codec = msgpack();
/** A setup or control envelope in the dialect's frame (not the hot path). */
const envelopeFrame = (dialect: Dialect, envelope: Record<string, unknown>): Buffer =>
  dialect === 'herald-msgpack' ? maskedFrame(Buffer.from(codec.encode(envelope)), 2) : maskedFrame(JSON.stringify(envelope));
/** A server frame of a Herald dialect as an envelope (setup and sampling, not the hot path). */
function envelopeOf(dialect: Dialect, buf: Buffer, start: number, end: number): Record<string, any> | undefined {
  try {
    return (dialect === 'herald-msgpack' ? codec.decode(buf.subarray(start, end)) : JSON.parse(buf.toString('utf8', start, end))) as Record<string, any>;
  } catch {
    return undefined;
  }
}

const HERALD_PONG = maskedFrame('{"kind":"pong"}');
const MSGPACK_PONG = maskedFrame(Buffer.from(codec.encode({ kind: 'pong' })), 2);
const SIO_PONG = maskedFrame('3');

const requestJson = (id: string, type = 'bench.Echo', body: unknown = REQUEST_BODY) => `{"kind":"req","id":"${id}","type":"${type}","body":${JSON.stringify(body)}}`;

/**
 * The pre-built request of each dialect, with an 8-digit id field. Herald's also confirms the
 * responses received so far (`resp`, 10 digits), as every `@herald/client` request does, so the
 * server's retry cache lets their answers go.
 */
export function requestTemplate(dialect: Dialect): FrameTemplate {
  if (dialect === 'socketio') return new FrameTemplate(`42########["echo",${JSON.stringify(REQUEST_BODY)}]`);
  if (dialect === 'herald-msgpack') {
    const confirm = process.env['BENCH_NO_CONFIRM'] === undefined;
    const request = { kind: 'req', id: '########', type: 'bench.Echo', ...(confirm ? { resp: U32_PLACEHOLDER } : {}), body: REQUEST_BODY };
    return new FrameTemplate(Buffer.from(codec.encode(request)), 8, 'zero', confirm ? { width: 4, pad: 'u32' } : undefined);
  }
  if (dialect === 'herald' && process.env['BENCH_NO_CONFIRM'] === undefined) {
    return new FrameTemplate(`{"kind":"req","id":"########","type":"bench.Echo","resp":@@@@@@@@@@,"body":${JSON.stringify(REQUEST_BODY)}}`, 8, 'zero', { width: 10, pad: 'space' });
  }
  return new FrameTemplate(requestJson('########'));
}

export function wsOptions(dialect: Dialect, port: number, i: number, total: number, path = '/'): WsOptions {
  const localAddress = sourceAddress(i, total);
  const base = { port, ...(localAddress === undefined ? {} : { localAddress }) };
  if (dialect === 'herald') return { ...base, path: '/ws', protocol: 'herald.v1', headers: { authorization: `Bearer u${i}` } };
  if (dialect === 'herald-msgpack') return { ...base, path: '/ws', protocol: 'herald.v1.msgpack', headers: { authorization: `Bearer u${i}` } };
  if (dialect === 'socketio') return { ...base, path: '/socket.io/?EIO=4&transport=websocket' };
  return { ...base, path, headers: { authorization: `Bearer u${i}` } };
}

/** Herald keep-alive pings answered in this process (scenario 16 tells keep-alive ran by it). */
export const keepAliveAnswers = { herald: 0 };

/** Answers keep-alive probes of every dialect; true when the frame was one. */
function keepAlive(ws: RawWs, dialect: Dialect, buf: Buffer, start: number, end: number): boolean {
  if (heraldDialect(dialect)) {
    const at = start + kindAt(dialect);
    if (buf[at] === C_P && buf[at + 1] === C_I) {
      ws.write(dialect === 'herald' ? HERALD_PONG : MSGPACK_PONG);
      keepAliveAnswers.herald++;
      return true;
    }
    return false;
  }
  if (dialect === 'socketio' && end - start === 1 && buf[start] === 0x32) {
    ws.write(SIO_PONG);
    return true;
  }
  return false;
}

/**
 * Brings a connection from open to ready: Herald waits for `herald.Subscribed` ($all, sent once
 * the header token is accepted) and optionally subscribes to `ticker`; Socket.IO connects to
 * the namespace with its auth payload; raw is ready at once. Afterwards it only answers pings.
 */
class Setup implements WsHandler {
  private readonly waiting = new Map<RawWs, { resolve: () => void; reject: (error: Error) => void }>();

  constructor(
    private readonly dialect: Dialect,
    private readonly subscribe: boolean,
    /** The body of its `herald.Subscribe` (default the `ticker` topic). */
    private readonly subscription: Readonly<Record<string, unknown>> = { topic: 'ticker' },
  ) {}

  ready(ws: RawWs): Promise<void> {
    if (this.dialect === 'raw') return Promise.resolve();
    return new Promise((resolve, reject) => this.waiting.set(ws, { resolve, reject }));
  }

  onMessage(ws: RawWs, buf: Buffer, start: number, end: number): void {
    if (keepAlive(ws, this.dialect, buf, start, end)) return;
    const waiter = this.waiting.get(ws);
    if (waiter === undefined) return;
    const text = buf.toString('utf8', start, end);
    const done = () => {
      this.waiting.delete(ws);
      waiter.resolve();
    };
    if (this.dialect === 'herald-msgpack') {
      const message = envelopeOf(this.dialect, buf, start, end);
      if (message?.['type'] === 'herald.Subscribed' && message['body']?.topic === '$all') {
        if (!this.subscribe) return done();
        ws.write(envelopeFrame(this.dialect, { kind: 'req', id: 'sub', type: 'herald.Subscribe', body: this.subscription }));
      } else if (message?.['reqId'] === 'sub') {
        if (message['code'] === 200) done();
        else waiter.reject(new Error(`subscribe refused: ${JSON.stringify(message)}`));
      } else if (message?.['type'] === 'herald.Goodbye') waiter.reject(new Error(`refused: ${JSON.stringify(message)}`));
      return;
    }
    if (this.dialect === 'herald') {
      if (text.includes('"herald.Subscribed"') && text.includes('"$all"')) {
        if (!this.subscribe) return done();
        ws.sendText(`{"kind":"req","id":"sub","type":"herald.Subscribe","body":${JSON.stringify(this.subscription)}}`);
      } else if (text.includes('"reqId":"sub"')) {
        if (text.includes('"code":200')) done();
        else waiter.reject(new Error(`subscribe refused: ${text}`));
      } else if (text.includes('"herald.Goodbye"')) waiter.reject(new Error(`refused: ${text}`));
      return;
    }
    // Socket.IO: engine.io open (0{…}), then namespace connect with auth (40{…}).
    if (text.startsWith('0{')) {
      ws.sendText(`40${JSON.stringify(this.subscribe ? { token: `u${ws.index}`, room: 'ticker' } : { token: `u${ws.index}` })}`);
    } else if (text.startsWith('40')) done();
    else if (text.startsWith('44')) waiter.reject(new Error(`socket.io connect refused: ${text}`));
  }

  onClose(ws: RawWs): void {
    this.waiting.get(ws)?.reject(new Error('closed during setup'));
    this.waiting.delete(ws);
  }
}

/** Opens `count` ready connections (authenticated sessions, where the dialect has them). */
export async function openSessions(
  dialect: Dialect,
  port: number,
  count: number,
  options: {
    readonly path?: string;
    readonly subscribe?: boolean;
    readonly subscription?: Readonly<Record<string, unknown>>;
    readonly firstIndex?: number;
    readonly total?: number;
    /** Every connection from this source address (default: `sourceAddress` of its index). */
    readonly localAddress?: string;
  } = {},
): Promise<RawWs[]> {
  const setup = new Setup(dialect, options.subscribe ?? false, options.subscription);
  const first = options.firstIndex ?? 0;
  const total = options.total ?? first + count;
  const sockets: RawWs[] = new Array<RawWs>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const base = wsOptions(dialect, port, first + i, total, options.path);
      const ws = new RawWs(options.localAddress === undefined ? base : { ...base, localAddress: options.localAddress }, setup);
      ws.index = first + i;
      const ready = setup.ready(ws);
      await ws.ready();
      await ready;
      sockets[i] = ws;
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, count) }, worker));
  return sockets;
}

/** Measures `windows` consecutive windows of `windowMs` after `warmupMs`. */
export async function measureWindows(counter: { readonly count: number }, server: Measured, warmupMs: number, windowMs: number, windows: number): Promise<Window[]> {
  await sleep(warmupMs);
  const out: Window[] = [];
  for (let w = 0; w < windows; w++) {
    const c0 = counter.count;
    const t0 = performance.now();
    const s0 = server.cpu();
    const g0 = selfCpuSeconds();
    const m0 = machineTicks();
    await sleep(windowMs);
    const count = counter.count - c0;
    const seconds = (performance.now() - t0) / 1000;
    const serverCpu = (server.cpu() - s0) / seconds;
    const generatorCpu = (selfCpuSeconds() - g0) / seconds;
    const m1 = machineTicks();
    out.push({
      count,
      seconds,
      perSecond: count / seconds,
      serverCpu,
      generatorCpu,
      otherCpu: Math.max(0, (m1.busy - m0.busy) / seconds - serverCpu - generatorCpu),
      stealCpu: (m1.steal - m0.steal) / seconds,
    });
  }
  return out;
}

/** Closed-loop pipelined requests: every response read is answered with a new request in the same write. */
class RequestLoad implements WsHandler {
  count = 0;
  /** Sampled responses that were not what they should be. */
  wrong = 0;
  running = true;

  /** Payload bytes of the last sampled response. */
  responseBytes = 0;
  private readonly kindAt: number;

  constructor(
    private readonly dialect: Dialect,
    private readonly answer: Answer,
    private readonly template: FrameTemplate,
  ) {
    this.kindAt = kindAt(dialect);
  }

  onMessage(ws: RawWs, buf: Buffer, start: number, end: number): void {
    if (this.answer === 'herald') {
      if (buf[start + this.kindAt] !== C_R) {
        keepAlive(ws, this.dialect, buf, start, end);
        return;
      }
    } else if (this.answer === 'socketio') {
      if (buf[start] !== 0x34 || buf[start + 1] !== 0x33) {
        keepAlive(ws, this.dialect, buf, start, end);
        return;
      }
    }
    ws.queued++;
    ws.responses++;
    if ((++this.count & 1023) === 0) this.check(buf, start, end);
  }

  private check(buf: Buffer, start: number, end: number): void {
    this.responseBytes = end - start;
    if (this.dialect === 'herald-msgpack') {
      if (envelopeOf(this.dialect, buf, start, end)?.['code'] !== 200) this.wrong++;
      return;
    }
    const text = buf.toString('utf8', start, end);
    const ok = this.answer === 'socketio' ? text.startsWith('43') : text.includes('"code":200') || text.startsWith('{"kind":"req"');
    if (!ok) this.wrong++;
  }

  onBatchEnd(ws: RawWs): void {
    const queued = ws.queued;
    if (queued === 0 || !this.running) return;
    ws.queued = 0;
    // Herald requests carry the count of responses received (`resp`), as @herald/client's do.
    ws.write(this.template.batch(ws.sent, queued, ws.responses));
    ws.sent += queued;
  }

  start(sockets: readonly RawWs[], inFlight: number): void {
    for (const ws of sockets) {
      ws.handler = this;
      ws.write(this.template.batch(0, inFlight));
      ws.sent = inFlight;
    }
  }
}

export interface RequestRun {
  readonly windows: Window[];
  readonly wrong: number;
  readonly closedEarly: number;
}

/** Request/response figures, with the payload bytes (WebSocket headers not counted) of one request and one response. */
export interface RequestResponseRun extends RequestRun {
  readonly requestBytes: number;
  readonly responseBytes: number;
}

/** Scenario 1 and 6: `connections` × `inFlight` pipelined requests, measured in windows. */
export async function requestResponse(
  dialect: Dialect,
  answer: Answer,
  port: number,
  server: Measured,
  plan: { readonly connections: number; readonly inFlight: number; readonly warmupMs: number; readonly windowMs: number; readonly windows: number },
): Promise<RequestResponseRun> {
  const sockets = await openSessions(dialect, port, plan.connections);
  const template = requestTemplate(dialect);
  const load = new RequestLoad(dialect, answer, template);
  load.start(sockets, plan.inFlight);
  const windows = await measureWindows(load, server, plan.warmupMs, plan.windowMs, plan.windows);
  load.running = false;
  const closedEarly = sockets.filter((ws) => ws.closed).length;
  await sleep(50);
  await closeAll(sockets);
  return { windows, wrong: load.wrong, closedEarly, requestBytes: template.payloadLength, responseBytes: load.responseBytes };
}

/**
 * Runs request/response traffic over `sockets` for `ms`, then lets it drain: a warm-up that
 * brings a server's heap (V8's young generation grows under load and stays committed) to its
 * working size before its baseline memory is read.
 */
export async function exercise(dialect: Dialect, answer: Answer, sockets: readonly RawWs[], inFlight: number, ms: number): Promise<number> {
  const load = new RequestLoad(dialect, answer, requestTemplate(dialect));
  load.start(sockets, inFlight);
  await sleep(ms);
  load.running = false;
  await sleep(200);
  return load.count;
}

/** Closes every connection cleanly (close 1000, so Herald discards the sessions) and waits, bounded. */
export async function closeAll(sockets: readonly RawWs[], timeoutMs = 5000): Promise<void> {
  for (const ws of sockets) ws.close();
  const deadline = Date.now() + timeoutMs;
  while (sockets.some((ws) => !ws.closed) && Date.now() < deadline) await sleep(20);
  for (const ws of sockets) if (!ws.closed) ws.destroy();
}

/** Counts topic frames over every subscriber and notes when the last one of a round arrived. */
class FanoutLoad implements WsHandler {
  count = 0;
  target = Infinity;
  lastAt = 0;
  /** Payload bytes of the last notification. */
  frameBytes = 0;
  /** Notifications counted, and their bytes as WebSocket frames (payload and header), since the last reset. */
  frames = 0;
  wireBytes = 0;
  done: (() => void) | undefined = undefined;

  constructor(private readonly dialect: Dialect) {}

  onMessage(ws: RawWs, buf: Buffer, start: number, end: number): void {
    if (keepAlive(ws, this.dialect, buf, start, end)) return;
    if (heraldDialect(this.dialect) && buf[start + kindAt(this.dialect)] !== C_N) return;
    this.frameBytes = end - start;
    this.frames++;
    // A server frame's header: 2 bytes up to 125 bytes of payload, 4 up to 65,535.
    this.wireBytes += end - start + (end - start < 126 ? 2 : 4);
    if (this.dialect === 'socketio' && (buf[start] !== 0x34 || buf[start + 1] !== 0x32)) return;
    if (++this.count === this.target) {
      this.lastAt = performance.now();
      this.done?.();
    }
  }
}

/** The publisher's connection: one request per round, answered once published. */
class Control implements WsHandler {
  answered: (() => void) | undefined = undefined;

  constructor(private readonly dialect: Dialect) {}

  onMessage(ws: RawWs, buf: Buffer, start: number, end: number): void {
    if (keepAlive(ws, this.dialect, buf, start, end)) return;
    if (this.dialect === 'herald-msgpack') {
      if (String(envelopeOf(this.dialect, buf, start, end)?.['reqId']).startsWith('p')) this.answered?.();
      return;
    }
    const text = buf.toString('utf8', start, end);
    if (text.includes('"reqId":"p') || text.startsWith('43')) this.answered?.();
  }
}

export interface FanoutRun {
  /** Milliseconds from the publish request to the last subscriber's frame, per round. */
  readonly deliveryMs: number[];
  /** Server CPU milliseconds per publish (whole rounds, including the control request). */
  readonly serverCpuMsPerPublish: number;
  /** The same over the rounds after the first (a delta topic's first publication is full, and subscribers move to its delta fan-out). */
  readonly serverCpuMsPerLaterPublish: number;
  readonly missed: number;
  /** Payload bytes of one notification frame. */
  readonly frameBytes: number;
  /** Mean bytes on the wire (WebSocket frame: payload and header) of a notification, over the rounds after the first. */
  readonly wireBytesPerNotification: number;
}

/** Scenario 2: one publish to `subscribers` connections, `rounds` times. */
export async function fanout(
  dialect: Dialect,
  port: number,
  server: Measured,
  plan: {
    readonly subscribers: number;
    readonly rounds: number;
    readonly gapMs: number;
    readonly timeoutMs: number;
    /** What subscribers send in `herald.Subscribe` (default the `ticker` topic), and what the control connection publishes with (default `bench.Publish` of `NOTE_BODY`). */
    readonly subscription?: Readonly<Record<string, unknown>>;
    readonly publish?: { readonly type: string; readonly body: (round: number) => unknown };
    /** Publications before the measured rounds, counted in nothing (default 0): a warm JIT, as on a server that has been publishing. */
    readonly warmupRounds?: number;
  },
): Promise<FanoutRun> {
  const subscribers = await openSessions(dialect, port, plan.subscribers, { path: '/sub', subscribe: true, ...(plan.subscription === undefined ? {} : { subscription: plan.subscription }) });
  const [control] = await openSessions(dialect, port, 1, { path: '/ctl', firstIndex: plan.subscribers + 1 });
  if (control === undefined) throw new Error('no control connection');
  const load = new FanoutLoad(dialect);
  for (const ws of subscribers) ws.handler = load;
  const ctl = new Control(dialect);
  control.handler = ctl;
  const deliveryMs: number[] = [];
  let missed = 0;
  await sleep(plan.gapMs * 5);
  const warmup = plan.warmupRounds ?? 0;
  let cpu0 = server.cpu();
  let cpu1 = NaN;
  for (let round = 0; round < warmup + plan.rounds; round++) {
    const measured = round >= warmup;
    if (round === warmup) cpu0 = server.cpu();
    load.count = 0;
    load.target = plan.subscribers;
    const delivered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), plan.timeoutMs);
      load.done = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    const answered = new Promise<void>((resolve) => (ctl.answered = resolve));
    const id = String(round).padStart(8, '0');
    // The first publication may differ (a delta topic sends it in full): bytes count from the second.
    if (round === Math.max(1, warmup)) load.frames = load.wireBytes = 0;
    if (round === warmup + 1) {
      cpu1 = server.cpu();
    }
    const type = plan.publish?.type ?? 'bench.Publish';
    const body = plan.publish === undefined ? NOTE_BODY : plan.publish.body(round);
    const start = performance.now();
    if (dialect === 'herald-msgpack') control.write(envelopeFrame(dialect, { kind: 'req', id: `p${id}`, type, body }));
    else control.sendText(dialect === 'socketio' ? `42${id}["publish",${JSON.stringify(body)}]` : requestJson(`p${id}`, type, body));
    const ok = await delivered;
    if (measured && ok) deliveryMs.push(load.lastAt - start);
    else if (measured) missed++;
    await answered;
    await sleep(plan.gapMs);
  }
  const cpuEnd = server.cpu();
  const serverCpuMsPerPublish = ((cpuEnd - cpu0) * 1000) / plan.rounds;
  const serverCpuMsPerLaterPublish = ((cpuEnd - cpu1) * 1000) / (plan.rounds - 1);
  await closeAll([...subscribers, control]);
  return { deliveryMs, serverCpuMsPerPublish, serverCpuMsPerLaterPublish, missed, frameBytes: load.frameBytes, wireBytesPerNotification: load.frames === 0 ? NaN : load.wireBytes / load.frames };
}

/** Scenario 5: private notifications on request (`n` per trigger), acknowledged cumulatively or not at all. */
class DeliveryLoad implements WsHandler {
  count = 0;
  running = true;

  constructor(
    private readonly trigger: FrameTemplate,
    private readonly ack: FrameTemplate | null,
  ) {}

  onMessage(ws: RawWs, buf: Buffer, start: number, end: number): void {
    const kind = buf[start + KIND_AT];
    if (kind === C_N) {
      ws.seq++;
      this.count++;
    } else if (kind === C_R) ws.queued++;
    else keepAlive(ws, 'herald', buf, start, end);
  }

  onBatchEnd(ws: RawWs): void {
    const queued = ws.queued;
    if (queued === 0 || !this.running) return;
    ws.queued = 0;
    const ack = this.ack;
    const out = Buffer.allocUnsafe((ack === null ? 0 : ack.length) + queued * this.trigger.length);
    let at = ack === null ? 0 : ack.write(out, 0, ws.seq);
    for (let i = 0; i < queued; i++) at = this.trigger.write(out, at, ws.sent++);
    ws.write(out);
  }

  start(sockets: readonly RawWs[], inFlight: number): void {
    for (const ws of sockets) {
      ws.handler = this;
      ws.write(this.trigger.batch(0, inFlight));
      ws.sent = inFlight;
    }
  }
}

export async function delivery(
  port: number,
  server: Measured,
  acked: boolean,
  plan: { readonly connections: number; readonly inFlight: number; readonly perTrigger: number; readonly warmupMs: number; readonly windowMs: number; readonly windows: number },
): Promise<RequestRun> {
  const sockets = await openSessions('herald', port, plan.connections, { firstIndex: acked ? 0 : 100_000 });
  const trigger = new FrameTemplate(requestJson('########', acked ? 'bench.Notify' : 'bench.NotifyPlain', { n: plan.perTrigger }));
  const ack = acked ? new FrameTemplate('{"kind":"ack","seq":##########}', 10, 'space') : null;
  const load = new DeliveryLoad(trigger, ack);
  load.start(sockets, plan.inFlight);
  const windows = await measureWindows(load, server, plan.warmupMs, plan.windowMs, plan.windows);
  load.running = false;
  const closedEarly = sockets.filter((ws) => ws.closed).length;
  await sleep(50);
  await closeAll(sockets);
  return { windows, wrong: 0, closedEarly };
}

/** Scenario 4: long-poll clients, each with a held poll and a send connection, `batch` requests per send. */
/**
 * One long-poll client: a connection that polls in a loop and one that sends batches of
 * requests, a new batch once every request of the last one is answered. The subclasses speak
 * the two wires (Herald's long-poll, engine.io polling).
 */
abstract class PollClient {
  protected readonly polls: HttpConnection;
  protected readonly sends: HttpConnection;
  protected outstanding = 0;
  protected nextId = 0;
  /** Server pings to answer in the next send. */
  protected pongs = 0;
  private sending: Promise<unknown> = Promise.resolve();

  constructor(
    port: number,
    protected readonly load: { count: number; running: boolean; errors: number },
    protected readonly batch: number,
  ) {
    this.polls = new HttpConnection('127.0.0.1', port);
    this.sends = new HttpConnection('127.0.0.1', port);
  }

  abstract open(i: number): Promise<void>;
  /** The next batch of requests, counted in `outstanding` (and the pongs owed). */
  protected abstract nextSend(): { readonly path: string; readonly headers: string; readonly body: string; readonly ok: number };
  protected abstract pollRequest(): { readonly path: string; readonly headers: string | Record<string, string> };
  /** Counts what a poll answer holds; false when the server closed the connection. */
  protected abstract read(body: Buffer): boolean;

  run(): void {
    void this.poll();
    this.send();
  }

  private send(): void {
    const { path, headers, body, ok } = this.nextSend();
    this.sending = this.sending
      .then(() => this.sends.request('POST', path, headers, body))
      .then((response) => {
        if (response.status !== ok) this.load.errors++;
      })
      .catch(() => {});
  }

  private async poll(): Promise<void> {
    while (this.load.running) {
      const { path, headers } = this.pollRequest();
      let response;
      try {
        response = await this.polls.request('GET', path, headers);
      } catch {
        return;
      }
      if (response.status !== 200) {
        this.load.errors++;
        return;
      }
      if (!this.read(response.body)) return;
      if (this.outstanding === 0 && this.load.running) this.send();
    }
  }

  destroy(): void {
    this.polls.destroy();
    this.sends.destroy();
  }
}

const LP_HEADERS = { 'content-type': 'application/json' };

/**
 * The request envelope around its 8-digit id, split once, so a send is string concatenation
 * on either side: for Herald as a JSON string inside the batch array (escaped), for engine.io
 * as it is.
 */
const [FRAME_HEAD, FRAME_TAIL] = requestJson('########').split('########') as [string, string];
/** Herald's request also confirms the responses received so far (`resp`), as @herald/client's do. */
const [QUOTED_HEAD, QUOTED_MIDDLE, QUOTED_TAIL] = JSON.stringify(requestJson('########').replace('{"kind":"req",', '{"kind":"req","resp":@,')).split(/@|########/) as [string, string, string];
const QUOTED_PONG = JSON.stringify('{"kind":"pong"}');
const requestId = (n: number) => String(n).padStart(8, '0');

/** How every frame of a Herald poll body starts. */
const KIND = '{"kind":"';

class HeraldPollClient extends PollClient {
  private sendHeaders = '';
  private pollHeaders = '';
  private cursor = 0;
  /** Responses received on this long-poll connection. */
  private responses = 0;

  async open(i: number): Promise<void> {
    const response = await this.sends.request('POST', '/lp', { 'herald-protocol': 'herald.v1', authorization: `Bearer u${i}` });
    if (response.status !== 200) throw new Error(`long-poll open: ${response.status} ${response.body.toString()}`);
    const body = JSON.parse(response.body.toString()) as { sid: string; from: number; messages: unknown[] };
    this.sendHeaders = HttpConnection.headerLines({ ...LP_HEADERS, 'herald-session': body.sid });
    this.pollHeaders = HttpConnection.headerLines({ 'herald-session': body.sid });
    this.cursor = body.from + body.messages.length - 1;
  }

  protected nextSend() {
    // JSON.stringify of the array of frames, built from pieces quoted once.
    let body = '[';
    for (let i = 0; i < this.batch; i++) body += (i === 0 ? '' : ',') + QUOTED_HEAD + this.responses + QUOTED_MIDDLE + requestId(this.nextId++) + QUOTED_TAIL;
    for (; this.pongs > 0; this.pongs--) body += ',' + QUOTED_PONG;
    body += ']';
    this.outstanding += this.batch;
    return { path: '/lp/send', headers: this.sendHeaders, body, ok: 204 };
  }

  protected pollRequest() {
    return { path: `/lp/poll?ack=${this.cursor}`, headers: this.pollHeaders };
  }

  protected read(body: Buffer): boolean {
    // `{"from":N,"messages":[{"kind":…},…]}`, read by scanning (as the engine.io client does) rather than JSON.parse;
    // every server frame starts with `{"kind":"` and the echoed bodies hold no such text.
    const text = body.toString('latin1');
    const from = Number(text.slice(8, text.indexOf(',', 8)));
    let messages = 0;
    for (let at = text.indexOf(KIND); at !== -1; at = text.indexOf(KIND, at + KIND.length)) {
      // A frame at or below the cursor was received before (a poll answer sent again).
      if (from + messages++ <= this.cursor) continue;
      const kind = at + KIND.length;
      if (text.startsWith('resp"', kind)) {
        this.responses++;
        this.outstanding--;
        this.load.count++;
        const code = text.indexOf('"code":', kind);
        if (!text.startsWith('200', code + 7)) this.load.errors++;
      } else if (text.startsWith('ping"', kind)) this.pongs++;
    }
    if (messages > 0) this.cursor = Math.max(this.cursor, from + messages - 1);
    return true;
  }
}

const EIO_PATH = '/engine.io/?EIO=4&transport=polling';
const EIO_SEPARATOR = '\x1e';
const EIO_HEADERS = HttpConnection.headerLines({ 'content-type': 'text/plain;charset=UTF-8' });

class EnginePollClient extends PollClient {
  private path = '';

  async open(): Promise<void> {
    const response = await this.sends.request('GET', EIO_PATH, {});
    const text = response.body.toString();
    if (response.status !== 200 || !text.startsWith('0{')) throw new Error(`engine.io open: ${response.status} ${text}`);
    const { sid } = JSON.parse(text.slice(1)) as { sid: string };
    this.path = `${EIO_PATH}&sid=${sid}`;
  }

  protected nextSend() {
    let body = '';
    for (let i = 0; i < this.batch; i++) body += (i === 0 ? '4' : EIO_SEPARATOR + '4') + FRAME_HEAD + requestId(this.nextId++) + FRAME_TAIL;
    for (; this.pongs > 0; this.pongs--) body += EIO_SEPARATOR + '3';
    this.outstanding += this.batch;
    return { path: this.path, headers: EIO_HEADERS, body, ok: 200 };
  }

  protected pollRequest() {
    return { path: this.path, headers: {} };
  }

  protected read(body: Buffer): boolean {
    for (const packet of body.toString().split(EIO_SEPARATOR)) {
      const type = packet.charCodeAt(0);
      if (type === 0x34) {
        this.outstanding--;
        this.load.count++;
        if (!packet.includes('"code":200')) this.load.errors++;
      } else if (type === 0x32) this.pongs++;
      else if (type === 0x31) return false;
    }
    return true;
  }
}

export interface PollRun {
  readonly windows: Window[];
  readonly errors: number;
  /** HTTP requests (polls and sends) per message answered, over the run. */
  readonly requestsPerMessage: number;
}

export async function longPoll(
  kind: 'herald' | 'engine.io',
  port: number,
  server: Measured,
  plan: { readonly clients: number; readonly batch: number; readonly warmupMs: number; readonly windowMs: number; readonly windows: number },
): Promise<PollRun> {
  const load = { count: 0, running: true, errors: 0 };
  const clients: PollClient[] = Array.from({ length: plan.clients }, () =>
    kind === 'herald' ? new HeraldPollClient(port, load, plan.batch) : new EnginePollClient(port, load, plan.batch),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(100, plan.clients) }, async () => {
      while (next < plan.clients) {
        const i = next++;
        await (clients[i] as PollClient).open(i);
      }
    }),
  );
  for (const client of clients) client.run();
  const h0 = HttpConnection.answered;
  const c0 = load.count;
  const windows = await measureWindows(load, server, plan.warmupMs, plan.windowMs, plan.windows);
  const requestsPerMessage = (HttpConnection.answered - h0) / Math.max(1, load.count - c0);
  load.running = false;
  for (const client of clients) client.destroy();
  await sleep(100);
  return { windows, errors: load.errors, requestsPerMessage };
}
