/**
 * /inspector on the demo (uWS): absent without a token; with one, the page is served, its API
 * wants the token, lists a long-poll session and a WebSocket one, and a read-only inspector
 * refuses to disconnect.
 */
import { LongPollWebSocket } from '@herald/client';
import { connect, type Tester } from '@herald/testing';
import { afterAll, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../src/server.ts';

const TOKEN = 'demo-inspector-token-0123';
const demos: DemoServer[] = [];
const open: Tester[] = [];

afterAll(async () => {
  for (const tester of open) tester.drop();
  for (const demo of demos) await demo.close();
});

async function started(inspectorToken?: string): Promise<string> {
  const demo = await startDemo({ port: 0, host: '127.0.0.1', node: 'demo-1', ...(inspectorToken === undefined ? {} : { inspectorToken }) });
  demos.push(demo);
  return `127.0.0.1:${demo.port}`;
}

it('serves no inspector without INSPECTOR_TOKEN', async () => {
  const base = await started();
  expect((await fetch(`http://${base}/inspector`)).status).toBe(404);
  expect((await fetch(`http://${base}/inspector/api/snapshot`)).status).toBe(404);
});

it('serves /inspector behind its token, read-only, with the sessions of both transports', async () => {
  const base = await started(TOKEN);
  expect((await fetch(`http://${base}/inspector`)).status).toBe(200);
  expect((await fetch(`http://${base}/inspector/api/snapshot`)).status).toBe(401);
  open.push(await connect(`ws://${base}/ws`, { token: 'demo-alice' }));
  open.push(await connect(`http://${base}/lp`, { token: 'demo-bob', WebSocket: LongPollWebSocket }));
  const headers = { authorization: `Bearer ${TOKEN}` };
  const answer = (await (await fetch(`http://${base}/inspector/api/snapshot`, { headers })).json()) as {
    actions: boolean;
    nodes: Array<{ node: string; snapshot: { sessions: Array<{ id: string; userId: string; transport: string }> } }>;
  };
  expect(answer.actions).toBe(false);
  expect(answer.nodes[0]?.node).toBe('demo-1');
  const sessions = answer.nodes[0]?.snapshot.sessions ?? [];
  expect(sessions.map((s) => [s.userId, s.transport]).sort()).toEqual([
    ['alice', 'websocket'],
    ['bob', 'long-poll'],
  ]);
  const refused = await fetch(`http://${base}/inspector/api/disconnect`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({ node: 'demo-1', session: sessions[0]?.id }),
  });
  expect(refused.status).toBe(403);
});
