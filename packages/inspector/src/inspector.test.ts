import { createHerald, defineContract, type Herald, type InspectionRelay } from '@herald/core';
import { connectMemory, type MemorySocket } from '@herald/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createInspector, type InspectorHandler, type InspectorOptions, type InspectorSnapshot, type TailPage } from './index.ts';

const contract = defineContract({
  requests: { 'chat.Send': { request: z.object({ text: z.string() }), response: z.object({ id: z.string() }) } },
  notifications: {},
});
const TOKEN = 'inspector-token-for-tests';
const BASE = 'http://localhost/inspector';

let herald: Herald<typeof contract>;
let inspector: InspectorHandler;

function start(options: Partial<InspectorOptions> = {}): void {
  herald = createHerald({
    contract,
    authenticate: (token) => ({ userId: token }),
    handlers: { 'chat.Send': () => ({ id: '1' }) },
  });
  inspector = createInspector(herald, { token: TOKEN, ...options });
}

afterEach(async () => {
  await inspector?.close();
  await herald?.close();
});

const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

function call(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token = TOKEN, ...rest } = init;
  const headers = new Headers(rest.headers);
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  return inspector.fetch(new Request(`${BASE}${path}`, { ...rest, headers }));
}

async function snapshot(): Promise<InspectorSnapshot> {
  const response = await call('/api/snapshot');
  expect(response.status).toBe(200);
  return (await response.json()) as InspectorSnapshot;
}

async function sessionOf(user: string): Promise<string> {
  const sessions = (await snapshot()).nodes[0]?.snapshot.sessions ?? [];
  const found = sessions.find((session) => session.userId === user);
  if (found === undefined) throw new Error(`no session of ${user}`);
  return found.id;
}

function post(path: string, body: unknown, token?: string | null): Promise<Response> {
  return call(path, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, ...(token === undefined ? {} : { token }) });
}

describe('createInspector', () => {
  it('is off unless given a token of at least 16 characters', () => {
    const herald = createHerald({ contract, handlers: { 'chat.Send': () => ({ id: '1' }) } });
    expect(() => createInspector(herald, {} as InspectorOptions)).toThrow(TypeError);
    expect(() => createInspector(herald, { token: 'short' })).toThrow(/at least 16/);
  });

  it('serves the page shell without the token, and no data in it', async () => {
    start();
    const page = await call('', { token: null });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<herald-inspector data-api="/inspector/api">');
    expect((await call('/inspector.js', { token: null })).headers.get('content-type')).toContain('javascript');
    expect((await call('/inspector.css', { token: null })).status).toBe(200);
    expect((await call('/nothing', { token: null })).status).toBe(404);
  });

  it('answers 401 on the API without the token, with a wrong one, or with the token in the URL', async () => {
    start();
    for (const token of [null, 'inspector-token-for-testz', 'inspector-token-for-tests-and-more', '']) {
      const response = await call('/api/snapshot', { token });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer realm="herald-inspector"');
    }
    expect((await call(`/api/snapshot?token=${TOKEN}`, { token: null })).status).toBe(401);
    expect((await inspector.fetch(new Request(`${BASE}/api/snapshot`, { headers: { authorization: `Basic ${btoa(`x:${TOKEN}`)}` } }))).status).toBe(401);
    expect((await post('/api/disconnect', { node: 'local', session: 'x' }, null)).status).toBe(401);
  });

  it('lists sessions with their user, and no token', async () => {
    start();
    await connectMemory(herald, { authorization: 'Bearer secret-user-token' });
    await flush();
    const body = await snapshot();
    expect(body).toMatchObject({ node: 'local', actions: false, showBodies: false });
    expect(body.nodes[0]?.snapshot.sessions).toMatchObject([{ userId: 'secret-user-token', state: 'open', transport: 'websocket' }]);
    expect(JSON.stringify(body).match(/secret-user-token/g)).toHaveLength(1);
  });

  it('is read-only unless actions are enabled: 403, and the session stays', async () => {
    start();
    const socket = await connectMemory(herald, { authorization: 'Bearer alice' });
    await flush();
    const session = await sessionOf('alice');
    const refused = await post('/api/disconnect', { node: 'local', session });
    expect(refused.status).toBe(403);
    expect((await post('/api/unsubscribe', { node: 'local', session, topic: '$all' })).status).toBe(403);
    expect(socket.closedWith).toBeUndefined();
  });

  it('with actions, disconnects a session (4410) and unsubscribes one from a topic', async () => {
    start({ actions: true });
    const alice = await connectMemory(herald, { authorization: 'Bearer alice' });
    const bob = await connectMemory(herald, { authorization: 'Bearer bob' });
    await flush();
    const aliceSession = await sessionOf('alice');
    const bobSession = await sessionOf('bob');

    expect((await post('/api/unsubscribe', { node: 'local', session: bobSession, topic: '$all' })).status).toBe(200);
    expect(bob.received.at(-1)).toMatchObject({ type: 'herald.Unsubscribed', body: { topic: '$all' } });

    const done = await post('/api/disconnect', { node: 'local', session: aliceSession });
    expect(done.status).toBe(200);
    expect(alice.closedWith?.code).toBe(4410);
    await flush();
    expect((await snapshot()).nodes[0]?.snapshot.sessions.map((s) => s.userId)).toEqual(['bob']);
    expect((await post('/api/disconnect', { node: 'local', session: aliceSession })).status).toBe(404);
    expect((await post('/api/disconnect', { node: 'elsewhere', session: bobSession })).status).toBe(404);
    expect((await post('/api/disconnect', { session: bobSession })).status).toBe(400);
    expect((await call('/api/disconnect', { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await call('/api/disconnect', { method: 'POST', body: JSON.stringify({ node: 'local', session: bobSession, pad: 'x'.repeat(5000) }) })).status).toBe(400);
    expect(bob.closedWith).toBeUndefined();
  });

  async function tail(socket: MemorySocket, showBodies: boolean): Promise<TailPage> {
    const session = await sessionOf('carol');
    const first = (await (await call(`/api/frames?session=${session}&after=0`)).json()) as TailPage;
    expect(first.frames).toEqual([]);
    socket.deliver({ kind: 'req', id: '1', type: 'chat.Send', body: { text: 'a private message' } });
    socket.deliver({ kind: 'req', id: '2', type: 'herald.Authenticate', body: { token: 'carol' } });
    await flush();
    const page = (await (await call(`/api/frames?session=${session}&after=${first.next}`)).json()) as TailPage;
    expect(page.frames.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(page)).not.toContain('"token":"carol"');
    expect(showBodies).toBe(JSON.stringify(page).includes('a private message'));
    return page;
  }

  it('tails a session\'s frames with bodies replaced by their size, and never a token', async () => {
    start();
    const socket = await connectMemory(herald, { authorization: 'Bearer carol' });
    await flush();
    const page = await tail(socket, false);
    expect(page.frames[0]).toMatchObject({ n: 1, direction: 'in', frame: { kind: 'req', type: 'chat.Send', body: { redacted: true, bytes: 28 } } });
    expect(page.frames.find((f) => f.frame['type'] === 'herald.Authenticate' && f.direction === 'in')?.frame['body']).toEqual({ token: '•••' });
  });

  it('shows bodies when showBodies is set, still without the token', async () => {
    start({ showBodies: true });
    const socket = await connectMemory(herald, { authorization: 'Bearer carol' });
    await flush();
    const page = await tail(socket, true);
    expect(page.frames[0]?.frame['body']).toEqual({ text: 'a private message' });
  });

  it('answers 404 for the frames of a session it does not hold', async () => {
    start();
    expect((await call('/api/frames?session=nobody&after=0')).status).toBe(404);
    expect((await call('/api/frames?after=0')).status).toBe(400);
  });

  it('shows this node when the relay fails, and says why the others are missing', async () => {
    const broken: InspectionRelay = {
      nodeId: 'n1',
      start: () => {},
      reports: () => Promise.reject(new Error('redis unreachable')),
      ask: () => Promise.reject(new Error('redis unreachable')),
      close: () => Promise.resolve(),
    };
    start({ relay: broken, actions: true });
    await connectMemory(herald, { authorization: 'Bearer dana' });
    await flush();
    const body = await snapshot();
    expect(body).toMatchObject({ node: 'n1', relayError: 'redis unreachable' });
    expect(body.nodes.map((n) => n.node)).toEqual(['n1']);
    const remote = await post('/api/disconnect', { node: 'n2', session: 'elsewhere' });
    expect(remote.status).toBe(502);
    expect(await remote.json()).toMatchObject({ error: 'node_unreachable', message: 'redis unreachable' });
  });
});
