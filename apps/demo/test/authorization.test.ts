/**
 * The demo's authorization over real sockets (uWS on loopback, `ws` clients): roles come from
 * the token, consumers have a quota of open conversations, and private rooms refuse strangers.
 * Each refusal is the answer the demo's README documents; each allowed action still works.
 */
import type { Herald } from '@herald/core';
import { and, connect, withProperty, withType, type Tester } from '@herald/testing';
import { serveHerald, type HeraldUwsServer } from '@herald/uws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDemo } from '../src/app.ts';
import { MAX_OPEN_PER_CONSUMER } from '../src/contact-center.ts';

let herald: Herald<any>;
let server: HeraldUwsServer;
let url: string;
const open: Tester[] = [];

beforeAll(async () => {
  herald = createDemo({ upgradeRateLimit: false });
  server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
  url = `ws://127.0.0.1:${server.port}/ws`;
});

afterAll(async () => {
  for (const tester of open) tester.drop();
  await server.close();
});

async function client(token: string): Promise<Tester> {
  const tester = await connect(url, { token, timeoutMs: 10_000 });
  open.push(tester);
  return tester;
}

const subscribeToRings = (tester: Tester, skills: string[]) => tester.request('ams.aam.SubscribeExConversations', { skills, convState: ['OPEN', 'CLOSE'] });

describe('agent roles come from the token', () => {
  it('refuses a consumer token every way into a skill: 403 not_an_agent, or 403 forbidden on herald.Subscribe', async () => {
    const mallory = await client('demo-mallory');
    expect(await subscribeToRings(mallory, ['45'])).toMatchObject({ code: 403, body: { error: 'not_an_agent', message: 'not an agent of skill 45' } });
    expect(await mallory.request('herald.Subscribe', { topic: 'cc/skill/45/OPEN' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });
    expect(await mallory.request('herald.Subscribe', { topic: 'cc/skill/45/CLOSE' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });

    const c1 = await client('demo-c1');
    const { ringId } = (await c1.request('cc.OpenConversation', { skill: '45', text: 'hello' })).body as { ringId: string };
    expect(await mallory.request('cc.AcceptRing', { ringId })).toMatchObject({ code: 403, body: { error: 'not_an_agent' } });
    await mallory.expectNothing(100, withType('ams.routing.RingUpdated'));
  });

  it('gives an agent only the skills its token names, and those still work end to end', async () => {
    const a1 = await client('demo-agent-a1-45.46');
    expect(await subscribeToRings(a1, ['45', '47'])).toMatchObject({ code: 403, body: { error: 'not_an_agent', message: 'not an agent of skill 47' } });
    expect(await a1.request('herald.Subscribe', { topic: 'cc/skill/47/OPEN' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });
    expect(await subscribeToRings(a1, ['45', '46'])).toMatchObject({ code: 200 });
    expect(await a1.request('herald.Subscribe', { topic: 'cc/skill/46/OPEN' })).toMatchObject({ code: 200 });

    const c2 = await client('demo-c2');
    const { convId, ringId } = (await c2.request('cc.OpenConversation', { skill: '46', text: 'help' })).body as { convId: string; ringId: string };
    // The ring of the previous test, on skill 45, arrives privately first: wait for this one.
    expect(await a1.waitFor(and(withType('ams.routing.RingUpdated'), withProperty('body.ringId', ringId)))).toMatchObject({ topic: 'cc/skill/46/OPEN' });
    expect(await a1.request('cc.AcceptRing', { ringId })).toMatchObject({ code: 200, body: { convId, consumerId: 'c2' } });

    const other = await client('demo-agent-a2-47');
    const second = (await c2.request('cc.OpenConversation', { skill: '46', text: 'again' })).body as { ringId: string };
    expect(await other.request('cc.AcceptRing', { ringId: second.ringId })).toMatchObject({ code: 403, body: { error: 'not_an_agent' } });
  });

  it('refuses malformed agent tokens with 401 invalid_token', async () => {
    const eve = await connect(url, { timeoutMs: 10_000 });
    open.push(eve);
    for (const token of ['demo-agent-a1', 'demo-agent-a1-', 'demo-agent-a1-4x', 'demo-agent-A1-45', `demo-agent-a1-${Array.from({ length: 21 }, (_, i) => i).join('.')}`]) {
      expect(await eve.request('herald.Authenticate', { token }), token).toMatchObject({ code: 401, body: { error: 'invalid_token' } });
    }
  });
});

describe('a consumer has a quota of open conversations', () => {
  it(`answers 429 quota_exceeded past ${MAX_OPEN_PER_CONSUMER}, leaves other consumers alone, and frees a place on close`, async () => {
    const greedy = await client('demo-greedy');
    const opened: string[] = [];
    for (let n = 0; n < MAX_OPEN_PER_CONSUMER; n++) {
      const answer = await greedy.request('cc.OpenConversation', { skill: '9', text: `number ${n}` });
      expect(answer.code).toBe(200);
      opened.push((answer.body as { convId: string }).convId);
    }
    expect(await greedy.request('cc.OpenConversation', { skill: '9', text: 'one more' })).toMatchObject({
      code: 429,
      body: { error: 'quota_exceeded', message: `at most ${MAX_OPEN_PER_CONSUMER} open conversations: close one first` },
    });
    // The quota is per user, not per session: a second device shares it.
    const sameUser = await client('demo-greedy');
    expect(await sameUser.request('cc.OpenConversation', { skill: '9', text: 'from my phone' })).toMatchObject({ code: 429, body: { error: 'quota_exceeded' } });

    const polite = await client('demo-polite');
    expect(await polite.request('cc.OpenConversation', { skill: '9', text: 'hello' })).toMatchObject({ code: 200 });

    expect(await greedy.request('cc.CloseConversation', { convId: opened[0] })).toMatchObject({ code: 200 });
    expect(await greedy.request('cc.OpenConversation', { skill: '9', text: 'now there is room' })).toMatchObject({ code: 200 });
    expect(await greedy.request('cc.OpenConversation', { skill: '9', text: 'but no more' })).toMatchObject({ code: 429 });
  });

  it('frees the place when the agent closes the conversation too', async () => {
    const agent = await client('demo-agent-a5-5');
    const consumer = await client('demo-busy');
    const rings: string[] = [];
    const convs: string[] = [];
    for (let n = 0; n < MAX_OPEN_PER_CONSUMER; n++) {
      const { convId, ringId } = (await consumer.request('cc.OpenConversation', { skill: '5', text: `q${n}` })).body as { convId: string; ringId: string };
      convs.push(convId);
      rings.push(ringId);
    }
    expect(await agent.request('cc.AcceptRing', { ringId: rings[0] })).toMatchObject({ code: 200 });
    expect(await agent.request('cc.CloseConversation', { convId: convs[0] })).toMatchObject({ code: 200 });
    expect(await consumer.request('cc.OpenConversation', { skill: '5', text: 'next' })).toMatchObject({ code: 200 });
  });
});

describe('rooms the user may not see', () => {
  it('lets anyone join and send in a public room', async () => {
    const alice = await client('demo-alice');
    const bob = await client('demo-bob');
    expect(await alice.request('chat.Join', { room: 'lobby' })).toMatchObject({ code: 200, body: { topic: 'room/lobby' } });
    expect(await bob.request('herald.Subscribe', { topic: 'room/lobby' })).toMatchObject({ code: 200 });
    expect(await bob.request('chat.Send', { room: 'lobby', text: 'hi all' })).toMatchObject({ code: 200 });
    expect(await alice.waitFor(withType('chat.Message'))).toMatchObject({ body: { text: 'hi all', from: 'bob' } });
  });

  it('keeps the agents room to agents: 403 not_a_member on join and send, 403 forbidden on herald.Subscribe', async () => {
    const consumer = await client('demo-carol');
    expect(await consumer.request('chat.Join', { room: 'agents' })).toMatchObject({ code: 403, body: { error: 'not_a_member', message: 'room agents is private' } });
    expect(await consumer.request('chat.Send', { room: 'agents', text: 'let me in' })).toMatchObject({ code: 403, body: { error: 'not_a_member' } });
    expect(await consumer.request('herald.Subscribe', { topic: 'room/agents' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });

    const agent = await client('demo-agent-a7-7');
    expect(await agent.request('chat.Join', { room: 'agents' })).toMatchObject({ code: 200 });
    const colleague = await client('demo-agent-a8-8');
    expect(await colleague.request('chat.Send', { room: 'agents', text: 'break?' })).toMatchObject({ code: 200 });
    expect(await agent.waitFor(withType('chat.Message'))).toMatchObject({ topic: 'room/agents', body: { text: 'break?' } });
    await consumer.expectNothing(100, withType('chat.Message'));
  });

  it('keeps a direct room to its two users, and a dm- room of any other shape to nobody', async () => {
    const dana = await client('demo-dana');
    const erin = await client('demo-erin');
    const frank = await client('demo-frank');
    expect(await dana.request('chat.Join', { room: 'dm-dana-erin' })).toMatchObject({ code: 200 });
    expect(await erin.request('herald.Subscribe', { topic: 'room/dm-dana-erin' })).toMatchObject({ code: 200 });
    expect(await frank.request('chat.Join', { room: 'dm-dana-erin' })).toMatchObject({ code: 403, body: { error: 'not_a_member' } });
    expect(await frank.request('herald.Subscribe', { topic: 'room/dm-dana-erin' })).toMatchObject({ code: 403, body: { error: 'forbidden' } });
    expect(await frank.request('chat.Send', { room: 'dm-dana-erin', text: 'hi' })).toMatchObject({ code: 403, body: { error: 'not_a_member' } });
    expect(await dana.request('chat.Join', { room: 'dm-dana' })).toMatchObject({ code: 403, body: { error: 'not_a_member' } });
    expect(await erin.request('chat.Send', { room: 'dm-dana-erin', text: 'just us' })).toMatchObject({ code: 200 });
    expect(await dana.waitFor(withType('chat.Message'))).toMatchObject({ body: { text: 'just us', from: 'erin' } });
    await frank.expectNothing(100, withType('chat.Message'));
  });

  it('refuses herald.Subscribe to a room topic the contract would not accept as a room', async () => {
    const gus = await client('demo-gus');
    expect(await gus.request('herald.Subscribe', { topic: `room/${'a'.repeat(33)}` })).toMatchObject({ code: 403, body: { error: 'forbidden' } });
  });
});
