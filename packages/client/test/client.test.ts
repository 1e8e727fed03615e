/** @herald/client against the real uWS adapter on loopback. */
import { freePort } from '@herald/testing/node';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import WebSocket from 'ws';
import { createClient, HeraldRequestError, type ClientOptions, type ClientState, type HeraldClient } from '../src/index.ts';
import { startServer, type TestContract, type TestServer } from './fixture.ts';

const clients: HeraldClient<TestContract>[] = [];
const servers: TestServer[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const server of servers.splice(0)) await server.stop();
});

async function server(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const started = await startServer(options);
  servers.push(started);
  return started;
}

function client(url: string, options: Partial<ClientOptions> = {}): HeraldClient<TestContract> {
  const created = createClient<TestContract>({ url, WebSocket, token: 'user:ann', reconnectDelayMs: 20, ...options });
  clients.push(created);
  return created;
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('requests', () => {
  it('sends typed requests and gets typed responses, with errors typed by code', async () => {
    const { url } = await server();
    const ann = client(url);
    const echoed: { text: string } = await ann.request('test.Echo', { text: 'hello' });
    expect(echoed).toEqual({ text: 'hello' });
    expect(ann.state).toBe('open');
    const forbidden = await ann.request('test.Forbidden', {}).catch((error: unknown) => error);
    expect(forbidden).toBeInstanceOf(HeraldRequestError);
    expect(forbidden).toMatchObject({ code: 403, reason: 'not_yours' });
    const invalid = await ann.request('test.Echo', { text: 5 as never }).catch((error: HeraldRequestError) => error);
    expect(invalid).toMatchObject({ code: 400, reason: 'validation_failed', issues: [{ path: ['body', 'text'] }] });
  });

  it('confirms the responses it received (resp), so the server lets their answers go', async () => {
    const test = await server();
    const ann = client(test.url);
    for (let i = 0; i < 20; i++) await ann.request('test.Echo', { text: `${i}` });
    // Each request confirmed the answers before it: only the last is held, until the ack (within 1 s).
    expect(test.herald.stats.retryAnswers).toBe(1);
    await until(() => test.herald.stats.retryAnswers === 0, 2000);
  });

  it('times out a request that gets no answer in time', async () => {
    const { url } = await server();
    const ann = client(url);
    const error = await ann.request('test.Slow', { ms: 500 }, { timeoutMs: 100 }).catch((e: HeraldRequestError) => e);
    expect(error).toMatchObject({ code: 0, reason: 'timeout' });
  });

  it('queues requests while offline, bounded, and sends them once connected', async () => {
    const port = await freePort();
    const ann = client(`ws://127.0.0.1:${port}/ws`, { maxQueued: 2 });
    const first = ann.request('test.Echo', { text: 'one' });
    const second = ann.request('test.Echo', { text: 'two' });
    await expect(ann.request('test.Echo', { text: 'three' })).rejects.toMatchObject({ reason: 'queue_full' });
    expect(ann.state).not.toBe('open');
    const started = await startServerOn(port);
    expect(await first).toEqual({ text: 'one' });
    expect(await second).toEqual({ text: 'two' });
    await started.stop();
  });

  it('sends the traceparent its traceContext gives with each application request, none when it gives none', async () => {
    const seen: Array<[string, string | undefined]> = [];
    const s = await server({ tracer: { startRequest: (info) => (seen.push([info.type, info.traceparent]), { end: () => {} }) } });
    let traceparent: string | undefined = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const c = client(s.url, { traceContext: () => traceparent });
    expect(await c.request('test.Echo', { text: 'a' })).toEqual({ text: 'a' });
    traceparent = undefined;
    expect(await c.request('test.Echo', { text: 'b' })).toEqual({ text: 'b' });
    expect(seen).toEqual([
      ['test.Echo', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'],
      ['test.Echo', undefined],
    ]);
  });

  it('refuses locally a request above the advertised maxMessageBytes', async () => {
    const { url } = await server({ limits: { maxMessageBytes: 1024 } });
    const ann = client(url);
    await ann.request('test.Echo', { text: 'warm up' });
    await expect(ann.request('test.Echo', { text: 'x'.repeat(2000) })).rejects.toMatchObject({ code: 413, reason: 'too_large' });
    expect(ann.state).toBe('open');
  });
});

describe('subscriptions and delivery', () => {
  it('delivers topic and private notifications once and in order, and acknowledges in batches', async () => {
    const test = await server();
    const ann = client(test.url);
    const ticks: number[] = [];
    await ann.subscribe('t/a', (body: { n: number }) => ticks.push(body.n)).ready;
    const privates: number[] = [];
    ann.on('test.Private', (body) => privates.push(body.n));
    const bob = client(test.url, { token: 'user:bob' });
    for (let n = 1; n <= 40; n++) {
      await bob.request('test.Publish', { topic: 't/a', n });
      await bob.request('test.Notify', { to: 'ann', n });
    }
    await until(() => ticks.length === 40 && privates.length === 40);
    expect(ticks).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(privates).toEqual(ticks);
    await until(() => test.herald.stats.replayFrames === 0);
  });

  it('surfaces a subscription the server refuses', async () => {
    const { url } = await server();
    const ann = client(url);
    await expect(ann.subscribe('secret', () => {}).ready).rejects.toMatchObject({ code: 403 });
  });
});

describe('reconnect and resume', () => {
  it('resumes across server restarts at random points: nothing lost, nothing doubled, each request run once', async () => {
    const test = await server();
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 3 }), async (restartAt) => {
        const topic = `t/${Math.random().toString(36).slice(2)}`;
        const ann = client(test.url, { token: `user:${topic.slice(2)}` });
        const ticks: number[] = [];
        const privates: number[] = [];
        await ann.subscribe(topic, (body: { n: number }) => ticks.push(body.n)).ready;
        ann.on('test.Private', (body) => privates.push(body.n));
        const answers: Array<Promise<{ runs: number }>> = [];
        for (let n = 1; n <= 60; n++) {
          if (restartAt.includes(n)) await test.restart();
          await test.herald.publish(topic, 'test.Tick', { n });
          await test.herald.sendToUser(topic.slice(2), 'test.Private', { n });
          answers.push(ann.request('test.Count', { key: `${topic}:${n}` }, { timeoutMs: 5000 }));
          await sleep(2);
        }
        const runs = await Promise.all(answers);
        await until(() => ticks.length >= 60 && privates.length >= 60);
        await sleep(50);
        expect(ticks).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        expect(privates).toEqual(ticks);
        expect(runs.every((answer) => answer.runs === 1)).toBe(true);
        for (let n = 1; n <= 60; n++) expect(test.runs.get(`${topic}:${n}`)).toBe(1);
        ann.close();
      }),
      { numRuns: 6 },
    );
  }, 60_000);

  it('tells the application when the session could not be recovered', async () => {
    const test = await server({ limits: { resumeWindowMs: 100 }, sweepIntervalMs: 20 });
    const failures: unknown[] = [];
    const ann = client(test.url, { reconnectDelayMs: 400, random: () => 1, onRecoveryFailed: (failure) => failures.push(failure) });
    await ann.request('test.Echo', { text: 'x' });
    const first = ann.sessionId;
    await test.restart();
    await until(() => failures.length > 0);
    expect(failures).toEqual([{ sessionReset: true, topics: [], reason: 'unknown_session', topicReasons: {} }]);
    expect(ann.sessionId).not.toBe(first);
    expect(await ann.request('test.Echo', { text: 'after' })).toEqual({ text: 'after' });
  });

  it('stops reconnecting after a fatal close code, and exposes state and the close', async () => {
    const test = await server({ origins: ['https://app.example'] });
    const states: ClientState[] = [];
    const evil = client(test.url, { headers: { origin: 'https://evil.example' }, onStateChange: (state) => states.push(state) });
    await until(() => evil.state === 'closed');
    await sleep(200);
    expect(evil.lastClose).toEqual({ code: 4403, reason: "this page's origin is not allowed" });
    expect(test.upgrades).toBe(1);
    expect(states).toEqual(['closed']);
    await expect(evil.request('test.Echo', { text: 'x' })).rejects.toMatchObject({ reason: 'closed' });
  });

  it('stops after a refused static token instead of looping', async () => {
    const test = await server();
    const bad = client(test.url, { token: 'nope' });
    await until(() => bad.state === 'closed');
    await sleep(200);
    expect(bad.lastClose?.code).toBe(4401);
    expect(test.upgrades).toBe(1);
  });

  it('rejects requests after a refused static token with the reason, the close code and the table\'s advice', async () => {
    const test = await server();
    const bad = client(test.url, { token: 'nope' });
    const error = await bad.request('test.Echo', { text: 'x' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HeraldRequestError);
    expect(error).toMatchObject({ code: 401, reason: 'invalid_token', closeCode: 4401, retry: 'reauthenticate' });
    expect((error as Error).message).toBe('closed (4401): invalid_token: invalid token');
  });

  it('calls onStateChange only once createClient has returned, even when the transport fails at once', async () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const created: HeraldClient<TestContract> = createClient<TestContract>({
      url: 'not a url',
      WebSocket,
      token: 'user:ann',
      reconnectDelayMs: 20,
      onStateChange: (state) => seen.push(`${state}:${created.state}`),
      onError: (error) => errors.push(error),
    });
    clients.push(created);
    expect(seen).toEqual([]);
    await until(() => seen.length > 0);
    expect(seen[0]).toBe('closed:closed');
    expect(errors).toMatchObject([{ reason: 'invalid_url' }]);
  });

  it('honours the retry hint of a Goodbye', async () => {
    const test = await server({ limits: { rateLimit: { messagesPerSecond: 10, burst: 10 } } });
    const flooder = client(test.url, { random: () => 0 });
    await flooder.request('test.Echo', { text: 'x' });
    const closedAt = { at: 0 };
    const flood = Array.from({ length: 40 }, (_, i) => flooder.request('test.Echo', { text: String(i) }).catch(() => {}));
    await until(() => flooder.lastClose?.code === 4429);
    closedAt.at = Date.now();
    await until(() => flooder.state === 'open', 5000);
    expect(Date.now() - closedAt.at).toBeGreaterThanOrEqual(900);
    await Promise.all(flood);
  });
});

describe('a gap in the private stream', () => {
  it('is never skipped: the client closes with 4000, resumes from the last seq it delivered, and gets the missing one', async () => {
    // A server that skips seq 2 on its first connection and replays from the resumed seq on the next.
    const faulty = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'herald.v1' });
    const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 25000, pingTimeoutMs: 10000, authDeadlineMs: 10000, replayWindow: 100, resumeWindowMs: 60000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
    const note = (seq: number) => JSON.stringify({ kind: 'notification', type: 'test.Private', seq, body: { n: seq } });
    const closes: number[] = [];
    const resumes: unknown[] = [];
    let connections = 0;
    faulty.on('connection', (ws) => {
      const first = ++connections === 1;
      ws.on('close', (code) => closes.push(code));
      ws.send(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId: 'gapgapgapgapgapgapgapg', protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
      if (first) {
        setTimeout(() => {
          ws.send(note(1));
          ws.send(note(3));
        }, 50);
        return;
      }
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { kind: string; id?: string; type?: string; body?: { seq: number } };
        if (message.type !== 'herald.Resume') return;
        resumes.push(message.body);
        for (let seq = (message.body?.seq ?? 0) + 1; seq <= 3; seq++) ws.send(note(seq));
        ws.send(JSON.stringify({ kind: 'resp', reqId: message.id, type: 'herald.Resume', code: 200, body: { sessionId: 'gapgapgapgapgapgapgapg', recovered: true, topics: {} } }));
      });
    });
    await new Promise((resolve) => faulty.once('listening', resolve));
    const ann = client(`ws://127.0.0.1:${(faulty.address() as { port: number }).port}/ws`);
    const seen: number[] = [];
    ann.on('test.Private', ({ n }) => seen.push(n));
    await until(() => seen.length === 3, 10_000);
    expect(seen).toEqual([1, 2, 3]);
    expect(closes[0]).toBe(4000);
    expect(resumes).toEqual([{ sessionId: 'gapgapgapgapgapgapgapg', seq: 1, topics: {} }]);
    ann.close();
    faulty.close();
  });
});

describe('a resume answered with a new session', () => {
  it('delivers the new session\'s notifications that follow the answer at once, counted from seq 1', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'herald.v1' });
    const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 25000, pingTimeoutMs: 10000, authDeadlineMs: 10000, replayWindow: 100, resumeWindowMs: 60000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
    const note = (seq: number, n: number) => JSON.stringify({ kind: 'notification', type: 'test.Private', seq, body: { n } });
    let connections = 0;
    server.on('connection', (ws) => {
      const sessionId = `session${++connections}`.padEnd(22, 'x');
      ws.send(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId, protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
      if (connections === 1) {
        for (let seq = 1; seq <= 3; seq++) ws.send(note(seq, seq));
        setTimeout(() => ws.terminate(), 100);
        return;
      }
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: string; type?: string };
        if (message.type !== 'herald.Resume') return;
        // One write: the answer and the fresh session's first notifications reach the client together.
        const answer = JSON.stringify({ kind: 'resp', reqId: message.id, type: 'herald.Resume', code: 200, body: { sessionId, recovered: false, topics: {} } });
        (ws as unknown as { _socket: { write(data: Buffer): void } })._socket.write(Buffer.concat([answer, note(1, 4), note(2, 5)].map(frame)));
      });
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const ann = client(`ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`);
    const seen: number[] = [];
    ann.on('test.Private', ({ n }) => seen.push(n));
    await until(() => seen.length === 5, 10_000);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    ann.close();
    server.close();
  });
});

describe('a resume refused with 409', () => {
  it('never takes the new connection\'s own notifications, sent before the refusal, for the resumed stream', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'herald.v1' });
    const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 25000, pingTimeoutMs: 10000, authDeadlineMs: 10000, replayWindow: 100, resumeWindowMs: 60000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
    const note = (seq: number, n: number) => JSON.stringify({ kind: 'notification', type: 'test.Private', seq, body: { n } });
    const first = 'oldsessionoldsessionol';
    let connections = 0;
    server.on('connection', (ws) => {
      const connection = ++connections;
      const sessionId = connection === 1 ? first : `fresh${connection}`.padEnd(22, 'x');
      ws.send(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId, protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
      if (connection === 1) {
        ws.send(note(1, 1));
        setTimeout(() => ws.terminate(), 100);
        return;
      }
      // A busy server: this connection's own session settled before the resume arrived.
      if (connection === 2) for (let seq = 1; seq <= 3; seq++) ws.send(note(seq, 90 + seq));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: string; type?: string; body?: { seq: number } };
        if (message.type !== 'herald.Resume') return;
        if (connection === 2) {
          ws.send(JSON.stringify({ kind: 'resp', reqId: message.id, type: 'herald.Resume', code: 409, body: { error: 'conflict', message: 'too late' } }));
          return;
        }
        for (let seq = (message.body?.seq ?? 0) + 1; seq <= 3; seq++) ws.send(note(seq, seq));
        ws.send(JSON.stringify({ kind: 'resp', reqId: message.id, type: 'herald.Resume', code: 200, body: { sessionId: first, recovered: true, topics: {} } }));
      });
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const ann = client(`ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`);
    const seen: number[] = [];
    ann.on('test.Private', ({ n }) => seen.push(n));
    await until(() => seen.length >= 3, 10_000);
    await sleep(100);
    expect(seen).toEqual([1, 2, 3]);
    ann.close();
    server.close();
  });
});

/** An unmasked WebSocket text frame, as a server writes it. */
function frame(text: string): Buffer {
  const payload = Buffer.from(text);
  const header = payload.length < 126 ? Buffer.from([0x81, payload.length]) : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 255]);
  return Buffer.concat([header, payload]);
}

describe('a gap in a topic stream', () => {
  it('is never skipped: the client re-subscribes from its position and delivers the replay, in order, once', async () => {
    const faulty = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'herald.v1' });
    const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 25000, pingTimeoutMs: 10000, authDeadlineMs: 10000, replayWindow: 100, resumeWindowMs: 60000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
    const tick = (offset: number) => JSON.stringify({ kind: 'notification', type: 'test.Tick', topic: 't/a', offset, body: { n: offset } });
    const subscribes: unknown[] = [];
    faulty.on('connection', (ws) => {
      ws.send(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId: 'topicgaptopicgaptopicg', protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: string; type?: string; body?: { since?: { offset: number } } };
        if (message.type !== 'herald.Subscribe') return;
        subscribes.push(message.body);
        const answer = (offset: number) => JSON.stringify({ kind: 'resp', reqId: message.id, type: 'herald.Subscribe', code: 200, body: { topic: 't/a', epoch: 'e', offset, recovered: true } });
        if (message.body?.since === undefined) {
          ws.send(answer(0));
          // Offset 2 is lost on the way.
          ws.send(tick(1));
          ws.send(tick(3));
          ws.send(tick(4));
          return;
        }
        for (let offset = message.body.since.offset + 1; offset <= 4; offset++) ws.send(tick(offset));
        ws.send(answer(4));
        ws.send(tick(5));
      });
    });
    await new Promise((resolve) => faulty.once('listening', resolve));
    const gaps: unknown[] = [];
    const ann = client(`ws://127.0.0.1:${(faulty.address() as { port: number }).port}/ws`, { onGap: (gap) => gaps.push(gap) });
    const seen: number[] = [];
    ann.subscribe('t/a', (body) => seen.push((body as { n: number }).n));
    await until(() => seen.length === 5, 10_000);
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(subscribes).toEqual([{ topic: 't/a' }, { topic: 't/a', since: { epoch: 'e', offset: 1 } }]);
    expect(gaps).toEqual([{ topic: 't/a', last: 1, received: 3 }]);
    ann.close();
    faulty.close();
  });
});

describe('a conflated topic', () => {
  it('takes a jump marked conflated as the newest state, not a gap, and still re-syncs an unmarked one', async () => {
    const server = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'herald.v1' });
    const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 25000, pingTimeoutMs: 10000, authDeadlineMs: 10000, replayWindow: 100, resumeWindowMs: 60000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
    const tick = (offset: number, conflated = false) =>
      JSON.stringify({ kind: 'notification', type: 'test.Tick', topic: 't/a', offset, ...(conflated ? { conflated: true } : {}), body: { n: offset } });
    const subscribes: unknown[] = [];
    server.on('connection', (ws) => {
      ws.send(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId: 'conflatedconflatedconf', protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { id?: string; type?: string; body?: { since?: { offset: number } } };
        if (message.type !== 'herald.Subscribe') return;
        subscribes.push(message.body);
        const answer = (offset: number) => JSON.stringify({ kind: 'resp', reqId: message.id, type: 'herald.Subscribe', code: 200, body: { topic: 't/a', epoch: 'e', offset, recovered: true } });
        if (message.body?.since === undefined) {
          ws.send(answer(0));
          ws.send(tick(1));
          // 2 to 9 superseded on purpose; then 11 arrives without 10 and without the mark: a gap.
          ws.send(tick(10, true));
          ws.send(tick(12));
          return;
        }
        ws.send(tick(12, true));
        ws.send(answer(12));
      });
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const gaps: unknown[] = [];
    const ann = client(`ws://127.0.0.1:${(server.address() as { port: number }).port}/ws`, { onGap: (gap) => gaps.push(gap) });
    const seen: Array<[number, boolean]> = [];
    ann.subscribe('t/a', (body, meta) => seen.push([(body as { n: number }).n, meta.conflated === true]));
    await until(() => seen.length === 3, 10_000);
    expect(seen).toEqual([
      [1, false],
      [10, true],
      [12, true],
    ]);
    expect(gaps).toEqual([{ topic: 't/a', last: 10, received: 12 }]);
    expect(subscribes).toEqual([{ topic: 't/a' }, { topic: 't/a', since: { epoch: 'e', offset: 10 } }]);
    ann.close();
    server.close();
  });
});

describe('authentication and keep-alive', () => {
  it('refreshes an expiring token in session without reconnecting', async () => {
    const test = await server();
    let calls = 0;
    const ann = client(test.url, { token: () => `user:ann:ttl=${++calls === 1 ? 1500 : 60_000}`, refreshBeforeMs: 1000 });
    await ann.request('test.Echo', { text: 'x' });
    const session = ann.sessionId;
    await sleep(2000);
    expect(calls).toBe(2);
    expect(ann.state).toBe('open');
    expect(ann.sessionId).toBe(session);
    expect(test.upgrades).toBe(1);
    expect(await ann.request('test.Echo', { text: 'still' })).toEqual({ text: 'still' });
  });

  it('declares a silent server dead and reconnects', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => 'herald.v1' });
    let connections = 0;
    silent.on('connection', (ws) => {
      connections++;
      const limits = { maxMessageBytes: 65536, maxDepth: 32, pingIntervalMs: 300, pingTimeoutMs: 300, authDeadlineMs: 10000, replayWindow: 100, resumeWindowMs: 1000, dedupWindow: 10, maxSubscriptions: 10, rateLimit: { messagesPerSecond: 100, burst: 100 } };
      ws.send(JSON.stringify({ kind: 'notification', type: 'herald.Welcome', body: { sessionId: `s${connections}`.padEnd(22, 'x'), protocol: 'herald.v1', authenticated: true, userId: 'ann', limits } }));
    });
    await new Promise((resolve) => silent.once('listening', resolve));
    const states: ClientState[] = [];
    const ann = client(`ws://127.0.0.1:${(silent.address() as { port: number }).port}/ws`, { onStateChange: (s) => states.push(s) });
    await until(() => ann.lastClose?.code === 4408, 4000);
    expect(ann.lastClose).toEqual({ code: 4408, reason: 'server silent' });
    await until(() => connections >= 2, 4000);
    expect(states.slice(0, 2)).toEqual(['open', 'reconnecting']);
    ann.close();
    silent.close();
  });
});

async function startServerOn(port: number): Promise<{ stop(): Promise<void> }> {
  const { serveHerald } = await import('@herald/uws');
  const { herald } = await startServer();
  const running = await serveHerald(herald, { port, host: '127.0.0.1' });
  return { stop: () => running.close() };
}
