import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ID_PATTERN,
  PING_FRAME,
  PONG_FRAME,
  TOPIC_PATTERN,
  TYPE_PATTERN,
  assertName,
  decodeClientFrame,
  encodeBody,
  encodeErrorResponse,
  encodePrivateNotification,
  encodeResponse,
  encodeSystemNotification,
  encodeTopicNotification,
  utf8Length,
  type CodecLimits,
  type DecodeResult,
} from './codec.ts';
import { ErrorReason } from './constants.ts';
import { envelopeJsonSchema } from './envelope-schema.ts';

const LIMITS: CodecLimits = { maxMessageBytes: 65_536, maxDepth: 32 };
/** Limits that never trigger, so only the envelope rules decide. */
const UNLIMITED: CodecLimits = { maxMessageBytes: Number.MAX_SAFE_INTEGER, maxDepth: 10_000 };
const CLIENT_KINDS = new Set(['req', 'ack', 'ping', 'pong']);
const REASONS = new Set<string>(Object.values(ErrorReason));

const validateEnvelope = new Ajv2020().compile(envelopeJsonSchema);

/** The JSON Schema's verdict on what a client may send. */
function schemaAcceptsFromClient(value: unknown): boolean {
  if (!validateEnvelope(value)) return false;
  return CLIENT_KINDS.has((value as { kind: string }).kind);
}

/** What any answer of the decoder must look like, whatever the input. */
function expectWellFormed(result: DecodeResult): void {
  if (result.ok) {
    expect(CLIENT_KINDS.has(result.message.kind)).toBe(true);
    return;
  }
  expect([400, 413]).toContain(result.status);
  expect(REASONS.has(result.error)).toBe(true);
  expect(typeof result.message).toBe('string');
  if (result.reqId !== undefined) expect(result.reqId).toMatch(ID_PATTERN);
}

const failureOf = (text: string, limits: CodecLimits = LIMITS) => {
  const result = decodeClientFrame(text, limits);
  return result.ok ? result : { status: result.status, error: result.error, reqId: result.reqId };
};

describe('decodeClientFrame', () => {
  it('accepts each client kind and keeps only the envelope fields', () => {
    expect(decodeClientFrame('{"kind":"req","id":"a.1:b-c_d","type":"chat.Send","body":{"x":[1]},"extra":true}', LIMITS)).toEqual({
      ok: true,
      message: { kind: 'req', id: 'a.1:b-c_d', type: 'chat.Send', body: { x: [1] } },
    });
    expect(decodeClientFrame('{"kind":"ack","seq":0}', LIMITS)).toEqual({ ok: true, message: { kind: 'ack', seq: 0 } });
    expect(decodeClientFrame('{"kind":"ping","future":1}', LIMITS)).toEqual({ ok: true, message: { kind: 'ping' } });
    expect(decodeClientFrame(' {"kind":"pong"} ', LIMITS)).toEqual({ ok: true, message: { kind: 'pong' } });
  });

  it.each([
    ['not JSON', '{"kind":', 400, 'invalid_json'],
    ['an array', '[{"kind":"ping"}]', 400, 'invalid_envelope'],
    ['a number', '42', 400, 'invalid_envelope'],
    ['a string', '"ping"', 400, 'invalid_envelope'],
    ['null', 'null', 400, 'invalid_envelope'],
    ['no kind', '{"id":"1","type":"t"}', 400, 'invalid_envelope'],
    ['an unknown kind', '{"kind":"event"}', 400, 'invalid_envelope'],
    ['a kind of the wrong case', '{"kind":"PING"}', 400, 'invalid_envelope'],
    ['a resp (server only)', '{"kind":"resp","reqId":"1","type":"t","code":200}', 400, 'invalid_envelope'],
    ['a notification (server only)', '{"kind":"notification","type":"t"}', 400, 'invalid_envelope'],
    ['a req without id', '{"kind":"req","type":"t"}', 400, 'invalid_envelope'],
    ['a req with a numeric id', '{"kind":"req","id":1,"type":"t"}', 400, 'invalid_envelope'],
    ['a req with an empty id', '{"kind":"req","id":"","type":"t"}', 400, 'invalid_envelope'],
    ['a req with a 65-character id', `{"kind":"req","id":"${'a'.repeat(65)}","type":"t"}`, 400, 'invalid_envelope'],
    ['a req with a space in its id', '{"kind":"req","id":"a b","type":"t"}', 400, 'invalid_envelope'],
    ['a req with a newline ending its id', '{"kind":"req","id":"ab\\n","type":"t"}', 400, 'invalid_envelope'],
    ['an ack without seq', '{"kind":"ack"}', 400, 'invalid_envelope'],
    ['an ack with a negative seq', '{"kind":"ack","seq":-1}', 400, 'invalid_envelope'],
    ['an ack with a fractional seq', '{"kind":"ack","seq":1.5}', 400, 'invalid_envelope'],
    ['an ack with a string seq', '{"kind":"ack","seq":"1"}', 400, 'invalid_envelope'],
  ])('refuses %s', (_what, text, status, error) => {
    expect(failureOf(text)).toEqual({ status, error, reqId: undefined });
  });

  it.each([
    ['without type', '{"kind":"req","id":"r1"}'],
    ['with a space in its type', '{"kind":"req","id":"r1","type":"chat Send"}'],
    ['with a 129-character type', `{"kind":"req","id":"r1","type":"${'t'.repeat(129)}"}`],
    ['with a numeric type', '{"kind":"req","id":"r1","type":7}'],
  ])('names the request id when refusing a req %s', (_what, text) => {
    expect(failureOf(text)).toEqual({ status: 400, error: 'invalid_envelope', reqId: 'r1' });
  });

  const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

  it('reads a req with a W3C traceparent, with and without resp', () => {
    expect(decodeClientFrame(`{"kind":"req","id":"8","type":"t","traceparent":"${TRACEPARENT}"}`, LIMITS)).toEqual({
      ok: true,
      message: { kind: 'req', id: '8', type: 't', body: undefined, traceparent: TRACEPARENT },
    });
    expect(decodeClientFrame(`{"kind":"req","id":"8","type":"t","resp":2,"traceparent":"${TRACEPARENT}"}`, LIMITS)).toMatchObject({
      ok: true,
      message: { resp: 2, traceparent: TRACEPARENT },
    });
  });

  it.each([
    ['a number', '1'],
    ['upper case', `"${TRACEPARENT.toUpperCase()}"`],
    ['another version', `"01${TRACEPARENT.slice(2)}"`],
    ['an all-zero trace id', `"00-${'0'.repeat(32)}-00f067aa0ba902b7-01"`],
    ['an all-zero parent id', `"00-4bf92f3577b34da6a3ce929d0e0e4736-${'0'.repeat(16)}-01"`],
    ['a short trace id', '"00-4bf92f35-00f067aa0ba902b7-01"'],
  ])('refuses a traceparent that is %s, naming the request', (_what, value) => {
    const text = `{"kind":"req","id":"r1","type":"t","traceparent":${value}}`;
    expect(failureOf(text)).toEqual({ status: 400, error: 'invalid_envelope', reqId: 'r1' });
    expect(new Ajv2020({ strict: false }).compile(envelopeJsonSchema)(JSON.parse(text))).toBe(false);
  });

  it('accepts the longest id and type, and the edges of their alphabets', () => {
    const id = 'A'.repeat(63) + '-';
    const type = '$/' + 'z'.repeat(126);
    expect(decodeClientFrame(JSON.stringify({ kind: 'req', id, type }), LIMITS).ok).toBe(true);
    expect(decodeClientFrame(JSON.stringify({ kind: 'req', id: '_.:-09azAZ', type: 'a.b:c_d-e$f/g' }), LIMITS).ok).toBe(true);
  });

  describe('size limit', () => {
    const limits: CodecLimits = { maxMessageBytes: 100, maxDepth: 32 };
    const req = (id: string, length: number) => {
      const head = `{"kind":"req","id":"${id}","type":"t","body":"`;
      return head + 'x'.repeat(length - head.length - 2) + '"}';
    };

    it('accepts a frame of exactly maxMessageBytes and refuses one byte more', () => {
      expect(req('r1', 100)).toHaveLength(100);
      expect(decodeClientFrame(req('r1', 100), limits).ok).toBe(true);
      expect(failureOf(req('r1', 101), limits)).toEqual({ status: 413, error: 'too_large', reqId: 'r1' });
    });

    it('counts UTF-8 bytes, not UTF-16 code units', () => {
      const head = '{"kind":"ping","pad":"';
      const fits = head + 'é'.repeat((100 - head.length - 2) / 2) + '"}';
      expect(utf8Length(fits)).toBe(100);
      expect(decodeClientFrame(fits, limits).ok).toBe(true);
      const over = head + 'é'.repeat((100 - head.length - 2) / 2) + 'x"}';
      expect(over.length).toBeLessThan(100);
      expect(failureOf(over, limits)).toEqual({ status: 413, error: 'too_large', reqId: undefined });
    });

    it('answers without an id when the frame is not a req or the id is not near the start', () => {
      expect(failureOf(`{"kind":"ping","id":"r1","pad":"${'x'.repeat(200)}"}`, limits)).toEqual({ status: 413, error: 'too_large', reqId: undefined });
      const late = `{"kind":"req","pad":"${'x'.repeat(600)}","id":"r1","type":"t"}`;
      expect(failureOf(late, { maxMessageBytes: 100, maxDepth: 32 })).toEqual({ status: 413, error: 'too_large', reqId: undefined });
      expect(failureOf(`{"kind":"req","id":"bad id","type":"t","body":"${'x'.repeat(200)}"}`, limits)).toEqual({
        status: 413,
        error: 'too_large',
        reqId: undefined,
      });
    });

    it('finds the id of an oversize req whatever the field order and spacing', () => {
      const text = `{ "id" : "late.1", "type":"t", "kind" : "req", "body":"${'x'.repeat(200)}"}`;
      expect(failureOf(text, limits)).toEqual({ status: 413, error: 'too_large', reqId: 'late.1' });
    });
  });

  describe('depth limit', () => {
    const nested = (depth: number) => `{"kind":"ping","x":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

    it('accepts maxDepth levels (the envelope counts as one) and refuses one more', () => {
      expect(decodeClientFrame(nested(32), LIMITS).ok).toBe(true);
      expect(failureOf(nested(33))).toEqual({ status: 400, error: 'too_deep', reqId: undefined });
    });

    it('ignores brackets inside strings, including after escaped quotes and backslashes', () => {
      const text = JSON.stringify({ kind: 'ping', s: '[[[[\\"[[[[', t: '\\', u: '{{{{{{' });
      expect(decodeClientFrame(text, { maxMessageBytes: 1000, maxDepth: 1 }).ok).toBe(true);
    });

    it('names the id of a too-deep req when it can be read from the start of the frame', () => {
      const deep = `{"kind":"req","id":"d1","type":"t","body":${'['.repeat(40)}${']'.repeat(40)}}`;
      expect(failureOf(deep)).toEqual({ status: 400, error: 'too_deep', reqId: 'd1' });
    });

    it('refuses a too-deep frame before parsing it, even when it is not valid JSON', () => {
      expect(failureOf('['.repeat(40))).toEqual({ status: 400, error: 'too_deep', reqId: undefined });
    });

    it('flags too_deep exactly when a value nests deeper than maxDepth (property)', () => {
      const depthOf = (value: unknown): number =>
        typeof value === 'object' && value !== null ? 1 + Math.max(0, ...Object.values(value).map(depthOf)) : 0;
      fc.assert(
        fc.property(fc.jsonValue({ maxDepth: 8 }), fc.integer({ min: 1, max: 9 }), (body, maxDepth) => {
          const envelope = { kind: 'ping', body };
          const result = decodeClientFrame(JSON.stringify(envelope), { maxMessageBytes: UNLIMITED.maxMessageBytes, maxDepth });
          expect(!result.ok && result.error === 'too_deep').toBe(depthOf(envelope) > maxDepth);
        }),
      );
    });
  });

  describe('never throws', () => {
    const limitsArbitrary = fc.record({ maxMessageBytes: fc.integer({ min: 1, max: 300 }), maxDepth: fc.integer({ min: 1, max: 6 }) });

    it('for arbitrary strings, including lone surrogates', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 400 }), limitsArbitrary, (text, limits) => {
          expectWellFormed(decodeClientFrame(text, limits));
          expectWellFormed(decodeClientFrame(text, LIMITS));
        }),
      );
    });

    it('for arbitrary JSON text, ASCII or full Unicode', () => {
      fc.assert(
        fc.property(fc.oneof(fc.json(), fc.json({ stringUnit: 'binary' })), limitsArbitrary, (text, limits) => {
          expectWellFormed(decodeClientFrame(text, limits));
          expectWellFormed(decodeClientFrame(text, LIMITS));
        }),
      );
    });

    it('for valid frames with characters inserted, deleted or replaced', () => {
      const mutation = fc.record({ at: fc.nat(), remove: fc.integer({ min: 0, max: 3 }), insert: fc.string({ unit: 'binary', maxLength: 3 }) });
      fc.assert(
        fc.property(validClientEnvelope.map((e) => JSON.stringify(e)), fc.array(mutation, { minLength: 1, maxLength: 4 }), (frame, mutations) => {
          let text = frame;
          for (const { at, remove, insert } of mutations) {
            const i = at % (text.length + 1);
            text = text.slice(0, i) + insert + text.slice(i + remove);
          }
          expectWellFormed(decodeClientFrame(text, LIMITS));
        }),
      );
    });
  });
});

// ---- agreement with the JSON Schema ------------------------------------------------------------

const id = fc.stringMatching(ID_PATTERN);
const type = fc.stringMatching(TYPE_PATTERN);
const topic = fc.stringMatching(TOPIC_PATTERN);
const body = fc.jsonValue({ maxDepth: 3 });
const extras = fc.dictionary(fc.constantFrom('extra', 'future', 'meta', 'x-trace'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 });

const validClientEnvelope: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ kind: fc.constant('req'), id, type, body }, { requiredKeys: ['kind', 'id', 'type'] }),
  fc.record({ kind: fc.constant('ack'), seq: fc.oneof(fc.constantFrom(0, 1, Number.MAX_SAFE_INTEGER), fc.nat()) }),
  fc.constant({ kind: 'ping' }),
  fc.constant({ kind: 'pong' }),
);

const validServerEnvelope: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ kind: fc.constant('resp'), reqId: id, type, code: fc.integer({ min: 100, max: 599 }), body }, { requiredKeys: ['kind', 'reqId', 'type', 'code'] }),
  fc.record({ kind: fc.constant('notification'), type, body }, { requiredKeys: ['kind', 'type'] }),
  fc.record({ kind: fc.constant('notification'), type, topic, offset: fc.integer({ min: 1 }), body }, { requiredKeys: ['kind', 'type', 'topic', 'offset'] }),
  fc.record({ kind: fc.constant('notification'), type, seq: fc.integer({ min: 1 }), body }, { requiredKeys: ['kind', 'type', 'seq'] }),
);

/** Values that sit on either side of the envelope rules, boundaries first. */
const trickyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('req', 'resp', 'notification', 'ack', 'ping', 'pong', 'REQ', '', ' ', 'a b', 'a\n', 'é', '#', 'herald.Error', '$all') },
  { weight: 4, arbitrary: fc.constantFrom(0, -0, 1, -1, 0.5, 1.5, 99, 100, 599, 600, Number.MAX_SAFE_INTEGER, 2 ** 53, 1e21, -1e-7) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, ['req'], { kind: 'req' }) },
  { weight: 1, arbitrary: id },
  { weight: 1, arbitrary: type },
  { weight: 1, arbitrary: topic },
  { weight: 1, arbitrary: id.map((s) => s + '!') },
  { weight: 1, arbitrary: fc.string({ minLength: 64, maxLength: 70, unit: fc.constantFrom('a', 'b', '1') }) },
  { weight: 1, arbitrary: fc.string({ minLength: 127, maxLength: 130, unit: fc.constantFrom('t', '/', '$') }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

const FIELDS = ['kind', 'id', 'type', 'body', 'seq', 'reqId', 'code', 'topic', 'offset'];

/** A valid envelope (either side) with one to three fields changed or removed. */
const nearValidEnvelope: fc.Arbitrary<unknown> = fc
  .tuple(
    fc.oneof(validClientEnvelope, validServerEnvelope),
    fc.array(fc.record({ field: fc.constantFrom(...FIELDS), value: fc.option(trickyValue, { nil: undefined }) }), { minLength: 1, maxLength: 3 }),
  )
  .map(([envelope, changes]) => {
    const changed: Record<string, unknown> = { ...envelope };
    for (const { field, value } of changes) {
      if (value === undefined) delete changed[field];
      else changed[field] = value;
    }
    return changed;
  });

/** Compares the codec with Ajv on the value a client would actually send (after a JSON round trip). */
function agreement(value: unknown): void {
  const text = JSON.stringify(value);
  if (text === undefined) return;
  const parsed: unknown = JSON.parse(text);
  const codec = decodeClientFrame(text, UNLIMITED);
  expect({ value: parsed, accepted: codec.ok }).toEqual({ value: parsed, accepted: schemaAcceptsFromClient(parsed) });
}

describe('decodeClientFrame agrees with envelopeJsonSchema (client kinds)', () => {
  it('on valid envelopes from either side, with unknown fields added', () => {
    fc.assert(
      fc.property(fc.oneof(validClientEnvelope, validServerEnvelope), extras, (envelope, extra) => {
        agreement({ ...extra, ...envelope });
        expect(decodeClientFrame(JSON.stringify(envelope), LIMITS).ok).toBe(CLIENT_KINDS.has(envelope['kind'] as string));
      }),
    );
  });

  it('on near-valid envelopes (one to three fields perturbed)', () => {
    fc.assert(fc.property(nearValidEnvelope, agreement), { numRuns: 2000 });
  });

  it('on arbitrary JSON values', () => {
    fc.assert(fc.property(fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: 'binary' })), agreement), { numRuns: 500 });
  });

  it('on integers too large to be exact in JavaScript (ack.seq = 2^53)', () => {
    agreement({ kind: 'ack', seq: 2 ** 53 });
  });
});

// ---- encoding ---------------------------------------------------------------------------------

/** A body as it comes out of a JSON round trip (-0 becomes 0, and so on). */
const roundTrip = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));
const withBody = (fields: Record<string, unknown>, value: unknown) => (value === undefined ? fields : { ...fields, body: roundTrip(value) });
const optionalBody = fc.option(fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), { nil: undefined });

function expectValidEnvelope(frame: string): unknown {
  const parsed: unknown = JSON.parse(frame);
  expect(validateEnvelope(parsed), JSON.stringify(validateEnvelope.errors)).toBe(true);
  return parsed;
}

describe('encoders', () => {
  it('encodeResponse writes the fields it is given, as a valid envelope', () => {
    fc.assert(
      fc.property(id, type, fc.integer({ min: 100, max: 599 }), optionalBody, (reqId, t, code, value) => {
        const frame = encodeResponse(reqId, t, code, encodeBody(value));
        expect(expectValidEnvelope(frame)).toEqual(withBody({ kind: 'resp', reqId, type: t, code }, value));
      }),
    );
  });

  it('encodeErrorResponse carries an ErrorBody', () => {
    fc.assert(
      fc.property(id, type, fc.integer({ min: 400, max: 599 }), fc.string({ unit: 'binary' }), (reqId, t, code, message) => {
        const body = { error: ErrorReason.ValidationFailed, message, issues: [{ path: ['a', 0], message: 'bad' }] };
        expect(expectValidEnvelope(encodeErrorResponse(reqId, t, code, body))).toEqual({ kind: 'resp', reqId, type: t, code, body });
      }),
    );
  });

  it('encodeTopicNotification writes topic and offset', () => {
    fc.assert(
      fc.property(type, topic, fc.integer({ min: 1 }), optionalBody, (t, name, offset, value) => {
        const frame = encodeTopicNotification(t, name, offset, encodeBody(value));
        expect(expectValidEnvelope(frame)).toEqual(withBody({ kind: 'notification', type: t, topic: name, offset }, value));
      }),
    );
  });

  it('encodePrivateNotification writes seq', () => {
    fc.assert(
      fc.property(type, fc.integer({ min: 1 }), optionalBody, (t, seq, value) => {
        const frame = encodePrivateNotification(t, seq, encodeBody(value));
        expect(expectValidEnvelope(frame)).toEqual(withBody({ kind: 'notification', type: t, seq }, value));
      }),
    );
  });

  it('encodeSystemNotification writes neither seq nor offset', () => {
    fc.assert(
      fc.property(type, fc.jsonValue({ stringUnit: 'binary', maxDepth: 4 }), (t, value) => {
        expect(expectValidEnvelope(encodeSystemNotification(t, value))).toEqual({ kind: 'notification', type: t, body: roundTrip(value) });
      }),
    );
  });

  it('encodes what the decoder accepts back, for the frames both sides share', () => {
    expect(JSON.parse(PING_FRAME)).toEqual({ kind: 'ping' });
    expect(JSON.parse(PONG_FRAME)).toEqual({ kind: 'pong' });
    expect(decodeClientFrame(PING_FRAME, LIMITS)).toEqual({ ok: true, message: { kind: 'ping' } });
    expect(decodeClientFrame(PONG_FRAME, LIMITS)).toEqual({ ok: true, message: { kind: 'pong' } });
  });

  it('encodeBody keeps undefined absent and refuses what JSON cannot carry', () => {
    expect(encodeBody(undefined)).toBeUndefined();
    expect(encodeBody(null)).toBe('null');
    expect(encodeBody({ a: [1, 'x'] })).toBe('{"a":[1,"x"]}');
    expect(() => encodeBody({ n: 1n })).toThrow(TypeError);
  });

  it('assertName names the argument and the pattern', () => {
    expect(() => assertName(TOPIC_PATTERN, 'room/1', 'topic')).not.toThrow();
    expect(() => assertName(TOPIC_PATTERN, 'room 1', 'topic')).toThrow(new TypeError(`topic "room 1" must match ${TOPIC_PATTERN.source}`));
  });
});

describe('utf8Length', () => {
  const encoder = new TextEncoder();

  it('matches TextEncoder on well-formed text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).length);
      }),
    );
  });

  it('matches TextEncoder on any UTF-16 string (lone surrogates become U+FFFD, 3 bytes)', () => {
    expect(utf8Length('\uD800\uD800')).toBe(encoder.encode('\uD800\uD800').length);
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).length);
      }),
    );
  });
});
