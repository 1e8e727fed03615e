import { createClient } from '@herald/client';
import { connectInProcess, withType } from '@herald/testing';
import { serveHerald } from '@herald/uws';
import { expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp } from '../src/app.ts';
import type { contract } from '../src/contract.ts';

it('delivers a message to the room (in process, no sockets)', async () => {
  const herald = createApp();
  const alice = await connectInProcess(herald, { token: 'user:alice' });
  await alice.request('chat.Join', { room: 'lobby' });
  expect(await alice.request('chat.Send', { room: 'lobby', text: '' })).toMatchObject({ code: 400, body: { error: 'validation_failed' } });
  await alice.request('chat.Send', { room: 'lobby', text: 'hi' });
  expect(await alice.waitFor(withType('chat.Message'))).toMatchObject({ topic: 'room/lobby', body: { text: 'hi', from: 'alice' } });
  await herald.close();
});

it('answers a typed client over a real socket', async () => {
  const server = await serveHerald(createApp(), { port: 0, host: '127.0.0.1' });
  const client = createClient<typeof contract>({ url: `ws://127.0.0.1:${server.port}/ws`, WebSocket, token: 'user:bob' });
  const received = new Promise((resolve) => client.on('chat.Message', resolve));
  await client.request('chat.Join', { room: 'lobby' });
  expect(await client.request('chat.Send', { room: 'lobby', text: 'hello' })).toEqual({ offset: 1 });
  expect(await received).toEqual({ room: 'lobby', text: 'hello', from: 'bob' });
  client.close();
  await server.close();
});
