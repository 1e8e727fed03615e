/**
 * /metrics on the demo: real clients over WebSocket and long-poll drive traffic, and the
 * scrape, parsed by a Prometheus text parser, shows `herald_` counters that follow it.
 */
import { LongPollWebSocket } from '@herald/client';
import { connect, eventually, upgradeRefusal, withType, type Tester } from '@herald/testing';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../src/server.ts';

let demo: DemoServer;
let base: string;
const open: Tester[] = [];

beforeAll(async () => {
  demo = await startDemo({ port: 0, host: '127.0.0.1', node: 'demo-1', herald: { upgradeRateLimit: false } });
  base = `127.0.0.1:${demo.port}`;
});

afterAll(async () => {
  for (const tester of open) tester.drop();
  await demo.close();
});

async function client(token: string, longPoll = false): Promise<Tester> {
  const tester = longPoll
    ? await connect(`http://${base}/lp`, { token, WebSocket: LongPollWebSocket })
    : await connect(`ws://${base}/ws`, { token });
  open.push(tester);
  return tester;
}

type Scrape = ReturnType<typeof parsePrometheusTextFormat>;

async function scrape(): Promise<Scrape> {
  const response = await fetch(`http://${base}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return parsePrometheusTextFormat(await response.text());
}

/** The value of one series, or 0 when it is not there yet. */
function value(families: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  const sample = family?.metrics.find((m) => Object.entries({ node: 'demo-1', ...labels }).every(([k, v]) => m.labels?.[k] === v));
  return Number(sample?.value ?? 0);
}

/** Whether a histogram has observations (the parser keeps one series' buckets, not their labels: per series, see @herald/metrics's tests). */
function observed(families: Scrape, name: string): boolean {
  const family = families.find((f) => f.name === name);
  expect(family?.type).toBe('HISTOGRAM');
  return (family?.metrics ?? []).some((m) => Number(m.buckets?.['+Inf'] ?? 0) > 0);
}

it('shows herald_ families whose counters grow with real traffic, over WebSocket and long-poll', async () => {
  const before = await scrape();
  for (const name of ['herald_requests_total', 'herald_request_duration_seconds', 'herald_connections_open', 'herald_sessions']) {
    expect(before.some((f) => f.name === name), name).toBe(true);
  }
  const refused = await upgradeRefusal(`ws://${base}/ws`, { headers: { authorization: 'Bearer wrong' } });
  expect(refused.status).toBe(401);

  const alice = await client('demo-alice');
  const bob = await client('demo-bob', true);
  await alice.request('chat.Join', { room: 'metrics' });
  await bob.request('chat.Join', { room: 'metrics' });
  expect((await bob.request('chat.Send', { room: 'metrics', text: 'one' })).code).toBe(200);
  await alice.waitFor(withType('chat.Message'));
  // The same id again: answered from the retry cache, not run a second time.
  expect((await alice.request('chat.Send', { room: 'metrics', text: 'two' }, { id: 'again' })).code).toBe(200);
  expect((await alice.request('chat.Send', { room: 'metrics', text: 'two' }, { id: 'again' })).code).toBe(200);
  await alice.request('chat.Whisper', { to: 'bob', text: 'psst' });
  const whisper = (await bob.waitFor(withType('chat.Whispered'))) as { seq: number };
  bob.ack(whisper.seq);
  expect((await alice.request('no.SuchType', {})).code).toBe(404);

  let after: Scrape = [];
  await eventually(async () => {
    after = await scrape();
    expect(value(after, 'herald_notifications_acked_total')).toBeGreaterThan(value(before, 'herald_notifications_acked_total'));
  }, 15_000);
  const grew = (name: string, labels: Record<string, string> = {}, by = 1) =>
    expect(value(after, name, labels) - value(before, name, labels), `${name} ${JSON.stringify(labels)}`).toBeGreaterThanOrEqual(by);
  grew('herald_connections_opened_total', { transport: 'websocket' });
  grew('herald_connections_opened_total', { transport: 'long-poll' });
  grew('herald_frames_received_total', { transport: 'websocket' }, 5);
  grew('herald_frames_received_total', { transport: 'long-poll' }, 3);
  grew('herald_sent_bytes_total', { transport: 'websocket' }, 100);
  grew('herald_sessions_authenticated_total', {}, 2);
  grew('herald_requests_total', { type: 'chat.Send', code: '200' }, 2);
  grew('herald_requests_total', { type: 'unknown', code: '404' });
  expect(observed(after, 'herald_request_duration_seconds')).toBe(true);
  expect(observed(after, 'herald_topic_fanout')).toBe(true);
  grew('herald_retries_answered_total', { type: 'chat.Send' });
  grew('herald_topic_messages_total', {}, 2);
  grew('herald_notifications_sent_total', {}, 1);
  grew('herald_upgrade_refusals_total', { reason: 'invalid_token' });
  // A request is counted once: the retry is not a second chat.Send run.
  expect(value(after, 'herald_requests_total', { type: 'chat.Send', code: '200' }) - value(before, 'herald_requests_total', { type: 'chat.Send', code: '200' })).toBe(2);
  expect(after.find((f) => f.name === 'herald_requests_total')?.metrics.every((m) => m.labels?.['type'] !== 'no.SuchType')).toBe(true);
  expect(value(after, 'herald_connections_open')).toBeGreaterThanOrEqual(2);
  expect(value(after, 'herald_subscriptions')).toBeGreaterThanOrEqual(2);

  // Bob's long-poll client keeps a poll waiting for frames.
  await eventually(async () => expect(value(await scrape(), 'herald_long_poll_held_polls')).toBe(1), 15_000);

  await alice.close(1000);
  await eventually(async () => {
    const families = await scrape();
    expect(value(families, 'herald_connections_closed_total', { transport: 'websocket', code: '1000' })).toBeGreaterThan(
      value(before, 'herald_connections_closed_total', { transport: 'websocket', code: '1000' }),
    );
  }, 15_000);
});
