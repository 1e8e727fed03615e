/** `client.presence(topic)` against the real uWS adapter: members, states, leaves, a reconnect that does not flap, count-only topics. */
import { createHerald, defineContract, type Herald } from '@herald/core';
import { startRelay, type Relay } from '@herald/testing/node';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { createClient, type HeraldClient } from '../src/index.ts';

const contract = defineContract({
  requests: {},
  notifications: { 'chat.Message': { body: z.object({ text: z.string() }) } },
  topics: {
    'room/{roomId}': { notifications: ['chat.Message'], presence: { state: z.object({ status: z.enum(['online', 'away']) }) } },
    'lobby/{name}': { notifications: ['chat.Message'], presence: 'count' },
  },
});
type Rooms = typeof contract;

let herald: Herald<Rooms>;
let server: HeraldUwsServer;
let relay: Relay;
const clients: HeraldClient<Rooms>[] = [];
const leaves: string[] = [];

beforeAll(async () => {
  herald = createHerald({
    contract,
    handlers: {},
    authenticate: (token) => ({ userId: token }),
    upgradeRateLimit: false,
    canSubscribe: () => true,
    // Generous: a loaded machine may take a while to reconnect, and the session must outlive it.
    limits: { resumeWindowMs: 120_000 },
    onVacated: (topic) => leaves.push(topic),
  });
  server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  relay = await startRelay({ backend: () => server.port });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
  await relay.close();
});

function client(user: string): HeraldClient<Rooms> {
  const created = createClient<Rooms>({ url: `ws://127.0.0.1:${relay.port}/ws`, WebSocket, token: user, reconnectDelayMs: 20 });
  clients.push(created);
  return created;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('client.presence', () => {
  it('keeps the member map current through joins, state changes, a reconnect and leaves', async () => {
    const ann = client('ann');
    const room = ann.presence('room/a');
    const events: string[] = [];
    room.on('join', (member) => events.push(`join ${member?.userId}`));
    room.on('update', (member) => events.push(`update ${member?.userId} ${JSON.stringify(member?.state)}`));
    room.on('leave', (member) => events.push(`leave ${member?.userId}`));
    await room.ready;
    await until(() => room.members.has('ann'), 'ann to see herself');

    const bob = client('bob');
    const bobs = bob.presence('room/a');
    await bobs.ready;
    expectTypeOf(bobs.set).parameter(0).toEqualTypeOf<{ status: 'online' | 'away' }>();
    await bobs.set({ status: 'away' });
    await until(() => (room.members.get('bob')?.state as { status?: string } | undefined)?.status === 'away', 'bob away');
    expect(bobs.members.get('ann')).toMatchObject({ userId: 'ann', connections: 1 });

    // Every connection drops (a node restart behind the balancer): the sessions resume, nobody flaps.
    (server.app as unknown as { close(): void }).close();
    server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
    await until(() => ann.state === 'reconnecting' || ann.state === 'connecting', 'ann to notice', 10_000).catch(() => {});
    await until(() => ann.lastClose !== undefined && bob.lastClose !== undefined, 'both connections to drop');
    await until(() => ann.state === 'open' && bob.state === 'open', 'both back');
    await bobs.set({ status: 'online' });
    await until(() => (room.members.get('bob')?.state as { status?: string } | undefined)?.status === 'online', 'bob online');

    bobs.close();
    await until(() => !room.members.has('bob'), 'bob to leave');
    expect(events).toEqual(['join bob', 'update bob {"status":"away"}', 'update bob {"status":"online"}', 'leave bob']);
    expect(room.count).toBe(1);
    room.close();
    await until(() => leaves.includes('room/a'), 'room/a vacated');
  });

  it('counts the members of a count-only topic', async () => {
    const watchers = ['cat', 'dan', 'eve'].map((user) => client(user).presence('lobby/all'));
    await Promise.all(watchers.map((watcher) => watcher.ready));
    const first = watchers[0];
    await until(() => first?.count === 3, 'a count of 3');
    expect(first?.members.size).toBe(0);
    watchers[2]?.close();
    await until(() => first?.count === 2, 'a count of 2');
  });
});
