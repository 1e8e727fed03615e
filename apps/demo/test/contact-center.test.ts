/** The contact center's handlers, in process: rings, the first accept winning, messages, closing. */
import type { Herald } from '@herald/core';
import { and, connectInProcess, withProperty, withType, type Tester } from '@herald/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDemo } from '../src/app.ts';

let herald: Herald<any>;
let open: Tester[];

beforeEach(() => {
  herald = createDemo();
  open = [];
});

afterEach(async () => {
  for (const tester of open) await tester.close();
  await herald.close();
});

async function user(name: string, token = `demo-${name}`): Promise<Tester> {
  const tester = await connectInProcess(herald, { token });
  open.push(tester);
  return tester;
}

async function agent(name: string, skills = ['45']): Promise<Tester> {
  const tester = await user(name, `demo-agent-${name}-${skills.join('.')}`);
  const subscribed = await tester.request('ams.aam.SubscribeExConversations', { skills, convState: ['OPEN', 'CLOSE'] });
  expect(subscribed).toMatchObject({ code: 200, body: { subscriptionId: expect.stringMatching(/^sub_/) } });
  return tester;
}

const ring = (state: string) => and(withType('ams.routing.RingUpdated'), withProperty('body.ringState', state));

describe('contact center', () => {
  it("counts a skill's agents online: one per agent, however many tabs, gone when the last leaves", async () => {
    const consumer = await user('c9');
    expect(await consumer.request('cc.AgentsOnline', { skill: '45' })).toMatchObject({ code: 200, body: { count: 0, agents: [] } });
    const a1 = await agent('a1');
    const a1Tab = await agent('a1');
    await agent('a2');
    await agent('a3', ['7']);
    const online = async () => (await consumer.request('cc.AgentsOnline', { skill: '45' })).body;
    expect(await online()).toEqual({ count: 2, agents: ['a1', 'a2'] });
    await a1.close();
    expect(await online()).toEqual({ count: 2, agents: ['a1', 'a2'] });
    await a1Tab.close();
    // Closed by the client (1000): the session ends and the agent leaves at once.
    await expect.poll(online, { timeout: 20_000 }).toEqual({ count: 1, agents: ['a2'] });
  });

  it('rejects a subscribe request with thousands of invalid items with one issue, not one per item', async () => {
    const a1 = await user('a1');
    const answer = await a1.request('ams.aam.SubscribeExConversations', { skills: ['45'], convState: Array.from({ length: 5000 }, () => 0) });
    expect(answer).toMatchObject({ code: 400, body: { error: 'validation_failed', message: 'body does not match ams.aam.SubscribeExConversations' } });
    expect((answer.body as { issues: unknown[] }).issues).toHaveLength(1);
  });

  it('rings every agent of the skill, gives the conversation to the first accept and 409 to the next', async () => {
    const a1 = await agent('a1');
    const a2 = await agent('a2');
    const other = await agent('a3', ['7']);
    const c1 = await user('c1');
    const opened = await c1.request('cc.OpenConversation', { skill: '45', text: 'my order is late' });
    expect(opened.code).toBe(200);
    const { convId, ringId } = opened.body as { convId: string; ringId: string };

    const rung = await a1.waitFor(ring('WAITING'));
    expect(rung).toMatchObject({ topic: 'cc/skill/45/OPEN', body: { ringId, convId, consumerId: 'c1', skillId: '45' } });
    await a2.waitFor(ring('WAITING'));
    await other.expectNothing(50, withType('ams.routing.RingUpdated'));

    expect(await a1.request('cc.AcceptRing', { ringId })).toMatchObject({
      code: 200,
      body: { convId, consumerId: 'c1', skill: '45', messages: [{ messageId: 1, from: 'c1', text: 'my order is late' }] },
    });
    expect(await a2.waitFor(ring('ACCEPTED'))).toMatchObject({ body: { ringId, agentId: 'a1' } });
    expect(await c1.waitFor(withType('cc.ConversationUpdated'))).toMatchObject({ seq: expect.any(Number), body: { convId, convState: 'OPEN', agentId: 'a1' } });
    expect(await a2.request('cc.AcceptRing', { ringId })).toMatchObject({ code: 409, body: { error: 'ring_taken', message: 'accepted by a1' } });
    expect(await other.request('cc.AcceptRing', { ringId })).toMatchObject({ code: 403, body: { error: 'not_an_agent' } });
  });

  it('tells an agent who subscribes late of the rings already waiting', async () => {
    const c1 = await user('c1');
    const { body } = await c1.request('cc.OpenConversation', { skill: '45', text: 'hello?' });
    const late = await agent('a9');
    expect(await late.waitFor(ring('WAITING'))).toMatchObject({ seq: expect.any(Number), body: { ringId: (body as { ringId: string }).ringId } });
  });

  it('carries messages both ways as private notifications, only between the two parties', async () => {
    const a1 = await agent('a1');
    const c1 = await user('c1');
    const { convId, ringId } = (await c1.request('cc.OpenConversation', { skill: '45', text: 'hi' })).body as { convId: string; ringId: string };
    await a1.request('cc.AcceptRing', { ringId });

    expect(await a1.request('cc.SendMessage', { convId, text: 'How can I help?' })).toMatchObject({ code: 200, body: { messageId: 2 } });
    expect(await c1.waitFor(withType('cc.Message'))).toMatchObject({ seq: expect.any(Number), body: { convId, from: 'a1', text: 'How can I help?' } });
    await c1.request('cc.SendMessage', { convId, text: 'Where is my parcel?' });
    expect(await a1.waitFor(withType('cc.Message'))).toMatchObject({ body: { from: 'c1', text: 'Where is my parcel?', messageId: 3 } });

    const stranger = await user('x1');
    expect(await stranger.request('cc.SendMessage', { convId, text: 'let me in' })).toMatchObject({ code: 403, body: { error: 'not_a_participant' } });
  });

  it('closes a conversation for both parties and cancels a ring still waiting', async () => {
    const a1 = await agent('a1');
    const c1 = await user('c1');
    const first = (await c1.request('cc.OpenConversation', { skill: '45', text: 'one' })).body as { convId: string; ringId: string };
    await a1.request('cc.AcceptRing', { ringId: first.ringId });
    expect(await a1.request('cc.CloseConversation', { convId: first.convId })).toMatchObject({ code: 200, body: { convState: 'CLOSE' } });
    expect(await c1.waitFor(and(withType('cc.ConversationUpdated'), withProperty('body.convState', 'CLOSE')))).toMatchObject({ body: { closedBy: 'a1' } });
    expect(await a1.waitFor(withType('cc.ConversationUpdated'))).toMatchObject({ topic: 'cc/skill/45/CLOSE', body: { convId: first.convId } });
    expect(await c1.request('cc.SendMessage', { convId: first.convId, text: 'hello?' })).toMatchObject({ code: 404, body: { error: 'unknown_conversation' } });

    const second = (await c1.request('cc.OpenConversation', { skill: '45', text: 'two' })).body as { convId: string; ringId: string };
    await c1.request('cc.CloseConversation', { convId: second.convId });
    expect(await a1.waitFor(ring('CANCELLED'))).toMatchObject({ body: { ringId: second.ringId } });
  });

  it('lets only agents of a skill subscribe themselves to its topics (as a resume does)', async () => {
    const a1 = await agent('a1');
    const c1 = await user('c1');
    expect(await a1.request('herald.Subscribe', { topic: 'cc/skill/45/OPEN' })).toMatchObject({ code: 200 });
    expect(await a1.request('herald.Subscribe', { topic: 'cc/skill/46/OPEN' })).toMatchObject({ code: 403 });
    expect(await c1.request('herald.Subscribe', { topic: 'cc/skill/45/OPEN' })).toMatchObject({ code: 403 });
  });
});
