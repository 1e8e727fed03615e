/**
 * Routing to pools of backends: by the path the client connects to, and by a routing function
 * reading a header, the offered subprotocol or the principal a token names. Each pool is a real
 * node; `test.Where` says which one answered.
 */
import { request as httpRequest } from 'node:http';
import { connect } from '@herald/testing';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveGateway, type Gateway } from '../src/index.ts';
import { createBackendHerald } from './backend-app.ts';

const quiet = { info() {}, warn() {}, error() {} };
const nodes: HeraldUwsServer[] = [];
let gateway: Gateway;

async function node(name: string): Promise<string> {
  const server = await serveHerald(createBackendHerald({ node: name }), { port: 0, host: '127.0.0.1' });
  nodes.push(server);
  return `ws://127.0.0.1:${server.port}/ws`;
}

beforeAll(async () => {
  const [main, chat, admin] = await Promise.all([node('main'), node('chat'), node('admin')]);
  gateway = await serveGateway({
    backends: [main as string],
    pools: { chat: { backends: [chat as string] }, admin: { backends: [admin as string], strategy: 'least-connections' } },
    paths: { '/ws': 'default', '/chat/ws': 'chat' },
    route: (request) => {
      if (request.headers.get('x-tenant') === 'admin') return 'admin';
      if (request.protocols.includes('admin.v1')) return 'admin';
      // The principal the token names: an operator goes to the admin nodes whatever the path.
      if (request.headers.get('authorization')?.startsWith('Bearer user:ops-') === true) return 'admin';
      if (request.headers.get('x-tenant') === 'nowhere') return 'missing';
      return undefined;
    },
    port: 0,
    host: '127.0.0.1',
    logger: quiet,
  });
});

afterAll(async () => {
  await gateway?.close();
  await Promise.all(nodes.map((server) => server.close()));
});

async function where(path: string, headers: Record<string, string>, protocols?: string[]): Promise<string> {
  const tester = await connect(`ws://127.0.0.1:${gateway.port}${path}`, { headers: { authorization: 'Bearer user:someone', ...headers }, ...(protocols === undefined ? {} : { protocols }) });
  try {
    const answer = await tester.request('test.Where', {});
    return (answer.body as { node: string }).node;
  } finally {
    await tester.close();
  }
}

it('routes by path', async () => {
  expect(await where('/ws', {})).toBe('main');
  expect(await where('/chat/ws', {})).toBe('chat');
});

it('routes by a function of the upgrade: a header, the subprotocol, the principal in the token', async () => {
  expect(await where('/ws', { 'x-tenant': 'admin' })).toBe('admin');
  expect(await where('/chat/ws', {}, ['herald.v1', 'admin.v1'])).toBe('admin');
  expect(await where('/chat/ws', { authorization: 'Bearer user:ops-7' })).toBe('admin');
  expect(await where('/chat/ws', { authorization: 'Bearer user:guest-7' })).toBe('chat');
});

it('answers a route to a pool that does not exist 503 no_backend', async () => {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = httpRequest(`http://127.0.0.1:${gateway.port}/ws`, {
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-protocol': 'herald.v1', 'x-tenant': 'nowhere' },
    });
    request.on('response', (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.on('upgrade', () => reject(new Error('upgraded')));
    request.on('error', reject);
    request.end();
  });
  expect(status).toBe(503);
  expect(JSON.parse(body)).toMatchObject({ error: 'no_backend' });
});

it('refuses pools it cannot serve at start: a path naming no pool', async () => {
  await expect(serveGateway({ backends: ['ws://127.0.0.1:1/ws'], paths: { '/x': 'nope' }, port: 0, logger: quiet })).rejects.toThrow(/pool nope/);
});
