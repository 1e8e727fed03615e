/**
 * The contact center, in memory on one node: a consumer opens a conversation for a skill, every
 * agent subscribed to that skill is rung on `cc/skill/{skill}/OPEN`, the first to accept gets
 * the conversation, and the two exchange private messages until one of them closes it.
 * Who is an agent of a skill comes from the token (`identity.ts`), never from the request.
 */
import { HeraldError, randomId, type Handlers, type RequestType, type SessionHandle } from '@herald/core';
import type { contactCenter, convStates, demo, ringStates } from './contract.ts';
import { isAgentOf } from './identity.ts';

type ConvState = (typeof convStates)[number];
type RingState = (typeof ringStates)[number];

interface Message {
  readonly messageId: number;
  readonly from: string;
  readonly text: string;
  readonly at: number;
}

interface Conversation {
  readonly convId: string;
  readonly ringId: string;
  readonly consumerId: string;
  readonly skill: string;
  ringState: RingState;
  agentId: string | undefined;
  readonly messages: Message[];
  nextMessageId: number;
}

/** A public demo keeps its memory bounded… */
const MAX_CONVERSATIONS = 1000;
/** …and one consumer cannot take all of it: past this many open conversations, 429 quota_exceeded. */
export const MAX_OPEN_PER_CONSUMER = 3;
const MAX_HISTORY = 100;

const SKILL_TOPIC = /^cc\/skill\/([0-9]{1,9})\/(OPEN|CLOSE)$/;

/** The topic where conversations of a skill in a state are announced. */
export const skillTopic = <S extends ConvState>(skill: string, state: S): `cc/skill/${string}/${S}` => `cc/skill/${skill}/${state}`;

export interface ContactCenter {
  readonly handlers: Pick<Handlers<typeof demo>, RequestType<typeof contactCenter>>;
  /** Agents may subscribe themselves (as on a resume) to the topics of the skills their token gives them. */
  canSubscribe(topic: string, session: SessionHandle): boolean;
}

export function createContactCenter(): ContactCenter {
  const conversations = new Map<string, Conversation>();
  const byRing = new Map<string, Conversation>();
  /** How many open conversations each consumer has. */
  const openBy = new Map<string, number>();

  const ring = (conversation: Conversation) => ({
    ringId: conversation.ringId,
    ringState: conversation.ringState,
    convId: conversation.convId,
    consumerId: conversation.consumerId,
    skillId: conversation.skill,
    ...(conversation.agentId === undefined ? {} : { agentId: conversation.agentId }),
  });

  const record = (conversation: Conversation, from: string, text: string): Message => {
    const message = { messageId: conversation.nextMessageId++, from, text, at: Date.now() };
    conversation.messages.push(message);
    if (conversation.messages.length > MAX_HISTORY) conversation.messages.shift();
    return message;
  };

  const joined = (convId: string, userId: string): Conversation => {
    const conversation = conversations.get(convId);
    if (conversation === undefined) throw new HeraldError(404, 'unknown_conversation', `no open conversation ${convId}`);
    if (userId !== conversation.consumerId && userId !== conversation.agentId) throw new HeraldError(403, 'not_a_participant', 'not your conversation');
    return conversation;
  };

  const otherParty = (conversation: Conversation, userId: string): string | undefined =>
    userId === conversation.consumerId ? conversation.agentId : conversation.consumerId;

  return {
    canSubscribe(topic, session) {
      const skill = SKILL_TOPIC.exec(topic)?.[1];
      return skill !== undefined && isAgentOf(session.principal, skill);
    },

    handlers: {
      'cc.OpenConversation': async ({ skill, text }, ctx) => {
        const mine = openBy.get(ctx.userId) ?? 0;
        if (mine >= MAX_OPEN_PER_CONSUMER) {
          throw new HeraldError(429, 'quota_exceeded', `at most ${MAX_OPEN_PER_CONSUMER} open conversations: close one first`);
        }
        if (conversations.size >= MAX_CONVERSATIONS) throw new HeraldError(503, 'too_many_conversations', 'the demo is full, try again later');
        const conversation: Conversation = {
          convId: crypto.randomUUID(),
          ringId: crypto.randomUUID(),
          consumerId: ctx.userId,
          skill,
          ringState: 'WAITING',
          agentId: undefined,
          messages: [],
          nextMessageId: 1,
        };
        record(conversation, ctx.userId, text);
        conversations.set(conversation.convId, conversation);
        openBy.set(ctx.userId, mine + 1);
        byRing.set(conversation.ringId, conversation);
        await ctx.herald.publish(skillTopic(skill, 'OPEN'), 'ams.routing.RingUpdated', ring(conversation));
        return { convId: conversation.convId, ringId: conversation.ringId };
      },

      'ams.aam.SubscribeExConversations': async ({ skills, convState }, ctx) => {
        const wanted = new Set(skills);
        const refused = [...wanted].filter((skill) => !isAgentOf(ctx.principal, skill));
        if (refused.length > 0) throw new HeraldError(403, 'not_an_agent', `not an agent of skill ${refused.join(', ')}`);
        for (const skill of wanted) {
          for (const state of new Set(convState)) await ctx.subscribe(skillTopic(skill, state));
        }
        // Rings published before this subscription are not in the topic's future: send them now.
        if (convState.includes('OPEN')) {
          for (const conversation of conversations.values()) {
            if (conversation.ringState === 'WAITING' && wanted.has(conversation.skill)) ctx.notify('ams.routing.RingUpdated', ring(conversation));
          }
        }
        return { subscriptionId: `sub_${randomId(10)}` };
      },

      'cc.AgentsOnline': async ({ skill }, ctx) => {
        // The members of a skill's ring topic are its agents online, on every node.
        const { count, members } = await ctx.herald.members(skillTopic(skill, 'OPEN'), { limit: 100 });
        return { count, agents: members.map((member) => member.userId) };
      },

      'cc.AcceptRing': async ({ ringId }, ctx) => {
        const conversation = byRing.get(ringId);
        if (conversation === undefined) throw new HeraldError(404, 'unknown_ring', `no ring ${ringId}`);
        if (!isAgentOf(ctx.principal, conversation.skill)) throw new HeraldError(403, 'not_an_agent', `not an agent of skill ${conversation.skill}`);
        // Checked and claimed with no await in between: the first accept wins.
        if (conversation.ringState !== 'WAITING') throw new HeraldError(409, 'ring_taken', `accepted by ${conversation.agentId}`);
        conversation.ringState = 'ACCEPTED';
        conversation.agentId = ctx.userId;
        await Promise.all([
          ctx.herald.publish(skillTopic(conversation.skill, 'OPEN'), 'ams.routing.RingUpdated', ring(conversation)),
          ctx.herald.sendToUser(conversation.consumerId, 'cc.ConversationUpdated', { convId: conversation.convId, convState: 'OPEN', agentId: ctx.userId }),
        ]);
        return { convId: conversation.convId, consumerId: conversation.consumerId, skill: conversation.skill, messages: conversation.messages };
      },

      'cc.SendMessage': async ({ convId, text }, ctx) => {
        const conversation = joined(convId, ctx.userId);
        const message = record(conversation, ctx.userId, text);
        const to = otherParty(conversation, ctx.userId);
        // Before an agent accepts, the message waits in the history the agent gets on accepting.
        if (to !== undefined) await ctx.herald.sendToUser(to, 'cc.Message', { convId, ...message });
        return { messageId: message.messageId, at: message.at };
      },

      'cc.CloseConversation': async ({ convId }, ctx) => {
        const conversation = joined(convId, ctx.userId);
        conversations.delete(convId);
        byRing.delete(conversation.ringId);
        const left = (openBy.get(conversation.consumerId) ?? 1) - 1;
        if (left === 0) openBy.delete(conversation.consumerId);
        else openBy.set(conversation.consumerId, left);
        const closed = { convId, convState: 'CLOSE' as const, closedBy: ctx.userId };
        const to = otherParty(conversation, ctx.userId);
        const announcements: Promise<unknown>[] = [ctx.herald.publish(skillTopic(conversation.skill, 'CLOSE'), 'cc.ConversationUpdated', closed)];
        if (to !== undefined) announcements.push(ctx.herald.sendToUser(to, 'cc.ConversationUpdated', closed));
        if (conversation.ringState === 'WAITING') {
          conversation.ringState = 'CANCELLED';
          announcements.push(ctx.herald.publish(skillTopic(conversation.skill, 'OPEN'), 'ams.routing.RingUpdated', ring(conversation)));
        }
        await Promise.all(announcements);
        return { convState: 'CLOSE' as const };
      },
    },
  };
}
