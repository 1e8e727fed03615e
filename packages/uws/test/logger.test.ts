/**
 * The server's `logger` over real sockets: a refused upgrade, failed authentications (at the
 * upgrade and in session), a 4429 rate-limit close and a 4507 slow-consumer close each leave one
 * line with their fields and the client's address, and no line holds a token.
 */
import type { LogFields, Logger } from '@herald/core';
import { connect, withProperty } from '@herald/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { start, type Running } from './server.ts';

const SECRET = 'secret-token-7f3a9c';
const READER = 'reader-token-0d5e81';
const WRONG = 'wrong-token-b41e22';
const USERS: Record<string, string> = { [SECRET]: 'ann', [READER]: 'reader' };
const authenticate = (token: string) => (USERS[token] === undefined ? null : { userId: USERS[token] });

interface Line {
  readonly level: string;
  readonly fields: LogFields;
  readonly message: string;
}

function capture(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: LogFields, message: string) => void lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

async function until<T>(find: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The HTTP status a native upgrade is answered with. */
function upgradeStatus(url: string, protocols: string[], headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, protocols, { headers });
    socket.on('open', () => {
      socket.terminate();
      resolve(101);
    });
    socket.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.on('error', (error) => reject(error));
  });
}

let running: Running | undefined;
afterEach(async () => {
  await running?.server.close();
  running = undefined;
});

describe('logger', () => {
  it('logs refused upgrades and failed authentications with the address, never the token', { timeout: 60_000 }, async () => {
    const { logger, lines } = capture();
    running = await start({ logger, authenticate });
    const url = running.url;

    expect(await upgradeStatus(url, ['graphql-ws'], { origin: running.origin })).toBe(101);
    const refused = await until(() => lines.find((l) => l.fields.event === 'upgrade_refused'), 'upgrade_refused');
    expect(refused).toMatchObject({
      level: 'info',
      fields: { event: 'upgrade_refused', status: 406, reason: 'unsupported_subprotocol', address: '127.0.0.1', origin: running.origin },
    });

    expect(await upgradeStatus(url, ['herald.v1'], { authorization: `Bearer ${WRONG}` })).toBe(401);
    const atUpgrade = await until(() => lines.find((l) => l.fields.event === 'auth_failed'), 'auth_failed at the upgrade');
    expect(atUpgrade).toMatchObject({ level: 'info', fields: { event: 'auth_failed', reason: 'token refused', address: '127.0.0.1', client: 'native' } });
    // One line per refusal: the 401 is the auth_failed line, not also an upgrade_refused one.
    expect(lines.filter((l) => l.fields.event === 'upgrade_refused')).toHaveLength(1);

    const tester = await connect(url, { timeoutMs: 10_000 });
    expect(await tester.request('herald.Authenticate', { token: WRONG })).toMatchObject({ code: 401 });
    const inSession = await until(() => lines.filter((l) => l.fields.event === 'auth_failed')[1], 'auth_failed in session');
    expect(inSession.fields).toMatchObject({ event: 'auth_failed', address: '127.0.0.1' });
    expect(inSession.fields['sessionId']).toEqual(expect.any(String));
    expect(await tester.request('herald.Authenticate', { token: SECRET })).toMatchObject({ code: 200 });
    tester.close();

    const all = JSON.stringify(lines);
    expect(all).not.toContain(WRONG);
    expect(all).not.toContain(SECRET);
  });

  it('logs a rate-limit close (4429) with the session and the address', { timeout: 60_000 }, async () => {
    const { logger, lines } = capture();
    running = await start({ logger, authenticate, limits: { rateLimit: { messagesPerSecond: 20, burst: 20 } } });
    const tester = await connect(running.url, { token: SECRET, timeoutMs: 10_000 });
    let sent = 0;
    while (tester.closeInfo === undefined && sent < 100_000) {
      for (let i = 0; i < 20; i++) tester.send({ kind: 'req', id: `f${sent++}`, type: 'chat.Count', body: {} });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await tester.effectiveClose()).code).toBe(4429);
    const closed = await until(() => lines.find((l) => l.fields.event === 'session_closed'), 'session_closed');
    expect(closed).toMatchObject({
      level: 'info',
      fields: { event: 'session_closed', code: 4429, reason: 'too many messages', userId: 'ann', address: '127.0.0.1' },
    });
    expect(closed.fields['sessionId']).toEqual(expect.any(String));
    expect(JSON.stringify(lines)).not.toContain(SECRET);
  });

  it('logs a slow-consumer close (4507) of a reader that stopped reading', { timeout: 90_000 }, async () => {
    const { logger, lines } = capture();
    running = await start({ logger, authenticate, highWaterMark: 16 * 1024, limits: { replayWindow: 50, pingIntervalMs: 120_000 } });
    const reader = await connect(running.url, { token: READER, timeoutMs: 10_000 });
    // A request settles the session (it is not resuming another): from then on its notifications are sent.
    await reader.request('chat.Count', {});
    const tcp = (reader.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    tcp.pause();
    const text = 'x'.repeat(4000);
    for (let i = 0; i < 2000 && !lines.some((l) => l.fields.event === 'session_closed'); i++) {
      await running.herald.sendToUser('reader', 'chat.Whispered', { from: 'load', text });
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const closed = await until(() => lines.find((l) => l.fields.event === 'session_closed'), 'session_closed');
    expect(closed).toMatchObject({ level: 'info', fields: { event: 'session_closed', code: 4507, userId: 'reader', address: '127.0.0.1' } });
    expect(String(closed.fields['reason'])).toMatch(/^slow consumer/);
    expect(JSON.stringify(lines)).not.toContain(text);
    expect(JSON.stringify(lines)).not.toContain(READER);
    tcp.resume();
    await reader.drop();
  });

  it('by default writes nothing for a refused upgrade, and a handler failure to console.error', { timeout: 60_000 }, async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((name) => vi.spyOn(console, name).mockImplementation(() => {}));
    try {
      // The test server silences `onError`: undo that, to see the default.
      running = await start({ authenticate, onError: undefined } as unknown as Parameters<typeof start>[0]);
      expect(await upgradeStatus(running.url, ['graphql-ws'])).toBe(406);
      expect(await upgradeStatus(running.url, ['herald.v1'], { authorization: `Bearer ${WRONG}` })).toBe(401);
      expect(spies.flatMap((spy) => spy.mock.calls)).toEqual([]);
      const tester = await connect(running.url, { token: SECRET, timeoutMs: 10_000 });
      expect(await tester.request('chat.Crash', {})).toMatchObject({ code: 500 });
      const error = spies[3]!;
      await until(() => (error.mock.calls.length > 0 ? true : undefined), 'console.error');
      expect(error.mock.calls[0]).toEqual(['herald: handler failed', expect.objectContaining({ event: 'handler_failed', type: 'chat.Crash' })]);
      expect(JSON.stringify(error.mock.calls.map((call) => call[0]))).not.toContain(SECRET);
      tester.close();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});

describe('address', () => {
  it('is what the upgrade limiter keys on: a refused client is logged with its own address', { timeout: 60_000 }, async () => {
    const { logger, lines } = capture();
    running = await start({ logger, upgradeRateLimit: { perSecond: 0.01, burst: 1 } });
    expect(await upgradeStatus(running.url, ['herald.v1'])).toBe(101);
    expect(await upgradeStatus(running.url, ['herald.v1'])).toBe(429);
    expect(await until(() => lines.find((l) => l.fields.event === 'upgrade_refused'), 'upgrade_refused')).toMatchObject({
      fields: { status: 429, reason: 'rate_limited', address: '127.0.0.1', origin: null },
    });
  });
});
