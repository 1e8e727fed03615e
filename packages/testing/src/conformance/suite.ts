/**
 * The conformance suite: PROTOCOL.md's MUSTs checked from outside, over real sockets, against
 * any transport. A transport supplies `start(herald)`, which serves the given Herald server and
 * returns its WebSocket URL and a stop function (graceful shutdown); every test gets a fresh
 * server built by `createConformanceHerald`.
 */
import type { Herald, HeraldOptions, NotificationMessage, ResponseMessage, WelcomeBody } from '@herald/core';
import { afterEach, describe, expect, it } from 'vitest';
import { presenceCount, presenceJoin, presenceLeave, withKind, withProperty, withType } from '../matchers.ts';
import { clientFrame, closeCode, parseAnswers, RawConnection, rawExchange, serverFrames, upgradeRequest, type RawFrame } from '../node/raw-http.ts';
import { upgradeRefusal, type Refusal } from '../refusal.ts';
import { connect, type ConnectOptions, type Tester, type WebSocketConstructor } from '../tester.ts';
import { conformanceDocument, conformanceLimits, createConformanceHerald, type ConformanceContract } from './app.ts';
import { deltaBodies } from './delta-bodies.ts';
import { describeMsgpackConformance } from './msgpack-suite.ts';

/** A running server under test. */
export interface StartedServer {
  /** The WebSocket URL, e.g. `ws://127.0.0.1:41234/ws`. */
  readonly url: string;
  /** Graceful shutdown (the suite checks it closes clients with 4503). */
  stop(): Promise<void>;
}

export interface ConformanceTarget {
  readonly name: string;
  /** Serves the Herald server; `url` is the WebSocket URL, or the long-poll endpoint. */
  readonly start: (herald: Herald<ConformanceContract>) => Promise<StartedServer>;
  /**
   * Which transport `url` speaks (default `websocket`). For `long-poll`, `WebSocket` is the
   * WebSocket-shaped long-poll client to connect with (`LongPollWebSocket` from @herald/client).
   */
  readonly transport?: 'websocket' | 'long-poll';
  readonly WebSocket?: WebSocketConstructor;
  /**
   * What the WebSocket implementation does, before any Herald code runs, with frames RFC 6455
   * says to fail the connection on (PROTOCOL.md, "Frames RFC 6455 forbids"). Default: what the
   * RFC asks, close `1002` for an unmasked client frame and `1007` for text that is not UTF-8.
   */
  readonly forbiddenFrames?: {
    /** `read-as-masked`: handled like any frame (Deno); `unread`: never read, nor answered (uWS). */
    readonly unmasked?: 'close-1002' | 'read-as-masked' | 'unread';
    /** `drop-connection`: the TCP connection ends without a close frame (uWS). */
    readonly invalidUtf8?: 'close-1007' | 'drop-connection';
  };
  /**
   * Long-poll: whether the HTTP server answers an HTTP/1.0 request without `Host` (default
   * `answered`); uWS's parser leaves it unanswered until its idle timeout (PROTOCOL.md, "HTTP versions").
   */
  readonly http10?: 'answered' | 'unanswered';
  /** The engine for each test's server (default: the in-memory broker, sessions in memory); `start`'s `stop` releases it. */
  readonly engine?: () => Pick<HeraldOptions<ConformanceContract>, 'broker' | 'sessionStore'>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const { pingIntervalMs, pingTimeoutMs, authDeadlineMs, resumeWindowMs, maxMessageBytes, maxSubscriptions } = conformanceLimits;
const SLACK_MS = 400;

/**
 * Registers the conformance suite for one transport.
 *
 * @example
 * describeConformance({
 *   name: 'uWS',
 *   start: async (herald) => {
 *     const server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
 *     return { url: `ws://127.0.0.1:${server.port}/ws`, stop: () => server.close() };
 *   },
 * });
 */
export function describeConformance(target: ConformanceTarget): void {
  const webSocket = (target.transport ?? 'websocket') === 'websocket';
  if (!webSocket && target.WebSocket === undefined) throw new TypeError('describeConformance: give the long-poll client as `WebSocket`');
  /** Tests of WebSocket mechanics (upgrade close codes for browsers, TCP half-open) only run there. */
  const itWebSocket = webSocket ? it : () => {};
  /** …and tests of what long-poll does instead. */
  const itLongPoll = webSocket ? () => {} : it;
  // Long-poll carries JSON only (PROTOCOL.md §11); every transport with binary frames speaks msgpack too.
  if (webSocket) describeMsgpackConformance(target);
  describe(`herald.v1 conformance: ${target.name}`, () => {
    let server: StartedServer | undefined;
    let testers: Tester[] = [];

    afterEach(async () => {
      for (const tester of testers) if (tester.closeInfo === undefined) tester.drop();
      testers = [];
      await server?.stop();
      server = undefined;
    });

    async function boot(): Promise<StartedServer> {
      server = await target.start(createConformanceHerald({}, target.engine?.()));
      return server;
    }

    async function client(options: ConnectOptions = {}): Promise<Tester> {
      const WebSocket = target.WebSocket;
      const tester = await connect((server as StartedServer).url, WebSocket === undefined ? options : { ...options, WebSocket });
      testers.push(tester);
      return tester;
    }

    /** What a native client is told when its upgrade (or long-poll open) is refused. */
    async function refusal(url: string, options: { headers?: Record<string, string>; protocols?: string[] }): Promise<Refusal> {
      if (webSocket) return upgradeRefusal(url, options);
      const protocols = options.protocols ?? ['herald.v1'];
      const headers = { ...options.headers, ...(protocols.length === 0 ? {} : { 'herald-protocol': protocols.join(', ') }) };
      const response = await fetch(url, { method: 'POST', headers });
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => (responseHeaders[name] = value));
      return { status: response.status, headers: responseHeaders, body: await response.json() };
    }

    /** The first complete answer to `bytes`, written on a raw connection to the server. */
    async function rawAnswer(url: string, bytes: string) {
      const { received } = await rawExchange(Number(new URL(url).port), bytes, { until: (data) => parseAnswers(data.toString('latin1')).answers.length > 0 });
      return parseAnswers(received.toString('latin1')).answers[0];
    }

    /** A raw WebSocket handshake (`headers` added to a valid one), once the answer's head is in. */
    async function rawUpgrade(url: string, headers: Record<string, string> = {}, host = new URL(url).host): Promise<RawConnection> {
      const connection = new RawConnection(Number(new URL(url).port)).write(upgradeRequest(new URL(url).pathname, host, headers));
      return connection.wait({ until: (data) => data.includes('\r\n\r\n') });
    }

    /** The server frames received after the handshake's answer. */
    const framesOf = (connection: RawConnection) => serverFrames(connection.received, connection.received.indexOf('\r\n\r\n') + 4);

    /** The server's own origin, which browsers from the same site send. */
    const originOf = (url: string) => {
      const parsed = new URL(url);
      return `${parsed.protocol === 'wss:' ? 'https' : 'http'}://${parsed.host}`;
    };

    describe('session opening', () => {
      it('sends herald.Welcome first, with the session id and every limit', async () => {
        await boot();
        const tester = await client();
        expect(tester.log[0]).toMatchObject({ kind: 'notification', type: 'herald.Welcome' });
        const welcome: WelcomeBody = tester.welcome;
        expect(welcome.sessionId).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(welcome).toMatchObject({ protocol: 'herald.v1', authenticated: false, limits: conformanceLimits });
      });

      it('refuses a native client without the subprotocol with HTTP 406 and a JSON body', async () => {
        const { url } = await boot();
        expect(await refusal(url, { protocols: [] })).toMatchObject({ status: 406, body: { error: 'unsupported_subprotocol' } });
      });

      itWebSocket('tells a browser without the subprotocol with Goodbye and close 4406', async () => {
        const { url } = await boot();
        const browser = await client({ protocols: ['other'], headers: { origin: originOf(url) }, skipWelcome: true });
        expect((await browser.closed).code).toBe(4406);
        expect(browser.log).toMatchObject([{ type: 'herald.Goodbye', body: { code: 4406 } }]);
      });

      itWebSocket('refuses a browser from a foreign Origin with 4403', async () => {
        await boot();
        const evil = await client({ headers: { origin: 'https://evil.example' }, skipWelcome: true });
        expect((await evil.closed).code).toBe(4403);
      });

      itLongPoll('refuses a foreign Origin with 403 over HTTP', async () => {
        const { url } = await boot();
        expect(await refusal(url, { headers: { origin: 'https://evil.example' } })).toMatchObject({ status: 403, body: { error: 'origin_not_allowed' } });
      });

      itWebSocket('refuses a browser whose Host and Origin are both another name (DNS rebinding) with 4403', async () => {
        const { url } = await boot();
        const rebound = `rebound.example:${new URL(url).port}`;
        const connection = await rawUpgrade(url, { origin: `http://${rebound}` }, rebound);
        await connection.wait({ until: () => closeCode(framesOf(connection)) !== undefined });
        connection.close();
        expect(closeCode(framesOf(connection))).toBe(4403);
      });

      itLongPoll('refuses an open whose Host and Origin are both another name (DNS rebinding) with 403', async () => {
        const { url } = await boot();
        const rebound = `rebound.example:${new URL(url).port}`;
        const open = `POST ${new URL(url).pathname} HTTP/1.1\r\nHost: ${rebound}\r\nOrigin: http://${rebound}\r\nHerald-Protocol: herald.v1\r\nContent-Length: 0\r\n\r\n`;
        const answer = await rawAnswer(url, open);
        expect(answer?.status).toBe(403);
        expect(JSON.parse(answer?.body ?? '')).toMatchObject({ error: 'origin_not_allowed' });
      });

      it('refuses a bad bearer token with HTTP 401 and a JSON body', async () => {
        const { url } = await boot();
        expect(await refusal(url, { headers: { authorization: 'Bearer nope' } })).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
      });

      itWebSocket('tells a browser with a bad bearer token with close 4401 after the upgrade', async () => {
        const { url } = await boot();
        const browser = await client({ headers: { authorization: 'Bearer nope', origin: originOf(url) }, skipWelcome: true });
        expect((await browser.closed).code).toBe(4401);
      });
    });

    describe('authentication', () => {
      it('authenticates from the Authorization header at the upgrade', async () => {
        await boot();
        const native = await client({ headers: { authorization: 'Bearer user:ann' } });
        expect(native.welcome).toMatchObject({ authenticated: true, userId: 'ann' });
      });

      it('authenticates in session, after refusing requests and bad tokens', async () => {
        await boot();
        const tester = await client();
        expect(await tester.request('conf.Echo', { text: 'x' })).toMatchObject({ code: 401, body: { error: 'not_authenticated' } });
        expect(await tester.request('herald.Authenticate', { token: 'nope' })).toMatchObject({ code: 401, body: { error: 'invalid_token' } });
        expect(await tester.request('herald.Authenticate', { token: 'user:ann' })).toMatchObject({ code: 200, body: { userId: 'ann' } });
        expect(await tester.request('conf.Echo', { text: 'x' })).toMatchObject({ code: 200 });
      });

      it('answers every request but herald.Authenticate with 401 before authentication, whatever its body or type', async () => {
        await boot();
        const tester = await client();
        for (const [type, body] of [
          ['herald.Subscribe', { topic: 5 }],
          ['herald.Resume', {}],
          ['herald.Nope', {}],
          ['conf.Nope', {}],
        ] as const) {
          expect(await tester.request(type, body)).toMatchObject({ code: 401, body: { error: 'not_authenticated' } });
        }
        expect(await tester.request('herald.Authenticate', { token: 'user:ann' })).toMatchObject({ code: 200 });
        expect(await tester.request('herald.Nope', {})).toMatchObject({ code: 404, body: { error: 'unknown_type' } });
      });

      it('closes an unauthenticated session after authDeadlineMs with Goodbye and 4401', async () => {
        await boot();
        // From before the connect: the deadline runs from the server's Welcome, which behind a relay
        // (@herald/gateway dials the node first) precedes the client's open by the dial.
        const connecting = Date.now();
        const tester = await client();
        expect((await tester.closed).code).toBe(4401);
        expect(Date.now() - connecting).toBeGreaterThanOrEqual(authDeadlineMs - 50);
        expect(tester.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4401 } });
      });

      it('refreshes a token in session, refuses a token of another user, and closes on expiry', async () => {
        await boot();
        const tester = await client({ token: 'user:ann:ttl=500' });
        await sleep(300);
        const refreshed = await tester.request('herald.Authenticate', { token: 'user:ann:ttl=500' });
        expect(refreshed).toMatchObject({ code: 200, body: { userId: 'ann' } });
        expect(await tester.request('herald.Authenticate', { token: 'user:bob' })).toMatchObject({ code: 403, body: { error: 'principal_changed' } });
        await sleep(300);
        expect(tester.closeInfo).toBeUndefined();
        expect(await tester.closed).toMatchObject({ code: 4401, reason: 'token expired' });
      });
    });

    describe('requests', () => {
      it('answers a request with 200 and the body', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        const answer = await tester.request('conf.Echo', { text: 'hello' }, { id: 'e1' });
        expect(answer).toEqual({ kind: 'resp', reqId: 'e1', type: 'conf.Echo', code: 200, body: { text: 'hello' } });
      });

      it('answers 400 validation_failed with issues, 404 unknown_type, and keeps the session', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        const invalid = await tester.request('conf.Echo', { text: 5 });
        expect(invalid).toMatchObject({ code: 400, body: { error: 'validation_failed', issues: [{ path: ['body', 'text'] }] } });
        expect(await tester.request('conf.Nope', {})).toMatchObject({ code: 404, body: { error: 'unknown_type' } });
        tester.send('{oops');
        expect(await tester.waitFor(withType('herald.Error'))).toMatchObject({ body: { code: 400, error: 'invalid_json' } });
        expect((await tester.request('conf.Echo', { text: 'still here' })).code).toBe(200);
      });

      it('answers a req with an invalid resp with 400 invalid_envelope, echoing its valid type (§2)', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        for (const [i, resp] of [-1, '3', 1.5].entries()) {
          tester.send({ kind: 'req', id: `bad-resp-${i}`, type: 'conf.Echo', body: { text: 'x' }, resp });
          expect(await tester.waitFor(withProperty('reqId', `bad-resp-${i}`))).toMatchObject({ type: 'conf.Echo', code: 400, body: { error: 'invalid_envelope' } });
        }
      });

      it('answers two envelopes in one frame with 400 invalid_json (§2: one envelope per frame)', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        tester.send('{"kind":"ping"}{"kind":"ping"}');
        expect(await tester.waitFor(withType('herald.Error'))).toMatchObject({ body: { code: 400, error: 'invalid_json' } });
        expect((await tester.request('conf.Echo', { text: 'still here' })).code).toBe(200);
      });

      it('answers a frame up to twice maxMessageBytes with 413 too_large and keeps the session (§2)', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        tester.send({ kind: 'req', id: 'big', type: 'conf.Echo', body: { text: 'x'.repeat(maxMessageBytes) } });
        expect(await tester.waitFor(withProperty('reqId', 'big'))).toMatchObject({ code: 413, body: { error: 'too_large' } });
        expect((await tester.request('conf.Echo', { text: 'still here' })).code).toBe(200);
      });

      it('answers a retried id from its cache without running the handler twice', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        tester.send({ kind: 'req', id: 'r1', type: 'conf.Count', body: { key: 'k' } });
        tester.send({ kind: 'req', id: 'r1', type: 'conf.Count', body: { key: 'k' } });
        await tester.waitFor(withProperty('reqId', 'r1'));
        tester.send({ kind: 'req', id: 'r1', type: 'conf.Count', body: { key: 'k' } });
        await sleep(100);
        const answers = tester.log.filter(withProperty('reqId', 'r1')) as ResponseMessage[];
        expect(answers.length).toBeGreaterThanOrEqual(2);
        for (const answer of answers) expect(answer.body).toEqual({ key: 'k', runs: 1 });
        expect((await tester.request('conf.Count', { key: 'k' })).body).toEqual({ key: 'k', runs: 2 });
      });

      it('keeps an answer the client has not confirmed (resp) across a drop: the retry after resume is answered, not run', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        ann.send({ kind: 'req', id: 'c1', type: 'conf.Count', body: { key: 'a' }, resp: 0 });
        await ann.waitFor(withProperty('reqId', 'c1'));
        // Confirms c1's answer; c2's stays unconfirmed.
        ann.send({ kind: 'req', id: 'c2', type: 'conf.Count', body: { key: 'b' }, resp: 1 });
        await ann.waitFor(withProperty('reqId', 'c2'));
        await ann.drop();
        const again = await client({ token: 'user:ann' });
        expect(await again.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 0 })).toMatchObject({ code: 200, body: { recovered: true } });
        again.send({ kind: 'req', id: 'c2', type: 'conf.Count', body: { key: 'b' }, resp: 1 });
        expect(await again.waitFor(withProperty('reqId', 'c2'))).toMatchObject({ code: 200, body: { key: 'b', runs: 1 } });
      });

      it('answers a flood with 429 rate_limited, then closes with 4429', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        // A sustained flood, however the transport batches it and however slow the machine is.
        let sent = 0;
        const flooding = (async () => {
          while (tester.closeInfo === undefined && sent < 100_000) {
            for (let i = 0; i < 20; i++) tester.send({ kind: 'req', id: `f${sent++}`, type: 'conf.Echo', body: { text: '' } });
            await sleep(5);
          }
        })();
        expect(await tester.waitFor(withProperty('code', 429))).toMatchObject({ body: { error: 'rate_limited' } });
        expect((await tester.effectiveClose()).code).toBe(4429);
        await flooding;
      });

      it('closes a paced flood with 4429: frames spread out at a few times the rate, never a burst', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        const { messagesPerSecond, burst } = conformanceLimits.rateLimit;
        // Frames at 4× the rate, paced by the clock rather than by counting sleeps: a busy machine's
        // late timers send the frames that are due (a handful, far below the burst), so the pace and
        // the time it takes hold however slow the timers are. Each refilled token lets one frame
        // through between a few refusals, and the flood never pauses.
        const perSecond = 4 * messagesPerSecond;
        const cap = 15 * (burst + messagesPerSecond);
        const started = Date.now();
        let sent = 0;
        while (tester.closeInfo === undefined && sent < cap) {
          const due = Math.min(cap, Math.floor(((Date.now() - started) * perSecond) / 1000) + 1);
          while (sent < due) tester.send({ kind: 'req', id: `p${sent++}`, type: 'conf.Echo', body: { text: '' } });
          await sleep(4);
        }
        expect(tester.log.find(withProperty('code', 429))).toMatchObject({ body: { error: 'rate_limited' } });
        expect(tester.closeInfo, `still open after ${sent} paced frames`).toBeDefined();
        expect((await tester.effectiveClose()).code).toBe(4429);
      }, 60_000);
    });

    describe('hostile sessions', () => {
      it('closes a session that keeps taking too much processing time with 4429, and answers another session throughout', async () => {
        await boot();
        const attacker = await client({ token: 'user:mallory' });
        const honest = await client({ token: 'user:ann' });
        // 60 ms of blocked event loop every 50 ms, far above the default budget of 100 ms/s.
        const attacking = (async () => {
          for (let i = 0; attacker.closeInfo === undefined && i < 100; i++) {
            attacker.send({ kind: 'req', id: `s${i}`, type: 'conf.Spin', body: { ms: 60 } });
            await sleep(50);
          }
        })();
        const codes: number[] = [];
        while (attacker.closeInfo === undefined && codes.length < 100) {
          codes.push((await honest.request('conf.Echo', { text: 'still here' }, { timeoutMs: 10_000 })).code);
          await sleep(50);
        }
        await attacking;
        expect(await attacker.effectiveClose()).toMatchObject({ code: 4429, reason: 'too much processing time' });
        codes.push((await honest.request('conf.Echo', { text: 'after' })).code);
        expect(codes.filter((code) => code !== 200)).toEqual([]);
      });
    });

    describe('subscribe and notify', () => {
      it('subscribes, delivers every offset in order, and stops after unsubscribe', async () => {
        await boot();
        const reader = await client({ token: 'user:ann' });
        const writer = await client({ token: 'user:bob' });
        expect(await reader.request('herald.Subscribe', { topic: 'conf/room' })).toMatchObject({ code: 200, body: { topic: 'conf/room', offset: 0 } });
        await writer.request('conf.Publish', { topic: 'conf/room', count: 50 });
        await reader.waitFor(withProperty('offset', 50));
        const offsets = reader.log.filter(withType('conf.Published')).map((m) => (m as NotificationMessage).offset);
        expect(offsets).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(await reader.request('herald.Unsubscribe', { topic: 'conf/room' })).toMatchObject({ code: 200 });
        await writer.request('conf.Publish', { topic: 'conf/room', count: 1 });
        await reader.expectNothing(100, withType('conf.Published'));
      });

      it('recovers a conflated topic from its newest message, marked conflated, and delivers it live unmarked (§6 Conflated topics)', async () => {
        await boot();
        const live = await client({ token: 'user:ann' });
        const writer = await client({ token: 'user:bob' });
        const topic = 'conf/latest/quote';
        const { epoch } = (await live.request('herald.Subscribe', { topic })).body as { epoch: string };
        await writer.request('conf.Publish', { topic, count: 30 });
        await live.waitFor(withProperty('offset', 30));
        const liveFrames = live.log.filter(withType('conf.Published')) as NotificationMessage[];
        expect(liveFrames.map((m) => [m.offset, m.conflated])).toEqual(Array.from({ length: 30 }, (_, i) => [i + 1, undefined]));
        const late = await client({ token: 'user:cid' });
        const answer = await late.request('herald.Subscribe', { topic, since: { epoch, offset: 2 } });
        expect(answer).toMatchObject({ code: 200, body: { topic, epoch, offset: 30, recovered: true } });
        const caughtUp = late.log.filter(withType('conf.Published')) as NotificationMessage[];
        expect(caughtUp).toEqual([{ kind: 'notification', type: 'conf.Published', topic, offset: 30, conflated: true, body: { n: 30 } }]);
      });

      it('sends a delta subscriber the first publication in full, then deltas that rebuild each body; others get full ones (§6 Delta topics)', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const bob = await client({ token: 'user:bob' });
        const topic = 'conf/doc/spec';
        expect(await ann.request('herald.Subscribe', { topic, delta: 'fossil' })).toMatchObject({ code: 200, body: { topic, offset: 0, delta: 'fossil' } });
        const plain = await bob.request('herald.Subscribe', { topic });
        expect(plain.code).toBe(200);
        expect(plain.body).not.toHaveProperty('delta');
        await bob.request('conf.PublishDocument', { topic, from: 1, count: 8 });
        for (const reader of [ann, bob]) await reader.waitFor(withProperty('offset', 8));
        const rebuilt = deltaBodies(ann.log, topic);
        expect(rebuilt.map((r) => [r.offset, r.delta])).toEqual(Array.from({ length: 8 }, (_, i) => [i + 1, i > 0]));
        expect(rebuilt.map((r) => r.body)).toEqual(Array.from({ length: 8 }, (_, i) => conformanceDocument(i + 1)));
        expect(deltaBodies(bob.log, topic).map((r) => r.delta)).toEqual(Array(8).fill(false));
        // A delta frame is a fraction of the full one.
        const [full, delta] = ann.log.filter(withType('conf.Document'));
        expect(JSON.stringify(delta).length * 5).toBeLessThan(JSON.stringify(full).length);
      });

      it('grants no deltas on a topic without them, nor in an unknown format, and refuses a malformed delta with 400 (§4.9)', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        for (const body of [{ topic: 'conf/room', delta: 'fossil' }, { topic: 'conf/doc/x', delta: 'vcdiff' }]) {
          const answer = await ann.request('herald.Subscribe', body);
          expect(answer.code).toBe(200);
          expect(answer.body).not.toHaveProperty('delta');
        }
        expect(await ann.request('herald.Subscribe', { topic: 'conf/doc/x', delta: 7 })).toMatchObject({ code: 400, body: { error: 'validation_failed' } });
        await ann.request('conf.PublishDocument', { topic: 'conf/doc/x', from: 1, count: 3 });
        await ann.waitFor(withProperty('offset', 3));
        expect(deltaBodies(ann.log, 'conf/doc/x').map((r) => r.delta)).toEqual([false, false, false]);
      });

      it('replays a delta topic in full after since, and sends deltas again once live (§6 Delta topics)', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const topic = 'conf/doc/replay';
        const { epoch } = (await ann.request('conf.PublishDocument', { topic, from: 1, count: 4 }), (await ann.request('herald.Subscribe', { topic, delta: 'fossil' })).body) as { epoch: string };
        const late = await client({ token: 'user:bob' });
        expect(await late.request('herald.Subscribe', { topic, since: { epoch, offset: 1 }, delta: 'fossil' })).toMatchObject({
          code: 200,
          body: { topic, epoch, offset: 4, recovered: true, delta: 'fossil' },
        });
        await ann.request('conf.PublishDocument', { topic, from: 5, count: 3 });
        await late.waitFor(withProperty('offset', 7));
        const rebuilt = deltaBodies(late.log, topic);
        expect(rebuilt.map((r) => [r.offset, r.delta])).toEqual([[2, false], [3, false], [4, false], [5, false], [6, true], [7, true]]);
        expect(rebuilt.map((r) => r.body)).toEqual([2, 3, 4, 5, 6, 7].map(conformanceDocument));
      });

      it('counts $all toward maxSubscriptions (§4.9)', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        // The server subscribed the session to $all: 9 more topics reach the limit of 10.
        for (let i = 0; i < maxSubscriptions - 1; i++) expect((await tester.request('herald.Subscribe', { topic: `conf/limit/${i}` })).code).toBe(200);
        expect(await tester.request('herald.Subscribe', { topic: 'conf/limit/last' })).toMatchObject({ code: 429, body: { error: 'subscription_limit' } });
      });

      it('tracks presence: one member per user, joins and leaves in the stream, who is here, states checked, counts pushed (§6 Presence)', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const annAgain = await client({ token: 'user:ann' });
        const bob = await client({ token: 'user:bob' });
        const topic = 'conf/presence/p';
        const diffs = (tester: Tester) => tester.log.filter(withType('herald.PresenceDiff')).map((m) => (m as NotificationMessage).body);
        expect((await ann.request('herald.Subscribe', { topic })).code).toBe(200);
        expect((await annAgain.request('herald.Subscribe', { topic })).code).toBe(200);
        expect((await bob.request('herald.Subscribe', { topic })).code).toBe(200);
        await ann.waitFor(presenceJoin('bob', topic));
        // ann's second session made no diff: ann joined once.
        expect(diffs(ann)).toEqual([
          { joins: [{ userId: 'ann', connections: 1 }], leaves: [] },
          { joins: [{ userId: 'bob', connections: 1 }], leaves: [] },
        ]);
        expect(await bob.request('herald.Presence', { topic })).toMatchObject({
          code: 200,
          body: { topic, count: 2, members: [{ userId: 'ann', connections: 2 }, { userId: 'bob', connections: 1 }] },
        });
        expect(await bob.request('herald.SetPresence', { topic, state: { status: 42 } })).toMatchObject({ code: 400, body: { error: 'validation_failed' } });
        expect(await bob.request('herald.SetPresence', { topic, state: { status: 'away' } })).toMatchObject({ code: 200 });
        await ann.waitFor(presenceJoin('bob', topic, { status: 'away' }));
        expect(await bob.request('herald.Presence', { topic: 'conf/room' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });
        expect((await bob.request('herald.Unsubscribe', { topic })).code).toBe(200);
        await ann.waitFor(presenceLeave('bob', topic));
        expect((await bob.request('herald.Subscribe', { topic: 'conf/count/c' })).code).toBe(200);
        await bob.waitFor(presenceCount('conf/count/c', 1));
      });

      it('refuses topics the server does not allow with 403', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        expect(await tester.request('herald.Subscribe', { topic: 'secret' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });
      });

      it('replays from since before the response, with recovered: true', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        const first = await tester.request('herald.Subscribe', { topic: 'conf/h' });
        const { epoch } = first.body as { epoch: string };
        await tester.request('conf.Publish', { topic: 'conf/h', count: 5 });
        await tester.waitFor(withProperty('offset', 5));
        await tester.request('herald.Unsubscribe', { topic: 'conf/h' });
        const before = tester.log.length;
        const again = await tester.request('herald.Subscribe', { topic: 'conf/h', since: { epoch, offset: 2 } });
        expect(again.body).toMatchObject({ offset: 5, recovered: true });
        const replayed = tester.log.slice(before).filter(withType('conf.Published')).map((m) => (m as NotificationMessage).offset);
        expect(replayed).toEqual([3, 4, 5]);
      });

      it('answers a since of another epoch with recovered: false and reason epoch_changed, and no replay', async () => {
        await boot();
        const tester = await client({ token: 'user:ann' });
        await tester.request('herald.Subscribe', { topic: 'conf/e' });
        await tester.request('conf.Publish', { topic: 'conf/e', count: 2 });
        await tester.waitFor(withProperty('offset', 2));
        await tester.request('herald.Unsubscribe', { topic: 'conf/e' });
        const before = tester.log.length;
        const again = await tester.request('herald.Subscribe', { topic: 'conf/e', since: { epoch: 'gone', offset: 1 } });
        expect(again.body).toMatchObject({ topic: 'conf/e', offset: 2, recovered: false, reason: 'epoch_changed' });
        expect(tester.log.slice(before).filter(withType('conf.Published'))).toEqual([]);
      });
    });

    describe('delivery confirmation and resume', () => {
      it('resumes after a drop with recovered: true: missed private and topic messages, once, in order', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const bob = await client({ token: 'user:bob' });
        const { epoch } = (await ann.request('herald.Subscribe', { topic: 'conf/r' })).body as { epoch: string };
        await bob.request('conf.Notify', { to: 'ann', count: 3 });
        await ann.waitFor(withProperty('seq', 3));
        ann.ack(2);
        await bob.request('conf.Publish', { topic: 'conf/r', count: 2 });
        await ann.waitFor(withProperty('offset', 2));
        await ann.drop();
        await bob.request('conf.Notify', { to: 'ann', count: 2 });
        await bob.request('conf.Publish', { topic: 'conf/r', count: 2 });

        const again = await client({ token: 'user:ann' });
        const resumed = await again.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 3, topics: { 'conf/r': { epoch, offset: 2 } } });
        expect(resumed).toMatchObject({ code: 200, body: { sessionId: ann.welcome.sessionId, recovered: true } });
        const seqs = again.log.filter(withType('conf.Private')).map((m) => (m as NotificationMessage).seq);
        const offsets = again.log.filter(withType('conf.Published')).map((m) => (m as NotificationMessage).offset);
        expect(seqs).toEqual([4, 5]);
        expect(offsets).toEqual([3, 4]);
      });

      it('resumes past the resume window with recovered: false and a new session id', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        await ann.drop();
        // A dropped peer is noticed at once over WebSocket, and by keep-alive over long-poll.
        await sleep(resumeWindowMs + pingIntervalMs + pingTimeoutMs + SLACK_MS);
        const again = await client({ token: 'user:ann' });
        const resumed = await again.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 0 });
        expect(resumed).toMatchObject({ code: 200, body: { sessionId: again.welcome.sessionId, recovered: false, reason: 'unknown_session' } });
      });

      it('answers a resume with positions its topic streams agree with: nothing before the answer above it, nothing after at or below it', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const bob = await client({ token: 'user:bob' });
        const topics = ['conf/ra', 'conf/rb'];
        const epochs: Record<string, string> = {};
        for (const topic of topics) epochs[topic] = ((await ann.request('herald.Subscribe', { topic })).body as { epoch: string }).epoch;
        for (const topic of topics) await bob.request('conf.Publish', { topic, count: 2 });
        await ann.drop();
        for (const topic of topics) await bob.request('conf.Publish', { topic, count: 3 });

        const again = await client({ token: 'user:ann' });
        // Publishing goes on while the resume replays.
        const live = bob.request('conf.Publish', { topic: 'conf/ra', count: 20 });
        const since = Object.fromEntries(topics.map((topic) => [topic, { epoch: epochs[topic], offset: 0 }]));
        const resumed = await again.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 0, topics: since });
        await live;
        await again.waitFor(withProperty('offset', 25));
        const answerAt = again.log.indexOf(resumed);
        const positions = (resumed.body as { topics: Record<string, { offset: number; recovered: boolean }> }).topics;
        for (const topic of topics) {
          const offsets = (from: number, to?: number) =>
            again.log.slice(from, to).filter((m): m is NotificationMessage => m.kind === 'notification' && m.topic === topic).map((m) => m.offset as number);
          const answered = positions[topic]?.offset as number;
          expect(positions[topic]?.recovered).toBe(true);
          // Before the answer a transport's native fan-out may repeat a frame (a duplicate, which
          // clients drop by its offset); nothing may be missing, and nothing may be above the answer.
          const before = offsets(0, answerAt);
          expect([...new Set(before)]).toEqual(Array.from({ length: answered }, (_, i) => i + 1));
          expect(offsets(answerAt + 1)).toEqual(Array.from({ length: (topic === 'conf/ra' ? 25 : 5) - answered }, (_, i) => answered + i + 1));
        }
      });

      it('closes the half-open connection of a resumed session with 4409', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const again = await client({ token: 'user:ann' });
        expect((await again.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 0 })).body).toMatchObject({ recovered: true });
        expect((await ann.closed).code).toBe(4409);
      });

      it('ends a session an operator disconnects with Goodbye and 4410, and a resume of it finds nothing', async () => {
        await boot();
        const ann = await client({ token: 'user:ann' });
        const operator = await client({ token: 'user:op' });
        expect((await operator.request('conf.Disconnect', { sessionId: ann.welcome.sessionId })).body).toEqual({ disconnected: true });
        expect((await ann.closed).code).toBe(4410);
        expect(ann.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4410, reason: 'disconnected by an operator' } });
        const again = await client({ token: 'user:ann' });
        const resumed = await again.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 0 });
        expect(resumed).toMatchObject({ code: 200, body: { recovered: false, reason: 'unknown_session' } });
      });
    });

    describe('keep-alive', () => {
      // Over long-poll every poll is proof of life, so a client that polls but ignores pings is alive.
      itWebSocket('pings browsers at the application level and closes a silent one with 4408', async () => {
        const { url } = await boot();
        const browser = await client({ token: 'user:ann', headers: { origin: originOf(url) }, autoPong: false });
        await browser.waitFor(withKind('ping'), { timeoutMs: pingIntervalMs + SLACK_MS });
        expect(await browser.closed).toMatchObject({ code: 4408 });
      });

      it('keeps a client that answers pings', async () => {
        const { url } = await boot();
        const browser = await client({ token: 'user:ann', headers: { origin: originOf(url) } });
        await browser.expectNothing(3 * (pingIntervalMs + pingTimeoutMs), withType('herald.Goodbye'));
        expect(browser.closeInfo).toBeUndefined();
      });

      itWebSocket('closes a peer that stops reading (half-open) with 4408', async () => {
        await boot();
        const native = await client({ token: 'user:ann' });
        const tcp = (native.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
        tcp.pause();
        await sleep(pingIntervalMs + pingTimeoutMs + SLACK_MS);
        tcp.resume();
        expect((await native.closed).code).toBe(4408);
      });
    });

    describe('malformed HTTP', () => {
      itWebSocket('refuses a handshake of another Sec-WebSocket-Version with 426, naming version 13', async () => {
        const { url } = await boot();
        const { host, pathname } = new URL(url);
        for (const version of ['8', '14']) {
          const answer = await rawAnswer(url, upgradeRequest(pathname, host, { 'sec-websocket-version': version }));
          expect(answer).toMatchObject({ status: 426, headers: { 'sec-websocket-version': '13' } });
          expect(JSON.parse(answer?.body ?? '')).toMatchObject({ error: 'validation_failed' });
        }
      });

      itWebSocket('refuses a handshake without Sec-WebSocket-Version or Sec-WebSocket-Key with 400', async () => {
        const { url } = await boot();
        const { host, pathname } = new URL(url);
        for (const missing of ['sec-websocket-version', 'sec-websocket-key']) {
          const answer = await rawAnswer(url, upgradeRequest(pathname, host, { [missing]: null }));
          expect(answer?.status).toBe(400);
          expect(JSON.parse(answer?.body ?? '')).toMatchObject({ error: 'validation_failed' });
        }
      });

      /** Opens a raw WebSocket, writes `frame` after the 101, and returns what the server sent until `until` held or it closed. */
      async function afterFrame(url: string, frame: Buffer, until: (frames: RawFrame[]) => boolean): Promise<{ frames: RawFrame[]; closed: boolean }> {
        const connection = await rawUpgrade(url);
        expect(connection.text).toMatch(/^HTTP\/1\.1 101 /);
        connection.write(frame);
        await connection.wait({ until: () => until(framesOf(connection)) });
        connection.close();
        return { frames: framesOf(connection), closed: connection.closed };
      }

      /** The text of every text frame after the Welcome, but the server's own pings. */
      const texts = (frames: readonly RawFrame[]) =>
        frames
          .filter((frame) => frame.opcode === 0x1)
          .slice(1)
          .map((frame) => frame.payload.toString())
          .filter((text) => text !== '{"kind":"ping"}');
      const closes = (frames: RawFrame[]) => closeCode(frames) !== undefined;
      const { unmasked = 'close-1002', invalidUtf8 = 'close-1007' } = target.forbiddenFrames ?? {};

      itWebSocket(`ends the connection on a text frame that is not UTF-8 (${invalidUtf8})`, async () => {
        const { url } = await boot();
        const { frames, closed } = await afterFrame(url, clientFrame(0x1, Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d)), closes);
        if (invalidUtf8 === 'close-1007') expect(closeCode(frames)).toBe(1007);
        else expect({ closed, code: closeCode(frames) }).toEqual({ closed: true, code: undefined });
        expect(texts(frames)).toEqual([]);
      });

      itWebSocket(`treats an unmasked client frame as RFC 6455 forbids, or as documented (${unmasked})`, async () => {
        const { url } = await boot();
        const ping = clientFrame(0x1, new TextEncoder().encode('{"kind":"ping"}'), false);
        const answered = (frames: RawFrame[]) => closes(frames) || texts(frames).includes('{"kind":"pong"}');
        const { frames } = await afterFrame(url, ping, answered);
        if (unmasked === 'close-1002') {
          expect(closeCode(frames)).toBe(1002);
          expect(texts(frames)).toEqual([]);
        } else if (unmasked === 'read-as-masked') {
          expect(texts(frames)).toEqual(['{"kind":"pong"}']);
        } else {
          // Never read: nothing answers it, not even a ping, and the session's own deadlines end the
          // connection: keep-alive (4408) or authentication (4401), whichever comes first.
          expect([4401, 4408]).toContain(closeCode(frames));
          expect(texts(frames)).toMatchObject([expect.stringContaining('"herald.Goodbye"')]);
        }
      });

      const http10 = target.http10 ?? 'answered';

      itLongPoll(`HTTP/1.0 without Host, as haproxy's default health check sends it: ${http10}`, async () => {
        const { url } = await boot();
        const request = `GET ${new URL(url).pathname}/poll HTTP/1.0\r\n\r\n`;
        const until = (data: Buffer) => parseAnswers(data.toString('latin1')).answers.length > 0;
        // Unanswered, the connection ends at the server's HTTP idle timeout (uWS: 10 s).
        const { text, closed } = await rawExchange(Number(new URL(url).port), request, http10 === 'answered' ? { until } : { timeoutMs: 30_000 });
        if (http10 === 'unanswered') return expect({ text, closed }).toEqual({ text: '', closed: true });
        // 404 either way: no session, or (Bun, which routes by Host) no route.
        expect(parseAnswers(text).answers[0]?.status).toBe(404);
      }, 40_000);

      itLongPoll('answers HEAD without a body, so the next answer on a keep-alive connection is read as sent', async () => {
        const { url } = await boot();
        const { host, pathname } = new URL(url);
        const head = `HEAD ${pathname}/poll HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
        const get = `GET ${pathname}/poll HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
        const afterHead = new Set([0]);
        // The GET follows once the HEAD's answer has begun, as a keep-alive client sends it.
        const connection = new RawConnection(Number(new URL(url).port)).write(head);
        await connection.wait({ until: (data) => data.includes('\r\n\r\n') });
        connection.write(get);
        const { received } = await connection.wait({ until: (data) => parseAnswers(data.toString('latin1'), afterHead).answers.length === 2 });
        connection.close();
        const { answers, stray } = parseAnswers(received.toString('latin1'), afterHead);
        expect(stray).toBe('');
        expect(answers.map((answer) => answer.status)).toEqual([404, 404]);
        expect(JSON.parse(answers[1]?.body ?? '')).toMatchObject({ error: 'unknown_session' });
      });
    });

    describe('shutdown', () => {
      it('tells every client to reconnect elsewhere with Goodbye and 4503', async () => {
        const started = await boot();
        const ann = await client({ token: 'user:ann' });
        const bob = await client({ token: 'user:bob' });
        server = undefined;
        await started.stop();
        expect(await ann.closed).toMatchObject({ code: 4503 });
        expect((await bob.closed).code).toBe(4503);
        expect(ann.log.at(-1)).toMatchObject({ type: 'herald.Goodbye', body: { code: 4503 } });
      });
    });
  });
}
