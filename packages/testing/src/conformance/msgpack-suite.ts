/**
 * `herald.v1.msgpack` from outside (PROTOCOL.md, "Binary frames"): the same session in binary
 * frames, the same answers to bad input, one publication reaching JSON and MessagePack
 * subscribers alike, and a session resumed across encodings. Every WebSocket transport runs it.
 */
import { MSGPACK_PROTOCOL_NAME, type NotificationMessage } from '@herald/core';
import { msgpack } from '@herald/core/msgpack';
import { afterEach, describe, expect, it } from 'vitest';
import { withProperty, withType } from '../matchers.ts';
import { parseAnswers, rawExchange, upgradeRequest } from '../node/raw-http.ts';
import { connect, type ConnectOptions, type Tester } from '../tester.ts';
import { conformanceDocument, conformanceLimits, conformanceShapes, createConformanceHerald } from './app.ts';
import { deltaBodies } from './delta-bodies.ts';
import type { ConformanceTarget, StartedServer } from './suite.ts';

const codec = msgpack();

/** Registers the `herald.v1.msgpack` cases for a WebSocket transport (called by `describeConformance`). */
export function describeMsgpackConformance(target: ConformanceTarget): void {
  describe(`herald.v1.msgpack conformance: ${target.name}`, () => {
    let server: StartedServer | undefined;
    let testers: Tester[] = [];

    afterEach(async () => {
      for (const tester of testers) if (tester.closeInfo === undefined) tester.drop();
      testers = [];
      await server?.stop();
      server = undefined;
    });

    async function boot(): Promise<void> {
      server = await target.start(createConformanceHerald({}, target.engine?.()));
    }

    async function client(options: ConnectOptions = {}): Promise<Tester> {
      const tester = await connect((server as StartedServer).url, { codec, ...options });
      testers.push(tester);
      return tester;
    }

    it('negotiates herald.v1.msgpack: the same Welcome, every server frame binary', async () => {
      await boot();
      const ann = await client({ token: 'user:ann' });
      expect((ann.socket as { protocol?: string }).protocol).toBe(MSGPACK_PROTOCOL_NAME);
      expect(ann.welcome).toMatchObject({ protocol: 'herald.v1', limits: conformanceLimits });
      expect(await ann.request('conf.Echo', { text: 'héllo 👋' })).toEqual({ kind: 'resp', reqId: 't2', type: 'conf.Echo', code: 200, body: { text: 'héllo 👋' } });
      expect(ann.frameTypes.length).toBeGreaterThanOrEqual(3);
      expect(new Set(ann.frameTypes)).toEqual(new Set(['binary']));
      expect(ann.invalid).toEqual([]);
    });

    it('selects the encoding the client offers first', async () => {
      await boot();
      const url = new URL((server as StartedServer).url);
      // A raw handshake: the list as browsers send it (`ws` joins it without spaces, which Deno cannot read).
      const selected = async (offered: string) => {
        const { received } = await rawExchange(Number(url.port), upgradeRequest(url.pathname, url.host, { 'sec-websocket-protocol': offered }), {
          until: (data) => data.includes('\r\n\r\n'),
        });
        const answer = parseAnswers(received.toString('latin1'), new Set([101])).answers[0];
        return [answer?.status, answer?.headers['sec-websocket-protocol']];
      };
      expect(await selected(`${MSGPACK_PROTOCOL_NAME}, herald.v1`)).toEqual([101, MSGPACK_PROTOCOL_NAME]);
      expect(await selected(`herald.v1, ${MSGPACK_PROTOCOL_NAME}`)).toEqual([101, 'herald.v1']);
      const text = await connect((server as StartedServer).url);
      testers.push(text);
      expect((text.socket as { protocol?: string }).protocol).toBe('herald.v1');
      expect(new Set(text.frameTypes)).toEqual(new Set(['text']));
    });

    it('answers requests as herald.v1 does: validation_failed, unknown_type, and a retried id from its cache', async () => {
      await boot();
      const ann = await client({ token: 'user:ann' });
      expect(await ann.request('conf.Echo', { text: 1 })).toMatchObject({ code: 400, body: { error: 'validation_failed' } });
      expect(await ann.request('conf.Nope', {})).toMatchObject({ code: 404, body: { error: 'unknown_type' } });
      const first = await ann.request('conf.Count', { key: 'k' }, { id: 'once' });
      const retry = await ann.request('conf.Count', { key: 'k' }, { id: 'once' });
      expect(retry).toEqual(first);
      expect(first).toMatchObject({ code: 200, body: { key: 'k', runs: 1 } });
    });

    it('answers a body as JSON.stringify makes it, in both encodings: a Date, a toJSON, undefined, NaN, a class instance', async () => {
      await boot();
      const json = await connect((server as StartedServer).url, { token: 'user:ann' });
      testers.push(json);
      const binary = await client({ token: 'user:bob' });
      const meaning = JSON.parse(JSON.stringify(conformanceShapes())) as unknown;
      for (const reader of [json, binary]) {
        expect((await reader.request('conf.Shapes', {})).body).toStrictEqual(meaning);
        // Confirming: the answer waits in the send log (packed, on a MessagePack connection) and means the same.
        reader.send({ kind: 'req', id: 'shapes-confirmed', type: 'conf.Shapes', body: {}, resp: 1 });
        expect(((await reader.waitFor(withProperty('reqId', 'shapes-confirmed'))) as { body: unknown }).body).toStrictEqual(meaning);
      }
    });

    it('keeps an unconfirmed answer across a drop: the retry after resume over herald.v1 is answered from it, not run', async () => {
      await boot();
      const ann = await client({ token: 'user:ann' });
      ann.send({ kind: 'req', id: 'c1', type: 'conf.Count', body: { key: 'a' }, resp: 0 });
      await ann.waitFor(withProperty('reqId', 'c1'));
      ann.send({ kind: 'req', id: 'c2', type: 'conf.Shapes', body: {}, resp: 0 });
      await ann.waitFor(withProperty('reqId', 'c2'));
      await ann.drop();
      const json = await connect((server as StartedServer).url, { token: 'user:ann' });
      testers.push(json);
      expect(await json.request('herald.Resume', { sessionId: ann.welcome.sessionId, seq: 0 })).toMatchObject({ code: 200, body: { recovered: true } });
      json.send({ kind: 'req', id: 'c1', type: 'conf.Count', body: { key: 'a' }, resp: 1 });
      expect(await json.waitFor(withProperty('reqId', 'c1'))).toEqual({ kind: 'resp', reqId: 'c1', type: 'conf.Count', code: 200, body: { key: 'a', runs: 1 } });
      json.send({ kind: 'req', id: 'c2', type: 'conf.Shapes', body: {}, resp: 2 });
      expect(((await json.waitFor(withProperty('reqId', 'c2'))) as { body: unknown }).body).toStrictEqual(JSON.parse(JSON.stringify(conformanceShapes())));
      expect((await json.request('conf.Count', { key: 'a' })).body).toEqual({ key: 'a', runs: 2 });
    });

    it('answers bad binary input with the documented herald.Error, and keeps the session', async () => {
      await boot();
      const ann = await client({ token: 'user:ann' });
      const cases: Array<[Uint8Array | string, { code: number; error: string }]> = [
        [new Uint8Array([0xc1]), { code: 400, error: 'invalid_msgpack' }],
        [new Uint8Array([0x82, 0xa4]), { code: 400, error: 'invalid_msgpack' }],
        [new Uint8Array([...codec.encode({ kind: 'ping' }), ...codec.encode({ kind: 'ping' })]), { code: 400, error: 'invalid_msgpack' }],
        [codec.encode({ kind: 'req', id: 'b', type: 'conf.Echo', body: { text: new Uint8Array([1]) } }), { code: 400, error: 'invalid_msgpack' }],
        [codec.encode(['req']), { code: 400, error: 'invalid_envelope' }],
        [codec.encode({ kind: 'resp' }), { code: 400, error: 'invalid_envelope' }],
        ['{"kind":"ping"}', { code: 400, error: 'text_frame' }],
        [new Uint8Array(conformanceLimits.maxMessageBytes + 1), { code: 413, error: 'too_large' }],
        [new Uint8Array([...new Uint8Array(conformanceLimits.maxDepth + 1).fill(0x91), 0xc0]), { code: 400, error: 'too_deep' }],
      ];
      for (const [frame, answer] of cases) {
        const before = ann.log.length;
        ann.send(frame);
        // The answer is the next herald.Error; pings and the $all subscription may come in between.
        const error = (await ann.waitFor((m) => ann.log.indexOf(m) >= before && m.kind === 'notification' && m.type === 'herald.Error')) as NotificationMessage;
        expect(error.body).toMatchObject(answer);
      }
      expect(await ann.request('conf.Echo', { text: 'still here' })).toMatchObject({ code: 200 });
      expect(ann.closeInfo).toBeUndefined();
    });

    it('delivers one publication to JSON and MessagePack subscribers alike, in order', async () => {
      await boot();
      const json = await connect((server as StartedServer).url, { token: 'user:ann' });
      testers.push(json);
      const binary = [await client({ token: 'user:bob' }), await client({ token: 'user:cy' })];
      for (const reader of [json, ...binary]) expect(await reader.request('herald.Subscribe', { topic: 'conf/mixed' })).toMatchObject({ code: 200 });
      await json.request('conf.Publish', { topic: 'conf/mixed', count: 20 });
      for (const reader of [json, ...binary]) {
        await reader.waitFor(withProperty('offset', 20));
        const published = reader.log.filter(withType('conf.Published')) as NotificationMessage[];
        expect(published.map((m) => m.offset)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(published[19]).toEqual({ kind: 'notification', type: 'conf.Published', topic: 'conf/mixed', offset: 20, body: { n: 20 } });
      }
      expect(new Set(json.frameTypes)).toEqual(new Set(['text']));
      for (const reader of binary) expect(new Set(reader.frameTypes)).toEqual(new Set(['binary']));
    });

    it('sends deltas as bin, which rebuild the same bodies as the JSON subscriber gets (§6 Delta topics)', async () => {
      await boot();
      const json = await connect((server as StartedServer).url, { token: 'user:ann' });
      testers.push(json);
      const binary = await client({ token: 'user:bob' });
      const topic = 'conf/doc/mixed';
      for (const reader of [json, binary]) expect(await reader.request('herald.Subscribe', { topic, delta: 'fossil' })).toMatchObject({ code: 200, body: { delta: 'fossil' } });
      await json.request('conf.PublishDocument', { topic, from: 1, count: 5 });
      for (const reader of [json, binary]) {
        await reader.waitFor(withProperty('offset', 5));
        const rebuilt = deltaBodies(reader.log, topic);
        expect(rebuilt.map((r) => r.delta)).toEqual([false, true, true, true, true]);
        expect(rebuilt.map((r) => r.body)).toEqual([1, 2, 3, 4, 5].map(conformanceDocument));
      }
      expect((binary.log.filter(withType('conf.Document'))[1] as NotificationMessage).delta).toBeInstanceOf(Uint8Array);
      expect(typeof (json.log.filter(withType('conf.Document'))[1] as NotificationMessage).delta).toBe('string');
    });

    it('resumes a MessagePack session over herald.v1 and back with nothing lost', async () => {
      await boot();
      const ann = await client({ token: 'user:ann' });
      const bob = await client({ token: 'user:bob' });
      await bob.request('conf.Notify', { to: 'ann', count: 2 });
      await ann.waitFor(withProperty('seq', 2));
      await ann.drop();
      await bob.request('conf.Notify', { to: 'ann', count: 1 });
      const json = await connect((server as StartedServer).url, { token: 'user:ann' });
      testers.push(json);
      const sessionId = ann.welcome.sessionId;
      expect(await json.request('herald.Resume', { sessionId, seq: 2 })).toMatchObject({ code: 200, body: { sessionId, recovered: true } });
      expect((json.log.filter(withType('conf.Private')) as NotificationMessage[]).map((m) => m.seq)).toEqual([3]);
      await json.drop();
      await bob.request('conf.Notify', { to: 'ann', count: 1 });
      const again = await client({ token: 'user:ann' });
      expect(await again.request('herald.Resume', { sessionId, seq: 3 })).toMatchObject({ code: 200, body: { sessionId, recovered: true } });
      expect((again.log.filter(withType('conf.Private')) as NotificationMessage[]).map((m) => m.seq)).toEqual([4]);
      expect(new Set(again.frameTypes)).toEqual(new Set(['binary']));
    });
  });
}
