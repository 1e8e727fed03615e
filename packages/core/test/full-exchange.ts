/**
 * The full exchange, in memory and without a test framework, so the same file runs under
 * vitest (Node), Bun and Deno: open → authenticate → request/response → subscribe →
 * notifications → ack → drop → resume → recovered.
 */
import { createHerald, HeraldError, MemoryBroker, type Envelope, type NotificationMessage, type ResponseMessage } from '../src/index.ts';
import { connectMemory, ManualClock, type MemorySocket } from '../src/testing/index.ts';
import { chat } from './chat-contract.ts';

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error('full exchange: ' + message);
}

const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function waitFor<T extends Envelope>(socket: MemorySocket, match: (e: Envelope) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 100; i++) {
    const found = socket.received.find(match);
    if (found !== undefined) return found as T;
    await tick();
  }
  throw new Error(`full exchange: no ${what}; received ${JSON.stringify(socket.received.slice(-5))}`);
}

const response = (id: string) => (e: Envelope) => e.kind === 'resp' && e.reqId === id;
const notification = (type: string) => (e: Envelope) => e.kind === 'notification' && e.type === type;

export async function runFullExchange(): Promise<string[]> {
  const steps: string[] = [];
  const clock = new ManualClock();
  let counted = 0;
  const herald = createHerald({
    contract: chat,
    clock,
    broker: new MemoryBroker(),
    authenticate: (token) => (token.startsWith('user:') ? { userId: token.slice(5), expiresAt: clock.now() + 3_600_000 } : null),
    canSubscribe: (topic) => topic.startsWith('room/'),
    handlers: {
      'chat.Join': async ({ room }, ctx) => ({ topic: `room/${room}`, ...(await ctx.subscribe(`room/${room}`)) }),
      'chat.Send': async ({ room, text }, ctx) => {
        const { offset } = await ctx.herald.publish(`room/${room}`, 'chat.Message', { room, text, from: ctx.userId });
        return { offset };
      },
      'chat.Whisper': async ({ to, text }, ctx) => {
        await ctx.herald.sendToUser(to, 'chat.Whispered', { from: ctx.userId, text });
        return { sent: true };
      },
      'chat.Count': () => ({ calls: ++counted }),
      'chat.Fail': () => {
        throw new HeraldError(403, 'not_allowed', 'nope');
      },
    },
  });

  // open: the Welcome announces the session and its limits; the client is a browser-like one.
  const alice = await connectMemory(herald);
  const welcome = alice.received[0] as NotificationMessage<string, { sessionId: string; authenticated: boolean; limits: { replayWindow: number } }>;
  check(welcome.type === 'herald.Welcome' && welcome.body?.authenticated === false, 'welcome first, unauthenticated');
  const sessionId = welcome.body.sessionId;
  check(sessionId.length === 22, 'session id of 22 characters');
  steps.push('open');

  // requests before authentication are refused; then in-session authentication.
  alice.deliver({ kind: 'req', id: 'a0', type: 'chat.Count', body: {} });
  check((await waitFor<ResponseMessage>(alice, response('a0'), 'a0')).code === 401, 'request before auth gets 401');
  alice.deliver({ kind: 'req', id: 'a1', type: 'herald.Authenticate', body: { token: 'user:alice' } });
  const auth = await waitFor<ResponseMessage<string, { userId: string }>>(alice, response('a1'), 'auth response');
  check(auth.code === 200 && auth.body?.userId === 'alice', 'authenticated as alice');
  steps.push('authenticate');

  // request/response, and a retried id answered from the cache without running twice.
  alice.deliver({ kind: 'req', id: 'a2', type: 'chat.Count', body: {} });
  alice.deliver({ kind: 'req', id: 'a2', type: 'chat.Count', body: {} });
  await waitFor(alice, response('a2'), 'a2');
  await tick();
  const counts = alice.received.filter(response('a2')) as ResponseMessage<string, { calls: number }>[];
  check(counts.length === 2 && counts.every((r) => r.body?.calls === 1) && counted === 1, 'duplicate answered from cache');
  alice.deliver({ kind: 'req', id: 'a3', type: 'chat.Fail' });
  check((await waitFor<ResponseMessage>(alice, response('a3'), 'a3')).code === 403, 'HeraldError becomes its status');
  steps.push('request/response');

  // subscribe (server-side, through a handler) and get topic notifications.
  alice.deliver({ kind: 'req', id: 'a4', type: 'chat.Join', body: { room: 'lobby' } });
  await waitFor(alice, response('a4'), 'join');
  const bob = await connectMemory(herald, { authorization: 'Bearer user:bob' });
  check((bob.received[0] as NotificationMessage<string, { authenticated: boolean }>).body?.authenticated === true, 'bob authenticated at upgrade');
  bob.deliver({ kind: 'req', id: 'b1', type: 'chat.Send', body: { room: 'lobby', text: 'hello' } });
  const message = await waitFor<NotificationMessage>(alice, notification('chat.Message'), 'chat message');
  check(message.topic === 'room/lobby' && message.offset === 1, 'topic notification with offset 1');
  const epoch = await epochOf(alice, 'room/lobby');
  steps.push('subscribe/notify');

  // private notifications carry seq; alice acks the first.
  bob.deliver({ kind: 'req', id: 'b2', type: 'chat.Whisper', body: { to: 'alice', text: 'one' } });
  const first = await waitFor<NotificationMessage>(alice, notification('chat.Whispered'), 'whisper');
  check(first.seq === 1, 'private seq 1');
  alice.deliver({ kind: 'ack', seq: 1 });
  steps.push('ack');

  // the connection drops; meanwhile a whisper and a room message are sent.
  alice.drop();
  bob.deliver({ kind: 'req', id: 'b3', type: 'chat.Whisper', body: { to: 'alice', text: 'two' } });
  bob.deliver({ kind: 'req', id: 'b4', type: 'chat.Send', body: { room: 'lobby', text: 'while you were away' } });
  await waitFor(bob, response('b4'), 'b4');
  check(herald.stats.connections === 1 && herald.stats.sessions === 2, 'alice detached, not destroyed');
  steps.push('drop');

  // a new connection resumes the old session: the missed whisper and room message arrive.
  const again = await connectMemory(herald);
  again.deliver({ kind: 'req', id: 'r1', type: 'herald.Authenticate', body: { token: 'user:alice' } });
  await waitFor(again, response('r1'), 'reauth');
  again.deliver({
    kind: 'req',
    id: 'r2',
    type: 'herald.Resume',
    body: { sessionId, seq: 1, topics: { 'room/lobby': { epoch, offset: 1 } } },
  });
  const resumed = await waitFor<ResponseMessage<string, { sessionId: string; recovered: boolean }>>(again, response('r2'), 'resume');
  check(resumed.code === 200 && resumed.body?.recovered === true && resumed.body.sessionId === sessionId, 'resumed with recovered: true');
  const replayed = again.received.filter((e) => e.kind === 'notification' && (e.seq !== undefined || e.topic === 'room/lobby'));
  check(replayed.length === 2, `two replayed notifications, got ${JSON.stringify(replayed)}`);
  const whisper = replayed.find((e) => (e as NotificationMessage).seq === 2) as NotificationMessage<string, { text: string }> | undefined;
  const missed = replayed.find((e) => (e as NotificationMessage).offset === 2) as NotificationMessage<string, { text: string }> | undefined;
  check(whisper?.body?.text === 'two' && missed?.body?.text === 'while you were away', 'the missed messages, once each');
  const order = again.received.indexOf(resumed);
  check(again.received.indexOf(whisper) < order && again.received.indexOf(missed) < order, 'replay precedes the response');

  // the retried request id is still answered from the cache after the resume.
  again.deliver({ kind: 'req', id: 'a2', type: 'chat.Count', body: {} });
  const retried = (await waitFor<ResponseMessage<string, { calls: number }>>(again, response('a2'), 'retry')).body;
  check(retried?.calls === 1 && counted === 1, 'retry after resume not run twice');
  steps.push('resume recovered');

  await herald.close();
  check(bob.closedWith?.code === 4503, 'graceful shutdown closes with 4503');
  steps.push('shutdown');
  return steps;
}

/** A topic's epoch, read the way a client would: from the `herald.Subscribed` notification. */
async function epochOf(socket: MemorySocket, topic: string): Promise<string> {
  const subscribed = await waitFor<NotificationMessage<string, { topic: string; epoch: string }>>(
    socket,
    (e) => e.kind === 'notification' && e.type === 'herald.Subscribed' && (e.body as { topic?: string }).topic === topic,
    'subscribed',
  );
  return subscribed.body?.epoch ?? '';
}
