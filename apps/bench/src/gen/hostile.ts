/**
 * Scenario 7 (issue 16): one hostile session beside well-behaved ones. Well-behaved sessions
 * send paced `chat.Send` requests (open loop) and record each answer's latency, first on a
 * quiet server, then while one more session sends 10 expensive requests a second: 64 KB
 * `ams.aam.SubscribeExConversations` bodies whose `convState` holds ~32,000 invalid items, a
 * tenth of its allowed rate. The attacker does not reconnect once closed.
 */
import WebSocket from 'ws';
import { percentile } from '../report.ts';

export interface HostilePlan {
  readonly sessions: number;
  readonly intervalMs: number;
  readonly warmupMs: number;
  readonly quietMs: number;
  readonly attackMs: number;
  readonly attackPerSecond: number;
}

export interface LatencyWindow {
  readonly requests: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Answers to well-behaved sessions that were not 200, and requests never answered. */
  readonly failed: number;
}

export interface HostileRow {
  readonly quiet: LatencyWindow;
  readonly attacked: LatencyWindow;
  readonly attacker: {
    readonly sent: number;
    /** Answers by status. */
    readonly answers: Readonly<Record<string, number>>;
    /** When it was closed, from its first frame, and with which code (Goodbye's if any). */
    readonly closedAfterMs: number | null;
    readonly closeCode: number | null;
  };
  readonly error?: string;
}

const MAX_MESSAGE_BYTES = 64 * 1024;

const NO_WINDOW: LatencyWindow = { requests: 0, p50Ms: NaN, p99Ms: NaN, maxMs: NaN, failed: 0 };

/** The row of a run that failed, carrying why. */
export function failedHostileRow(error: string): HostileRow {
  return { quiet: NO_WINDOW, attacked: NO_WINDOW, attacker: { sent: 0, answers: {}, closedAfterMs: null, closeCode: null }, error };
}

/** The attacker's frame: as many invalid enum items (`0`) as fit in `maxMessageBytes`. */
export function hostileFrame(id: string): string {
  const head = `{"kind":"req","id":"${id}","type":"ams.aam.SubscribeExConversations","body":{"skills":["45"],"convState":[`;
  const tail = ']}}';
  const items = Math.floor((MAX_MESSAGE_BYTES - head.length - tail.length + 1) / 2);
  return head + Array.from({ length: items }, () => '0').join(',') + tail;
}

interface Client {
  readonly socket: WebSocket;
  /** Status of every answer, by request id. */
  onAnswer?: (reqId: string, code: number) => void;
  closeCode: number | null;
}

function open(url: string, user: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'herald.v1', { headers: { authorization: `Bearer demo-${user}` }, perMessageDeflate: false });
    const client: Client = { socket, closeCode: null };
    socket.on('message', (data) => {
      const text = data.toString();
      if (text.startsWith('{"kind":"ping"')) return socket.send('{"kind":"pong"}');
      const message = JSON.parse(text) as { kind: string; type?: string; reqId?: string; code?: number; body?: { code?: number; authenticated?: boolean } };
      if (message.kind === 'resp') client.onAnswer?.(message.reqId as string, message.code as number);
      else if (message.type === 'herald.Welcome') {
        if (message.body?.authenticated === true) resolve(client);
        else reject(new Error(`${user} not authenticated`));
      } else if (message.type === 'herald.Goodbye') client.closeCode = message.body?.code ?? null;
    });
    socket.on('close', (code) => (client.closeCode ??= code));
    socket.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Paced requests from every well-behaved session for `ms`; latencies of the answers. */
async function measure(clients: readonly Client[], plan: HostilePlan, ms: number, tag: string): Promise<LatencyWindow> {
  const latencies: number[] = [];
  let failed = 0;
  const pending = new Map<string, number>();
  let n = 0;
  for (const client of clients) {
    client.onAnswer = (reqId, code) => {
      const sentAt = pending.get(reqId);
      if (sentAt === undefined) return;
      pending.delete(reqId);
      if (code === 200) latencies.push(performance.now() - sentAt);
      else failed++;
    };
  }
  const timers = clients.map((client, i) =>
    setInterval(() => {
      const id = `${tag}${i}.${n++}`;
      pending.set(id, performance.now());
      client.socket.send(`{"kind":"req","id":"${id}","type":"chat.Send","body":{"room":"lobby","text":"hello from a well-behaved session"}}`);
    }, plan.intervalMs),
  );
  await sleep(ms);
  for (const timer of timers) clearInterval(timer);
  // Answers still on the way count with their real latency; any never answered is a failure.
  const deadline = performance.now() + 30_000;
  while (pending.size > 0 && performance.now() < deadline) await sleep(10);
  failed += pending.size;
  return { requests: latencies.length + failed, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies), failed };
}

export async function hostile(url: string, plan: HostilePlan): Promise<HostileRow> {
  const clients = await Promise.all(Array.from({ length: plan.sessions }, (_, i) => open(url, `h${i}`)));
  const attacker = await open(url, 'mallory');
  try {
    await measure(clients, plan, plan.warmupMs, 'w');
    const quiet = await measure(clients, plan, plan.quietMs, 'q');
    const answers: Record<string, number> = {};
    attacker.onAnswer = (_id, code) => (answers[code] = (answers[code] ?? 0) + 1);
    let sent = 0;
    const startedAt = performance.now();
    let closedAt: number | null = null;
    attacker.socket.on('close', () => (closedAt = performance.now()));
    const attacking = setInterval(() => {
      if (attacker.socket.readyState !== WebSocket.OPEN) return;
      attacker.socket.send(hostileFrame(`a${sent++}`));
    }, 1000 / plan.attackPerSecond);
    const attacked = await measure(clients, plan, plan.attackMs, 'x');
    clearInterval(attacking);
    return {
      quiet,
      attacked,
      attacker: { sent, answers, closedAfterMs: closedAt === null ? null : (closedAt as number) - startedAt, closeCode: closedAt === null ? null : attacker.closeCode },
    };
  } finally {
    for (const client of [...clients, attacker]) client.socket.terminate();
  }
}
