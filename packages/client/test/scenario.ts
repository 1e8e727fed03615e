/**
 * The client's exchange with a running test server, without a test framework, so the same
 * file runs on Node (with `ws`), Bun and Deno (with their global WebSocket): typed request,
 * typed error, subscription, private notifications, a server restart mid-stream, resume.
 */
import { createClient, HeraldRequestError, type WebSocketConstructor } from '../src/index.ts';
import type { TestContract } from './fixture.ts';

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error('client scenario: ' + message);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await sleep(10);
  check(condition(), `timed out waiting for ${what}`);
}

export async function runClientScenario(url: string, WebSocket?: WebSocketConstructor): Promise<string[]> {
  const steps: string[] = [];
  const id = Math.random().toString(36).slice(2, 10);
  const states: string[] = [];
  const client = createClient<TestContract>({
    url,
    token: `user:${id}`,
    reconnectDelayMs: 20,
    onStateChange: (state) => states.push(state),
    ...(WebSocket === undefined ? {} : { WebSocket }),
  });
  try {
    check((await client.request('test.Echo', { text: 'hi' })).text === 'hi', 'echo');
    const error = await client.request('test.Forbidden', {}).catch((e: unknown) => e);
    check(error instanceof HeraldRequestError && error.code === 403, 'typed error');
    steps.push('request/response');

    const ticks: number[] = [];
    const privates: number[] = [];
    await client.subscribe(`t/${id}`, (body: { n: number }) => ticks.push(body.n)).ready;
    client.on('test.Private', (body) => privates.push(body.n));
    for (let n = 1; n <= 10; n++) {
      await client.request('test.Publish', { topic: `t/${id}`, n });
      await client.request('test.Notify', { to: id, n });
    }
    await until(() => ticks.length === 10 && privates.length === 10, 'the first ten notifications');
    steps.push('subscribe/notify');

    const session = client.sessionId;
    await client.request('test.Restart', {});
    await until(() => states.includes('reconnecting'), 'the restart to drop the connection');
    const pending = [];
    for (let n = 11; n <= 20; n++) {
      pending.push(client.request('test.Publish', { topic: `t/${id}`, n }));
      pending.push(client.request('test.Notify', { to: id, n }));
    }
    await Promise.all(pending);
    await until(() => ticks.length >= 20 && privates.length >= 20, 'the notifications after the restart');
    await sleep(50);
    check(client.sessionId === session, 'the same session was resumed');
    check(JSON.stringify(ticks) === JSON.stringify(Array.from({ length: 20 }, (_, i) => i + 1)), `topic delivered once in order: ${ticks}`);
    check(JSON.stringify(privates) === JSON.stringify(ticks), `private delivered once in order: ${privates}`);
    steps.push('restart/resume');
  } finally {
    client.close();
  }
  return steps;
}
