import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TOPIC_PATTERN } from './codec.ts';
import { SystemType } from './constants.ts';
import { defineContract } from './contract.ts';
import { envelopeJsonSchema, systemBodyJsonSchemas, type JsonSchema } from './envelope-schema.ts';
import { HeraldError } from './errors.ts';
import { MemoryBroker } from './memory-broker.ts';
import { createHerald } from './server.ts';
import { readSystemBody } from './system-bodies.ts';
import { ManualClock, MemorySocket, upgradeRequest } from './testing/index.ts';

const ajv = new Ajv2020({ allowUnionTypes: true });
const compiled = new Map<JsonSchema, ReturnType<typeof ajv.compile>>();
function validator(schema: JsonSchema) {
  let validate = compiled.get(schema);
  if (validate === undefined) compiled.set(schema, (validate = ajv.compile(schema)));
  return validate;
}
function expectValid(schema: JsonSchema | undefined, value: unknown, what: string): void {
  expect(schema, `a schema for ${what}`).toBeDefined();
  const validate = validator(schema as JsonSchema);
  expect(validate(value), `${what}: ${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`).toBe(true);
}

describe('the JSON Schemas', () => {
  it('compile under draft 2020-12', () => {
    const all = [
      envelopeJsonSchema,
      systemBodyJsonSchemas.error,
      ...Object.values(systemBodyJsonSchemas.requests),
      ...Object.values(systemBodyJsonSchemas.responses),
      ...Object.values(systemBodyJsonSchemas.notifications),
    ];
    for (const schema of all) expect(() => validator(schema)).not.toThrow();
  });

  it('cover every reserved request and notification type', () => {
    expect(Object.keys(systemBodyJsonSchemas.requests).sort()).toEqual([
      'herald.Authenticate',
      'herald.Presence',
      'herald.Resume',
      'herald.SetPresence',
      'herald.Subscribe',
      'herald.Unsubscribe',
    ]);
    expect(Object.keys(systemBodyJsonSchemas.responses).sort()).toEqual(Object.keys(systemBodyJsonSchemas.requests).sort());
    const notifications = Object.values(SystemType).filter((t) => !(t in systemBodyJsonSchemas.requests));
    expect(Object.keys(systemBodyJsonSchemas.notifications).sort()).toEqual(notifications.sort());
  });

  it('tell server envelopes apart: a notification carries topic with offset, or seq, never both', () => {
    const valid = validator(envelopeJsonSchema);
    expect(valid({ kind: 'notification', type: 't', topic: 'a', offset: 1 })).toBe(true);
    expect(valid({ kind: 'notification', type: 't', seq: 1 })).toBe(true);
    expect(valid({ kind: 'notification', type: 't', topic: 'a' })).toBe(false);
    expect(valid({ kind: 'notification', type: 't', offset: 1 })).toBe(false);
    expect(valid({ kind: 'notification', type: 't', topic: 'a', offset: 1, seq: 1 })).toBe(false);
    expect(valid({ kind: 'notification', type: 't', seq: 0 })).toBe(false);
    expect(valid({ kind: 'resp', reqId: '1', type: 't', code: 600 })).toBe(false);
  });
});

/** Every frame a real server sends, checked against the published schemas. */
describe('frames a server sends validate against the schemas', () => {
  const contract = defineContract({
    requests: {
      'test.Join': { request: z.object({ topic: z.string() }), response: z.object({}) },
      'test.Kick': { request: z.object({ topic: z.string() }), response: z.object({}) },
      'test.Fail': { request: z.object({ n: z.number() }), response: z.object({}) },
    },
    notifications: { 'test.Said': { body: z.object({ n: z.number() }) } },
  });

  class RecordingSocket extends MemorySocket {
    readonly frames: string[] = [];
    override send(frame: string): void {
      if (this.closedWith === undefined) this.frames.push(frame);
      super.send(frame);
    }
  }

  const flush = async () => {
    for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };

  it('over a session that exercises every kind of answer', async () => {
    const clock = new ManualClock();
    const herald = createHerald({
      contract,
      clock,
      broker: new MemoryBroker({ historySize: 1 }),
      highWaterMark: 100,
      authenticate: (token) => (token === 'alice' ? { userId: 'alice', expiresAt: clock.now() + 3_600_000 } : null),
      canSubscribe: (topic) => topic.startsWith('room/'),
      handlers: {
        'test.Join': async ({ topic }, ctx) => (await ctx.subscribe(topic), {}),
        'test.Kick': ({ topic }, ctx) => (ctx.unsubscribe(topic), {}),
        'test.Fail': ({ n }) => {
          throw new HeraldError(409, 'custom_reason', `n=${n}`);
        },
      },
      onError: () => {},
    });
    const sockets: RecordingSocket[] = [];
    const requests = new Map<string, string>();
    const open = async (headers: Record<string, string> = {}) => {
      const socket = new RecordingSocket();
      sockets.push(socket);
      const decision = await herald.upgrade(upgradeRequest(headers));
      if (!decision.ok) throw new Error(decision.body.message);
      socket.connection = herald.open(socket, decision);
      await flush();
      return socket;
    };
    const request = async (socket: MemorySocket, id: string, type: string, body?: unknown) => {
      requests.set(id, type);
      socket.deliver(body === undefined ? { kind: 'req', id, type } : { kind: 'req', id, type, body });
      await flush();
    };

    const alice = await open();
    await request(alice, 'a0', 'test.Join', { topic: 'room/1' });
    await request(alice, 'a1', 'herald.Authenticate', { token: 'wrong' });
    await request(alice, 'a2', 'herald.Authenticate', { token: 'alice' });
    await request(alice, 'a3', 'test.Join', { topic: 'room/1' });
    const { epoch } = await herald.publish('room/1', 'test.Said', { n: 1 });
    await request(alice, 'a4', 'herald.Subscribe', { topic: 'room/2', since: { epoch, offset: 0 } });
    await request(alice, 'a5', 'herald.Subscribe', { topic: 'room/2' });
    await request(alice, 'a6', 'herald.Subscribe', { topic: 'secret' });
    await request(alice, 'a7', 'herald.Unsubscribe', { topic: 'room/2' });
    await request(alice, 'a8', 'test.Kick', { topic: 'room/1' });
    await request(alice, 'a9', 'test.Fail', { n: 1 });
    await request(alice, 'a10', 'test.Fail', { n: 'x' });
    await request(alice, 'a11', 'test.Nope', {});
    await request(alice, 'a12', 'herald.Subscribe', { topic: 'bad topic' });
    await request(alice, 'a13', 'herald.Resume', { sessionId: 'x', seq: 0 });
    alice.deliver('not json');
    alice.deliver(new Uint8Array([1]));
    alice.deliver({ kind: 'ping' });
    await request(alice, 'a14', 'test.Join', { topic: 'room/3' });
    alice.bufferedAmount = 1_000;
    for (let n = 1; n <= 3; n++) await herald.publish('room/3', 'test.Said', { n });
    alice.bufferedAmount = 0;
    alice.connection?.drained();
    await herald.sendToUser('alice', 'test.Said', { n: 1 });
    await herald.broadcast('test.Said', { n: 2 });
    clock.advance(25_000);
    await flush();
    alice.drop();
    const again = await open({ authorization: 'Bearer alice' });
    await request(again, 'r1', 'herald.Resume', { sessionId: (JSON.parse(alice.frames[0] as string) as { body: { sessionId: string } }).body.sessionId, seq: 0, topics: { 'room/3': { epoch, offset: 0 } } });
    const late = await open();
    clock.advance(10_000);
    await herald.close();
    expect(late.closedWith?.code).toBe(4401);

    const kinds = new Set<string>();
    for (const frame of sockets.flatMap((socket) => socket.frames)) {
      const envelope = JSON.parse(frame) as { kind: string; type?: string; reqId?: string; code?: number; body?: unknown };
      expectValid(envelopeJsonSchema, envelope, 'envelope');
      if (envelope.kind === 'notification' && envelope.type?.startsWith('herald.')) {
        kinds.add(envelope.type);
        expectValid(systemBodyJsonSchemas.notifications[envelope.type], envelope.body, envelope.type);
      }
      if (envelope.kind === 'resp') {
        const type = requests.get(envelope.reqId ?? '') ?? '';
        kinds.add(`${type} ${envelope.code}`);
        if (envelope.code !== 200) expectValid(systemBodyJsonSchemas.error, envelope.body, `${type} ${envelope.code}`);
        else if (type.startsWith('herald.')) expectValid(systemBodyJsonSchemas.responses[type], envelope.body, `${type} 200`);
      }
    }
    expect([...kinds].sort()).toEqual(
      [
        'herald.Welcome',
        'herald.Subscribed',
        'herald.Unsubscribed',
        'herald.TopicReset',
        'herald.Error',
        'herald.Goodbye',
        'herald.Authenticate 200',
        'herald.Authenticate 401',
        'herald.Subscribe 200',
        'herald.Subscribe 400',
        'herald.Subscribe 403',
        'herald.Unsubscribe 200',
        'herald.Resume 200',
        'herald.Resume 409',
        'test.Join 200',
        'test.Join 401',
        'test.Kick 200',
        'test.Fail 400',
        'test.Fail 409',
        'test.Nope 404',
      ].sort(),
    );
  });
});

// ---- readSystemBody agrees with systemBodyJsonSchemas.requests ------------------------------------

const topic = fc.stringMatching(TOPIC_PATTERN);
const position = fc.record({ epoch: fc.string({ minLength: 1, maxLength: 64 }), offset: fc.nat() });
const validBodies: Record<string, fc.Arbitrary<Record<string, unknown>>> = {
  'herald.Authenticate': fc.record({ token: fc.string({ minLength: 1, maxLength: 100 }) }),
  'herald.Subscribe': fc.record({ topic, since: position }, { requiredKeys: ['topic'] }),
  'herald.Unsubscribe': fc.record({ topic }),
  'herald.Resume': fc.record(
    { sessionId: fc.string({ minLength: 1, maxLength: 64 }), seq: fc.nat(), topics: fc.dictionary(topic, position, { maxKeys: 3 }) },
    { requiredKeys: ['sessionId', 'seq'] },
  ),
};
const tricky: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('', 'x', 'a b', 'room/1', -1, 0, 1.5, 2 ** 53, null, true, [], {}, { epoch: 'e' }, { epoch: '', offset: 0 }, { epoch: 'e', offset: -1 }),
  fc.string({ minLength: 60, maxLength: 70 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const nearValid = fc
  .constantFrom(...Object.keys(validBodies))
  .chain((type) =>
    fc.tuple(
      fc.constant(type),
      (validBodies[type] as fc.Arbitrary<Record<string, unknown>>).chain((body) =>
        fc
          .array(fc.record({ field: fc.constantFrom('token', 'topic', 'since', 'sessionId', 'seq', 'topics'), value: fc.option(tricky, { nil: undefined }) }), {
            maxLength: 2,
          })
          .map((changes) => {
            const changed: Record<string, unknown> = { ...body };
            for (const { field, value } of changes) {
              if (value === undefined) delete changed[field];
              else changed[field] = value;
            }
            return changed;
          }),
      ),
    ),
  );

describe('readSystemBody agrees with systemBodyJsonSchemas.requests', () => {
  const agree = (type: string, body: unknown) => {
    const schema = systemBodyJsonSchemas.requests[type] as JsonSchema;
    const server = readSystemBody(type, body).ok;
    expect(server, `${type} ${JSON.stringify(body).slice(0, 120)}: readSystemBody ${server}, schema ${!server}`).toBe(validator(schema)(body));
  };

  it('on valid and near-valid bodies (property)', () => {
    fc.assert(
      fc.property(nearValid, ([type, body]) => agree(type, body)),
      { numRuns: 1000 },
    );
  });

  it('on a token longer than the server reads (4096 characters)', () => {
    agree('herald.Authenticate', { token: 'x'.repeat(5000) });
  });

  it('on a Resume whose topics are keyed by something that is not a topic name', () => {
    agree('herald.Resume', { sessionId: 's', seq: 0, topics: { 'not a topic': { epoch: 'e', offset: 0 } } });
  });
});
