/**
 * What presence costs (bench scenario 12), in one process with no network: 10,000 sessions on a
 * topic, each a socket that only counts what it is sent.
 *
 * - join fan-out: one more user joins a members-mode topic of 10,000 members, and its
 *   `herald.PresenceDiff` reaches all of them; against one `herald.publish` to the same 10,000
 *   (the diff is a publish plus a store call).
 * - count-only: subscribing 10,000 sessions to a count-only topic, against 10,000 subscriptions
 *   to a topic without presence; and one `herald.PresenceCount` push to the 10,000.
 *
 * Prints one line of JSON with the per-round figures.
 *
 *   node --conditions=@herald/source --import tsx src/presence.ts [--smoke]
 */
import { createHerald, defineContract, type Herald, type HeraldSocket, type SessionHandle } from '@herald/core';
import { z } from 'zod';

const smoke = process.argv.includes('--smoke');
const MEMBERS = smoke ? 200 : 10_000;
const ROUNDS = smoke ? 3 : 15;

const contract = defineContract({
  requests: {},
  notifications: { 'bench.Tick': { body: z.object({ n: z.number() }) } },
  topics: {
    'members/{n}': { notifications: ['bench.Tick'], presence: 'members' },
    'count/{n}': { notifications: ['bench.Tick'], presence: 'count' },
    'plain/{n}': { notifications: ['bench.Tick'] },
  },
});
type Bench = typeof contract;

let frames = 0;
const socket: HeraldSocket = { send: () => void frames++, close: () => {}, bufferedAmount: 0 };

function server(): Herald<Bench> {
  return createHerald({ contract, handlers: {}, subscribeToBroadcast: false, limits: { maxSessionsPerPrincipal: 1e6, maxConnectionsPerAddress: 1e6 } });
}

function sessions(herald: Herald<Bench>, count: number, prefix: string): SessionHandle[] {
  return Array.from({ length: count }, (_, i) => herald.open(socket, { ok: true, protocol: 'herald.v1', client: 'native', principal: { userId: `${prefix}${i}` } }).session);
}

/** Lets the store calls and the publishes they start settle (all in memory: a few turns). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

async function until(count: number): Promise<void> {
  while (frames < count) await new Promise<void>((resolve) => setImmediate(resolve));
}

const joinMs: number[] = [];
const publishMs: number[] = [];
const countSubscribeMs: number[] = [];
const plainSubscribeMs: number[] = [];
const countPushMs: number[] = [];

const members = server();
const topic = 'members/1';
// Count mode first: joining 10,000 one by one on a members-mode topic sends each join to every member before it (n²/2 frames).
for (const session of sessions(members, MEMBERS, 'm')) await members.subscribe(session, topic);
await settle();
for (let round = 0; round < ROUNDS; round++) {
  const [newcomer] = sessions(members, 1, `new${round}-`) as [SessionHandle];
  // Interleaved: a join, then a publish, then the next round.
  let start = performance.now();
  // The newcomer's herald.Subscribed, then the diff to every member (the newcomers before it and itself too).
  let goal = frames + 1 + MEMBERS + round + 1;
  await members.subscribe(newcomer, topic);
  await until(goal);
  joinMs.push(performance.now() - start);
  start = performance.now();
  goal = frames + MEMBERS + round + 1;
  await members.publish(topic, 'bench.Tick', { n: round });
  await until(goal);
  publishMs.push(performance.now() - start);
}
await members.close();

for (let round = 0; round < Math.max(1, Math.floor(ROUNDS / 3)); round++) {
  const herald = server();
  const counted = sessions(herald, MEMBERS, 'c');
  const plain = sessions(herald, MEMBERS, 'p');
  // Alternating which goes first.
  const order = round % 2 === 0 ? (['count', 'plain'] as const) : (['plain', 'count'] as const);
  for (const kind of order) {
    const list = kind === 'count' ? counted : plain;
    const start = performance.now();
    for (const session of list) await herald.subscribe(session, `${kind}/${round}`);
    await settle();
    (kind === 'count' ? countSubscribeMs : plainSubscribeMs).push(performance.now() - start);
  }
  // The sweep pushes the count to every subscriber of the topic: one encode, MEMBERS sends.
  const start = performance.now();
  const goal = frames + MEMBERS;
  (herald as unknown as { sweep(): void }).sweep();
  await until(goal);
  countPushMs.push(performance.now() - start);
  await herald.close();
}

console.log(JSON.stringify({ members: MEMBERS, joinMs, publishMs, countSubscribeMs, plainSubscribeMs, countPushMs }));
