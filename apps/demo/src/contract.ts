/**
 * The demo's contract: chat rooms with private whispers, and the seed's contact center, where
 * consumers open conversations for a skill and the agents of that skill are rung.
 */
import { defineContract } from '@herald/core';
import { z } from 'zod';

const room = z.string().regex(/^[a-z0-9-]{1,32}$/, 'lower-case letters, digits and dashes').meta({ examples: ['lobby'] });
const text = z.string().min(1).max(500);

export const chat = defineContract({
  requests: {
    'chat.Join': {
      description: 'Join a room: the session is subscribed to the room topic.',
      request: z.object({ room }),
      response: z.object({ topic: z.string(), epoch: z.string(), offset: z.number() }),
    },
    'chat.Send': {
      description: 'Send a message to everyone in a room.',
      request: z.object({ room, text: text.meta({ examples: ['hello'] }) }),
      response: z.object({ offset: z.number() }),
    },
    'chat.Whisper': {
      description: 'Send a private message to every device of one user.',
      request: z.object({ to: z.string().min(1).max(32).meta({ examples: ['bob'] }), text: text.meta({ examples: ['psst'] }) }),
      response: z.object({ delivered: z.literal(true) }),
    },
  },
  notifications: {
    'chat.Message': { description: 'A message in a room.', body: z.object({ room, text: z.string(), from: z.string() }) },
    'chat.Whispered': { description: 'A private message.', body: z.object({ from: z.string(), text: z.string() }) },
  },
});

const skill = z.string().regex(/^[0-9]{1,9}$/, 'digits').meta({ examples: ['45'] });
const convId = z.uuid().describe('The conversation');
const ringId = z.uuid().describe('The ring: the offer of one conversation to the agents of its skill');
export const convStates = ['OPEN', 'CLOSE'] as const;
export const ringStates = ['WAITING', 'ACCEPTED', 'CANCELLED'] as const;
const message = z.object({ messageId: z.number().int(), from: z.string(), text: z.string(), at: z.number().describe('Epoch milliseconds') });

export const contactCenter = defineContract({
  requests: {
    'cc.OpenConversation': {
      description: 'A consumer opens a conversation for a skill; every agent subscribed to that skill is rung.',
      request: z.object({ skill, text: text.meta({ examples: ['Hello, my order has not arrived'] }) }),
      response: z.object({ convId, ringId }),
    },
    'ams.aam.SubscribeExConversations': {
      description:
        'An agent subscribes to the conversations of its skills: the session is subscribed to cc/skill/{skill}/{convState} for each pair, ' +
        'and the rings already waiting are sent to it privately.',
      // Every array is bounded: a body of thousands of invalid items would cost one issue each to reject.
      request: z.object({ skills: z.array(skill).min(1).max(20), convState: z.array(z.enum(convStates)).min(1).max(convStates.length) }),
      response: z.object({ subscriptionId: z.string() }),
    },
    'cc.AgentsOnline': {
      description: 'How many agents of a skill are online (subscribed to its rings, on any node), and the first 100 of them.',
      request: z.object({ skill }),
      response: z.object({ count: z.number().int(), agents: z.array(z.string()).max(100) }),
    },
    'cc.AcceptRing': {
      description: 'An agent accepts a waiting ring. The first agent gets the conversation and its messages so far; any later one gets 409 ring_taken.',
      request: z.object({ ringId }),
      response: z.object({ convId, consumerId: z.string(), skill, messages: z.array(message) }),
    },
    'cc.SendMessage': {
      description: 'Send a message in a conversation: it reaches the other party as a private cc.Message. The response confirms the server has it.',
      request: z.object({ convId, text: text.meta({ examples: ['How can I help?'] }) }),
      response: z.object({ messageId: z.number().int(), at: z.number() }),
    },
    'cc.CloseConversation': {
      description: 'Either party ends a conversation; a ring still waiting is cancelled.',
      request: z.object({ convId }),
      response: z.object({ convState: z.literal('CLOSE') }),
    },
  },
  notifications: {
    'ams.routing.RingUpdated': {
      description: 'A ring changed state, on cc/skill/{skill}/OPEN (or privately, for the rings waiting when an agent subscribes).',
      body: z.object({
        ringId,
        ringState: z.enum(ringStates),
        convId,
        consumerId: z.string(),
        skillId: skill,
        agentId: z.string().optional().describe('Who accepted the ring'),
      }),
    },
    'cc.Message': { description: 'A message from the other party of a conversation (private).', body: message.extend({ convId }) },
    'cc.ConversationUpdated': {
      description: 'An agent joined a conversation (to the consumer), or it was closed (to the other party, and on cc/skill/{skill}/CLOSE).',
      body: z.object({ convId, convState: z.enum(convStates), agentId: z.string().optional(), closedBy: z.string().optional() }),
    },
  },
});

/** Everything the demo server answers: the chat and the contact center. */
export const demo = defineContract({
  requests: { ...chat.requests, ...contactCenter.requests },
  notifications: { ...chat.notifications, ...contactCenter.notifications },
  topics: {
    'room/{room}': { description: 'The messages of one chat room.', notifications: ['chat.Message'] },
    'cc/skill/{skill}/OPEN': {
      description: "The rings of a skill. Its presence members are the skill's agents online.",
      notifications: ['ams.routing.RingUpdated'],
      presence: 'members',
    },
    'cc/skill/{skill}/CLOSE': { description: 'The conversations of a skill that were closed.', notifications: ['cc.ConversationUpdated'] },
  },
});
