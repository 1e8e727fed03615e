/**
 * PROTOCOL.md as an executable spec: every example of a frame or answer the server sends is
 * reproduced here by a scenario that drives a real server (uWS) over a real WebSocket and over
 * long-poll, and the frame the server sent must equal the example, except for the few fields
 * that change on every run (`VARIABLE_FIELDS`). The marker on the line before an example names
 * its scenario (`<!-- example: subscribe-live -->`); an unmarked server→client example fails.
 */
import { LongPollWebSocket } from '@herald/client';
import { MemoryBroker, type Broker, type HeraldOptions, type NotificationMessage } from '@herald/core';
import { and, connect, upgradeRefusal, withProperty, withType, type ConnectOptions, type MatcherLike, type Tester } from '@herald/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { attachHerald, attachHttp, loadUws } from '@herald/uws';
import { createLongPollHandler } from '../src/index.ts';
import { createSpecApp, JWT, REFRESH_TICKET, TICKET, USER, type SpecApp, type SpecContract } from './spec-app.ts';
import { differences, readSpecExamples } from './spec-examples.ts';

type Transport = 'websocket' | 'long-poll';

interface Running {
  /** `http://127.0.0.1:<port>`: WebSocket on /ws, long-poll on /lp. */
  readonly origin: string;
  stop(): Promise<void>;
}

/** Serves the application on uWS (not behind the relay of ./server.ts, whose close waits for idle keep-alive sockets). */
async function serve(app: SpecApp): Promise<Running> {
  const uws = loadUws();
  const server = uws.App();
  attachHerald(server, app.herald, { path: '/ws' }, uws);
  const longPoll = createLongPollHandler(app.herald, { pollTimeoutMs: 2000 });
  for (const pattern of ['/lp', '/lp/*']) attachHttp(server, pattern, longPoll.handle);
  const listen = await new Promise<unknown>((resolve) => server.listen('127.0.0.1', 0, resolve));
  return {
    origin: `http://127.0.0.1:${uws.us_socket_local_port(listen as never)}`,
    stop: async () => {
      await app.herald.close();
      longPoll.close();
      uws.us_listen_socket_close(listen as never);
    },
  };
}

/** What a scenario works with: a fresh server, and clients over the transport under test. */
interface Stage {
  readonly transport: Transport;
  readonly app: SpecApp;
  readonly running: Running;
  /** A client over the transport under test (Welcome received; `token` authenticates in session). */
  client(options?: ConnectOptions): Promise<Tester>;
  /** A client authenticated as u-48213 with the example's ticket. */
  signedIn(options?: ConnectOptions): Promise<Tester>;
  /** What a native client gets when it opens with these headers and subprotocols and is refused. */
  refusal(options: { headers?: Record<string, string>; protocols?: string[] }): Promise<unknown>;
}

interface Scenario {
  /** Default: both. */
  readonly transports?: readonly Transport[];
  /** The server's options, made fresh for each run. */
  readonly server?: () => Partial<HeraldOptions<SpecContract>> & { broker?: Broker };
  /** Drives the server and resolves to the frame (or HTTP answer) the example shows. */
  run(stage: Stage): Promise<unknown>;
}

const PATIENCE_MS = 20_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const next = (tester: Tester, matcher: MatcherLike) => tester.waitFor(matcher, { fresh: true });
const topicFrame = (topic: string, offset: number) => and(withProperty('topic', topic), withProperty('offset', offset));
const lastGoodbye = async (tester: Tester) => {
  await tester.closed;
  return tester.log.findLast((m) => m.kind === 'notification' && m.type === 'herald.Goodbye');
};

/** The football match of the §6 delta example, at `minute` (63 or 64). */
function matchState(minute: 63 | 64) {
  const events = [
    { minute: 12, team: 'home', player: 'Okafor', kind: 'goal' },
    { minute: 31, team: 'away', player: 'Lindqvist', kind: 'yellow' },
    { minute: 44, team: 'away', player: 'Moreau', kind: 'goal' },
    { minute: 58, team: 'home', player: 'Okafor', kind: 'goal' },
  ];
  const late = minute === 64;
  return { home: 2, away: 1, minute, possession: { home: late ? 55 : 54, away: late ? 45 : 46 }, shots: { home: late ? 12 : 11, away: 7 }, events };
}

/** A broker whose streams can be lost and started again (a broker restart): topics get new epochs. */
class RestartableBroker implements Broker {
  private inner = new MemoryBroker();
  private readonly listeners = new Map<string, Set<Parameters<Broker['subscribe']>[1]>>();
  restart(): void {
    this.inner = new MemoryBroker();
    for (const [topic, listeners] of this.listeners) for (const listener of listeners) void this.inner.subscribe(topic, listener);
  }
  publish: Broker['publish'] = (...args) => this.inner.publish(...args);
  subscribe: Broker['subscribe'] = (topic, listener) => {
    this.listeners.set(topic, (this.listeners.get(topic) ?? new Set()).add(listener));
    return this.inner.subscribe(topic, listener);
  };
  unsubscribe: Broker['unsubscribe'] = (topic, listener) => {
    this.listeners.get(topic)?.delete(listener);
    return this.inner.unsubscribe(topic, listener);
  };
  position: Broker['position'] = (topic) => this.inner.position(topic);
  history: Broker['history'] = (topic, since) => this.inner.history(topic, since);
  sendDirect: Broker['sendDirect'] = (...args) => this.inner.sendDirect(...args);
  listenDirect: Broker['listenDirect'] = (...args) => this.inner.listenDirect(...args);
  unlistenDirect: Broker['unlistenDirect'] = (...args) => this.inner.unlistenDirect(...args);
  close: Broker['close'] = () => this.inner.close();
}

function headersOf(response: Response): Record<string, string> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => (headers[name] = value));
  return headers;
}

/** The long-poll endpoints spoken directly, for the §11 examples of their answers. */
function longPollHttp(origin: string) {
  return {
    open: async (headers: Record<string, string>) => {
      const response = await fetch(`${origin}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', ...headers } });
      return { status: response.status, headers: headersOf(response), body: (await response.json()) as { sid: string; from: number; messages: any[] } };
    },
    send: (sid: string, frames: readonly object[]) =>
      fetch(`${origin}/lp/send`, { method: 'POST', headers: { 'herald-session': sid, 'content-type': 'application/json' }, body: JSON.stringify(frames.map((f) => JSON.stringify(f))) }),
    poll: async (sid: string, ack: number) => {
      const response = await fetch(`${origin}/lp/poll?ack=${ack}`, { headers: { 'herald-session': sid } });
      return { status: response.status, headers: headersOf(response), body: (await response.json()) as { from: number; messages: any[] } };
    },
  };
}

/** u-48213 subscribed to chat/room/42 at 1320 and holding private notifications up to 57, then dropped. */
async function droppedSession(stage: Stage) {
  await stage.app.fill('$all', 88);
  await stage.app.fill('chat/room/42', 1320);
  const old = await stage.signedIn();
  const subscribed = await old.request('herald.Subscribe', { topic: 'chat/room/42' });
  for (let n = 0; n < 57; n++) await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'earlier' });
  await next(old, withProperty('seq', 57));
  old.ack(57);
  const all = old.log.find((m) => m.kind === 'notification' && m.type === 'herald.Subscribed') as NotificationMessage<string, { epoch: string }> & { body: { epoch: string } };
  const positions = {
    'chat/room/42': { epoch: (subscribed.body as { epoch: string }).epoch, offset: 1320 },
    $all: { epoch: all.body.epoch, offset: 88 },
  };
  await old.drop();
  return { sessionId: old.welcome.sessionId, positions };
}

/** The dropped session, resumed on a new connection after `meanwhile` happened while it was detached. */
async function resumedAfter(stage: Stage, meanwhile: () => Promise<unknown>) {
  const { sessionId, positions } = await droppedSession(stage);
  await meanwhile();
  const tester = await stage.signedIn();
  return { tester, answer: await resume(tester, { sessionId, seq: 57, topics: positions }) };
}

function resume(tester: Tester, body: object) {
  tester.send({ kind: 'req', id: '2', type: 'herald.Resume', body });
  return next(tester, withProperty('reqId', '2'));
}

/** Each scenario reproduces the example(s) whose marker names it. */
const scenarios: Record<string, Scenario> = {
  // §4.1, §4.2
  'server-ping': {
    server: () => ({ limits: { pingIntervalMs: 300 } }),
    run: async (stage) => (await stage.signedIn()).waitFor((m) => m.kind === 'ping'),
  },
  'pong-to-ping': {
    run: async (stage) => {
      const tester = await stage.client();
      tester.send({ kind: 'ping' });
      return next(tester, (m) => m.kind === 'pong');
    },
  },

  // §4.5 resp
  'post-message': {
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 1318);
      return (await stage.signedIn()).request('chat.PostMessage', { room: '42', text: 'Hello, room' }, { id: '5' });
    },
  },
  'validation-failed': {
    run: async (stage) => (await stage.signedIn()).request('chat.PostMessage', { room: '42', text: 42 }, { id: '5' }),
  },
  'unknown-type': {
    run: async (stage) => (await stage.signedIn()).request('chat.DeleteRoom', { room: '42' }, { id: '7' }),
  },
  'rate-limited': {
    // A slow refill, so that the bucket stays empty however slowly the frames arrive; 250 frames
    // empty it and stay below the 200 refusals that would close the session as a flood.
    server: () => ({ limits: { rateLimit: { messagesPerSecond: 1, burst: 200 } } }),
    run: async (stage) => {
      const tester = await stage.signedIn();
      for (let n = 0; n < 250; n++) tester.send({ kind: 'ping' });
      return tester.request('chat.PostMessage', { room: '42', text: 'Hello, room' }, { id: '8' });
    },
  },
  'handler-failed': {
    run: async (stage) => {
      stage.app.roomsDown = true;
      return (await stage.signedIn()).request('chat.ListRooms', undefined, { id: '9' });
    },
  },
  'id-conflict': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      await tester.request('chat.PostMessage', { room: '42', text: 'Hello, room' }, { id: '5' });
      return tester.request('chat.ListRooms', undefined, { id: '5' });
    },
  },
  'req-without-type': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      tester.send({ kind: 'req', id: '10', body: { room: '42' } });
      return next(tester, withProperty('reqId', '10'));
    },
  },

  // §4.6 notifications
  'conflated-notification': {
    run: async (stage) => {
      // Behind the history (the spec app keeps 5,000 messages): a conflated topic recovers from the newest.
      for (let n = 1; n < 9412; n++) await stage.app.broker.publish('price/ACME', 'price.Quote', `{"bid":${100 + n / 10000},"ask":${100.04 + n / 10000}}`);
      const { epoch } = await stage.app.herald.publish('price/ACME', 'price.Quote', { bid: 101.2, ask: 101.24 });
      const tester = await stage.signedIn();
      await tester.request('herald.Subscribe', { topic: 'price/ACME', since: { epoch, offset: 2000 } });
      return tester.waitFor(topicFrame('price/ACME', 9412));
    },
  },
  'delta-subscribe': {
    run: async (stage) => {
      for (let n = 0; n < 203; n++) await stage.app.herald.publish('match/8817', 'match.State', matchState(63));
      return (await stage.signedIn()).request('herald.Subscribe', { topic: 'match/8817', delta: 'fossil' }, { id: '21' });
    },
  },
  'delta-notification': {
    run: async (stage) => {
      for (let n = 0; n < 203; n++) await stage.app.herald.publish('match/8817', 'match.State', matchState(63));
      const tester = await stage.signedIn();
      await tester.request('herald.Subscribe', { topic: 'match/8817', delta: 'fossil' });
      await stage.app.herald.publish('match/8817', 'match.State', matchState(63));
      await stage.app.herald.publish('match/8817', 'match.State', matchState(64));
      return tester.waitFor(topicFrame('match/8817', 205));
    },
  },
  'topic-notification': {
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 1318);
      const tester = await stage.signedIn();
      await tester.request('herald.Subscribe', { topic: 'chat/room/42' });
      await tester.request('chat.PostMessage', { room: '42', text: 'Hello, room' });
      return tester.waitFor(topicFrame('chat/room/42', 1319));
    },
  },
  'private-notification': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      for (let n = 0; n < 57; n++) await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'earlier' });
      await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'Are you free at 3?' });
      return tester.waitFor(withProperty('seq', 58));
    },
  },
  'subscribed-all': {
    run: async (stage) => {
      await stage.app.fill('$all', 88);
      return (await stage.signedIn()).waitFor(withType('herald.Subscribed'));
    },
  },

  // §4.7 Welcome
  'welcome-browser': {
    run: async (stage) => (await stage.client()).log[0],
  },
  'welcome-native': {
    run: async (stage) => (await stage.client({ headers: { authorization: `Bearer ${JWT}` } })).log[0],
  },

  // §4.8 Authenticate
  authenticated: {
    run: async (stage) => (await stage.client()).request('herald.Authenticate', { token: TICKET }, { id: '1' }),
  },
  'invalid-token': {
    run: async (stage) => (await stage.client()).request('herald.Authenticate', { token: 'tk_WRONG' }, { id: '1' }),
  },
  'not-authenticated': {
    run: async (stage) => (await stage.client()).request('chat.ListRooms', undefined, { id: '2' }),
  },
  refreshed: {
    run: async (stage) => (await stage.signedIn()).request('herald.Authenticate', { token: REFRESH_TICKET }, { id: '41' }),
  },
  'principal-changed': {
    run: async (stage) => (await stage.signedIn()).request('herald.Authenticate', { token: 'u-10077' }, { id: '42' }),
  },
  'token-expired': {
    run: async (stage) => lastGoodbye(await stage.client({ token: 'u-48213:ttl=300' })),
  },

  // §4.9 Subscribe, §4.10 Unsubscribe
  'presence-page': {
    run: async (stage) => {
      // Four diffs follow (three joins and a state), so the page is read at offset 1318.
      await stage.app.fill('team/42', 1314);
      const [ann, annAgain, bob, cat] = await Promise.all(['ann', 'ann', 'bob', 'cat'].map((token) => stage.client({ token })));
      for (const tester of [ann, annAgain, bob, cat]) await (tester as Tester).request('herald.Subscribe', { topic: 'team/42' });
      await (ann as Tester).request('herald.SetPresence', { topic: 'team/42', state: { status: 'away' } });
      return (ann as Tester).request('herald.Presence', { topic: 'team/42', limit: 2 }, { id: '21' });
    },
  },
  'presence-set': {
    run: async (stage) => {
      const ann = await stage.client({ token: 'ann' });
      await ann.request('herald.Subscribe', { topic: 'team/42' });
      return ann.request('herald.SetPresence', { topic: 'team/42', state: { status: 'away' } }, { id: '22' });
    },
  },
  'presence-leave': {
    run: async (stage) => {
      await stage.app.fill('team/42', 1316);
      const ann = await stage.client({ token: 'ann' });
      const bob = await stage.client({ token: 'bob' });
      await ann.request('herald.Subscribe', { topic: 'team/42' });
      await bob.request('herald.Subscribe', { topic: 'team/42' });
      await next(ann, topicFrame('team/42', 1318));
      await bob.request('herald.Unsubscribe', { topic: 'team/42' });
      return next(ann, topicFrame('team/42', 1319));
    },
  },
  'presence-count': {
    run: async (stage) => {
      const testers = await Promise.all(['ann', 'bob', 'cat'].map((token) => stage.client({ token })));
      for (const tester of testers) await tester.request('herald.Subscribe', { topic: 'lobby/all' });
      return next(testers[0] as Tester, and(withType('herald.PresenceCount'), withProperty('body.count', 3)));
    },
  },
  'subscribe-live': {
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 1318);
      return (await stage.signedIn()).request('herald.Subscribe', { topic: 'chat/room/42' }, { id: '3' });
    },
  },
  'subscribe-replayed': {
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 1316);
      await stage.app.post('42', 'u-10077', 'Morning');
      await stage.app.fill('chat/room/42', 1);
      const tester = await stage.signedIn();
      const { epoch } = (await tester.request('herald.Subscribe', { topic: 'chat/room/42' })).body as { epoch: string };
      tester.send({ kind: 'req', id: '11', type: 'herald.Subscribe', body: { topic: 'chat/room/42', since: { epoch, offset: 1316 } } });
      return next(tester, topicFrame('chat/room/42', 1317));
    },
  },
  'subscribe-recovered': {
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 1318);
      const tester = await stage.signedIn();
      const { epoch } = (await tester.request('herald.Subscribe', { topic: 'chat/room/42' })).body as { epoch: string };
      return tester.request('herald.Subscribe', { topic: 'chat/room/42', since: { epoch, offset: 1316 } }, { id: '11' });
    },
  },
  'subscribe-new-epoch': {
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 12);
      return (await stage.signedIn()).request('herald.Subscribe', { topic: 'chat/room/42', since: { epoch: 'e7Kq2', offset: 1316 } }, { id: '11' });
    },
  },
  'subscribe-forbidden': {
    run: async (stage) => (await stage.signedIn()).request('herald.Subscribe', { topic: 'chat/room/7' }, { id: '12' }),
  },
  'subscription-limit': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      for (let room = 1; room < 100; room++) await tester.request('herald.Subscribe', { topic: `chat/room/${room + 100}` });
      return tester.request('herald.Subscribe', { topic: 'chat/room/42' }, { id: '13' });
    },
  },
  unsubscribed: {
    run: async (stage) => {
      const tester = await stage.signedIn();
      await tester.request('herald.Subscribe', { topic: 'chat/room/42' });
      return tester.request('herald.Unsubscribe', { topic: 'chat/room/42' }, { id: '14' });
    },
  },

  // §4.11 Resume
  'resume-replayed-private': {
    run: async (stage) => {
      const { tester } = await resumedAfter(stage, () => stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'Are you free at 3?' }));
      return tester.log.find((m) => m.kind === 'notification' && m.seq === 58);
    },
  },
  'resume-replayed-topic': {
    run: async (stage) => {
      const { tester } = await resumedAfter(stage, () => stage.app.post('42', 'u-10077', 'Anyone?'));
      return tester.log.find((m) => m.kind === 'notification' && m.offset === 1321);
    },
  },
  'resume-recovered': {
    run: async (stage) => (await resumedAfter(stage, () => stage.app.post('42', 'u-10077', 'Anyone?'))).answer,
  },
  'resume-history-lost': {
    server: () => ({ broker: new MemoryBroker({ historySize: 1000 }) }),
    run: async (stage) => (await resumedAfter(stage, () => stage.app.fill('chat/room/42', 2950 - 1320))).answer,
  },
  'resume-unknown-session': {
    run: async (stage) => {
      const { positions } = await droppedSession(stage);
      await stage.app.fill('chat/room/42', 2950 - 1320);
      await stage.app.fill('$all', 3);
      return resume(await stage.signedIn(), { sessionId: 'KMU0WGCR5opSTq9E4AkvUA', seq: 57, topics: positions });
    },
  },
  'resume-too-late': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      await tester.request('herald.Subscribe', { topic: 'chat/room/42' });
      return tester.request('herald.Resume', { sessionId: 'KMU0WGCR5opSTq9E4AkvUA', seq: 0 }, { id: '9' });
    },
  },
  'resume-takes-over': {
    run: async (stage) => {
      const old = await stage.signedIn();
      const tester = await stage.signedIn();
      await resume(tester, { sessionId: old.welcome.sessionId, seq: 0, topics: {} });
      return lastGoodbye(old);
    },
  },

  // §4.12, §4.13, §6 server-side subscriptions
  'handler-subscribed': {
    run: async (stage) => {
      await stage.app.fill('brand/2134rfdsw2/skill/45', 5120);
      const tester = await stage.signedIn();
      await tester.request('ams.aam.SubscribeExConversations', agentConsoleRequest);
      return tester.waitFor(and(withType('herald.Subscribed'), withProperty('body.topic', 'brand/2134rfdsw2/skill/45')));
    },
  },
  'subscribe-ex-conversations': {
    run: async (stage) => (await stage.signedIn()).request('ams.aam.SubscribeExConversations', agentConsoleRequest, { id: '12' }),
  },
  'ring-waiting': { run: async (stage) => ringUpdate(stage, 'WAITING') },
  'ring-accepted': { run: async (stage) => ringUpdate(stage, 'ACCEPTED') },
  revoked: {
    run: async (stage) => {
      const tester = await stage.signedIn();
      await tester.request('ams.aam.SubscribeExConversations', agentConsoleRequest);
      stage.app.herald.unsubscribe(stage.app.agent as never, 'brand/2134rfdsw2/skill/45', 'revoked');
      return next(tester, withType('herald.Unsubscribed'));
    },
  },
  'resume-forbidden-topic': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      await resume(tester, { sessionId: 'KMU0WGCR5opSTq9E4AkvUA', seq: 0, topics: { 'chat/room/7': { epoch: 'e7Kq2', offset: 3 } } });
      return tester.waitFor(withType('herald.Unsubscribed'));
    },
  },

  // §4.14 TopicReset
  'topic-reset-lagging': {
    transports: ['long-poll'],
    server: () => ({ broker: new MemoryBroker({ historySize: 100 }), highWaterMark: 4096 }),
    run: async (stage) => {
      const lp = longPollHttp(stage.running.origin);
      const { body: opened } = await lp.open({ authorization: `Bearer ${JWT}` });
      await lp.send(opened.sid, [{ kind: 'req', id: '1', type: 'herald.Subscribe', body: { topic: 'chat/room/42' } }]);
      let cursor = 1;
      const frames: any[] = [];
      const pollOnce = async () => {
        const { body } = await lp.poll(opened.sid, cursor);
        frames.push(...body.messages);
        cursor = body.from + body.messages.length - 1;
      };
      while (!frames.some((m) => m.reqId === '1')) await pollOnce();
      // Not polling: the frames wait unacknowledged, the connection passes its high-water mark.
      await stage.app.fill('chat/room/42', 2050);
      while (!frames.some((m) => m.type === 'herald.TopicReset')) await pollOnce();
      return frames.find((m) => m.type === 'herald.TopicReset');
    },
  },
  'topic-reset-new-epoch': {
    server: () => ({ broker: new RestartableBroker() }),
    run: async (stage) => {
      await stage.app.fill('chat/room/42', 5);
      const tester = await stage.signedIn();
      await tester.request('herald.Subscribe', { topic: 'chat/room/42' });
      (stage.app.broker as RestartableBroker).restart();
      await stage.app.post('42', 'u-10077', 'after the restart');
      return tester.waitFor(withType('herald.TopicReset'));
    },
  },

  // §4.15 herald.Error
  'invalid-json': {
    run: async (stage) => protocolError(await stage.client(), '{"kind":"req",'),
  },
  'binary-frame': {
    transports: ['websocket'],
    run: async (stage) => protocolError(await stage.client(), new Uint8Array([1, 2, 3])),
  },
  'unknown-kind': {
    run: async (stage) => protocolError(await stage.client(), '{"kind":"event","type":"chat.MessagePosted"}'),
  },
  'too-large': {
    run: async (stage) => protocolError(await stage.client(), JSON.stringify({ kind: 'ping', pad: 'x'.repeat(70_000) })),
  },
  'too-deep': {
    run: async (stage) => protocolError(await stage.client(), '{"kind":"ping","x":' + '['.repeat(40) + ']'.repeat(40) + '}'),
  },

  // §4.16 Goodbye, §10 browser refusals
  'shutting-down': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      void stage.app.herald.close();
      return lastGoodbye(tester);
    },
  },
  'operator-disconnect': {
    run: async (stage) => {
      const tester = await stage.signedIn();
      stage.app.herald.inspection().disconnect(tester.welcome.sessionId);
      return lastGoodbye(tester);
    },
  },
  'auth-deadline': {
    server: () => ({ limits: { authDeadlineMs: 300 } }),
    run: async (stage) => lastGoodbye(await stage.client()),
  },
  flood: {
    run: async (stage) => {
      const tester = await stage.signedIn();
      for (let n = 0; n < 5000 && tester.closeInfo === undefined; n++) {
        tester.send({ kind: 'ping' });
        if (n % 50 === 0) await sleep(1);
      }
      return lastGoodbye(tester);
    },
  },
  'slow-consumer': {
    server: () => ({ limits: { replayWindow: 5 } }),
    run: async (stage) => {
      const tester = await stage.signedIn();
      // The first is held until the session cannot be resumed any more (1 s), then the rest overflow the window.
      await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'unread' });
      await tester.waitFor(withProperty('seq', 1));
      for (let n = 0; n < 5; n++) await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'unread' });
      return lastGoodbye(tester);
    },
  },
  'keep-alive-timeout': {
    transports: ['websocket'],
    server: () => ({ limits: { pingIntervalMs: 200, pingTimeoutMs: 200 } }),
    run: async (stage) => lastGoodbye(await stage.client({ autoPong: false, token: TICKET, headers: { origin: stage.running.origin } })),
  },
  'browser-foreign-origin': {
    transports: ['websocket'],
    run: async (stage) => lastGoodbye(await stage.client({ headers: { origin: 'https://evil.example.net' }, skipWelcome: true })),
  },
  'browser-no-subprotocol': {
    transports: ['websocket'],
    run: async (stage) => lastGoodbye(await stage.client({ protocols: ['chat'], headers: { origin: stage.running.origin }, skipWelcome: true })),
  },

  // §6 broadcast and send-to-user
  broadcast: {
    run: async (stage) => {
      await stage.app.fill('$all', 88);
      const tester = await stage.signedIn();
      await tester.waitFor(withType('herald.Subscribed'));
      await stage.app.herald.publish('$all', 'ops.MaintenanceScheduled', { startsAt: 1794828600000, durationMinutes: 15 });
      return tester.waitFor(topicFrame('$all', 89));
    },
  },
  'send-to-user-laptop': {
    run: async (stage) => {
      await stage.signedIn();
      for (let n = 0; n < 55; n++) await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'earlier' });
      const laptop = await stage.signedIn();
      for (let n = 0; n < 2; n++) await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'earlier' });
      await stage.app.herald.sendToUser(USER, 'chat.DirectMessage', { from: 'u-10077', text: 'Are you free at 3?' });
      return laptop.waitFor(withProperty('seq', 3));
    },
  },

  // §10 native refusals (the long-poll open refuses the same way)
  'upgrade-invalid-token': {
    run: async (stage) => stage.refusal({ headers: { authorization: 'Bearer tk_WRONG' } }),
  },
  'upgrade-no-subprotocol': {
    run: async (stage) => stage.refusal({ protocols: ['herald.v2'] }),
  },
  'upgrade-rate-limited': {
    server: () => ({ upgradeRateLimit: { perSecond: 1 / 60, burst: 1 } }),
    run: async (stage) => {
      await stage.client();
      return stage.refusal({});
    },
  },

  // §11 long-poll answers
  'long-poll-open': {
    transports: ['long-poll'],
    run: async (stage) => longPollHttp(stage.running.origin).open({ authorization: `Bearer ${JWT}` }),
  },
  'long-poll-poll': {
    transports: ['long-poll'],
    run: async (stage) => {
      await stage.app.fill('room/lobby', 40);
      const lp = longPollHttp(stage.running.origin);
      const { body: opened } = await lp.open({ authorization: 'Bearer alice' });
      await lp.send(opened.sid, [{ kind: 'req', id: 's', type: 'herald.Subscribe', body: { topic: 'room/lobby' } }]);
      // Cursors 1 to 3: the Welcome, herald.Subscribed for $all, the Subscribe response.
      while ((await lp.poll(opened.sid, 1)).body.messages.length < 2);
      await lp.send(opened.sid, [{ kind: 'req', id: '1', type: 'chat.Send', body: { room: 'lobby', text: 'hi' } }, { kind: 'ack', seq: 12 }]);
      while ((await lp.poll(opened.sid, 3)).body.messages.length < 2);
      return lp.poll(opened.sid, 3);
    },
  },
};

const agentConsoleRequest = { brandId: '2134rfdsw2', agentIds: ['2134rfdsw2.3318207'], convState: ['OPEN'], skills: ['45'] };

async function ringUpdate(stage: Stage, ringState: string) {
  await stage.app.fill('brand/2134rfdsw2/skill/45', ringState === 'WAITING' ? 5120 : 5121);
  const tester = await stage.signedIn();
  await tester.request('ams.aam.SubscribeExConversations', agentConsoleRequest);
  const ring = { ringId: 'c692b037-03bf-42c4-9c8f-29832e5d9d8c', ringExpiration: 1794821415000, ringState, weight: 0, brandId: '2134rfdsw2' };
  const conversation = { convId: 'a9961e6d-281c-4c68-9335-0de8c10f5ccf', consumerId: 'a27eb8e3-3919-46ee-ba29-f8d3d992c385', skillId: '45' };
  await stage.app.herald.publish('brand/2134rfdsw2/skill/45', 'ams.routing.RingUpdated', { ...ring, ...conversation });
  return tester.waitFor(withProperty('type', 'ams.routing.RingUpdated'));
}

function protocolError(tester: Tester, frame: string | Uint8Array) {
  tester.send(frame);
  return next(tester, withType('herald.Error'));
}

const examples = readSpecExamples(new URL('../../../PROTOCOL.md', import.meta.url));

describe('PROTOCOL.md examples', () => {
  it('marks every example of what a server sends with the scenario that reproduces it', () => {
    const unmarked = examples.filter((e) => e.scenario === undefined && e.notReproduced === undefined);
    expect(unmarked.map((e) => `line ${e.line} (${e.heading})`)).toEqual([]);
    const unknown = examples.filter((e) => e.scenario !== undefined && !(e.scenario in scenarios));
    expect(unknown.map((e) => `line ${e.line}: ${e.scenario}`)).toEqual([]);
    const used = new Set(examples.map((e) => e.scenario));
    expect(Object.keys(scenarios).filter((name) => !used.has(name))).toEqual([]);
  });

  for (const transport of ['websocket', 'long-poll'] as const) {
    describe(transport, () => {
      let running: Running | undefined;
      let testers: Tester[] = [];
      afterEach(async () => {
        for (const tester of testers) if (tester.closeInfo === undefined) await tester.close();
        testers = [];
        await running?.stop();
        running = undefined;
      });

      for (const example of examples.filter((e) => e.scenario !== undefined)) {
        const scenario = scenarios[example.scenario as string];
        if (scenario === undefined || !(scenario.transports ?? ['websocket', 'long-poll']).includes(transport)) continue;
        it(`line ${example.line} (${example.heading}): ${example.scenario}`, { timeout: 60_000 }, async () => {
          const app = createSpecApp(scenario.server?.());
          running = await serve(app);
          const origin = running.origin;
          const url = transport === 'websocket' ? `${origin.replace('http', 'ws')}/ws` : `${origin}/lp`;
          const client = async (options: ConnectOptions = {}) => {
            const tester = await connect(url, { timeoutMs: PATIENCE_MS, ...options, ...(transport === 'long-poll' ? { WebSocket: LongPollWebSocket } : {}) });
            testers.push(tester);
            return tester;
          };
          const stage: Stage = {
            transport,
            app,
            running,
            client,
            signedIn: (options = {}) => client({ token: TICKET, ...options }),
            refusal: async ({ headers = {}, protocols = ['herald.v1'] }) => {
              if (transport === 'websocket') {
                const { status, headers: answered, body } = await upgradeRefusal(url, { headers, protocols });
                return { status, headers: answered, body };
              }
              const response = await fetch(url, { method: 'POST', headers: { ...headers, 'herald-protocol': protocols.join(', ') } });
              return { status: response.status, headers: headersOf(response), body: await response.json() };
            },
          };
          const actual = await scenario.run(stage);
          expect(differences(example.shows, actual), JSON.stringify(actual)).toEqual([]);
        });
      }
    });
  }
});
