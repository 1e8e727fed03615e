import type { StandardSchemaV1 } from '@standard-schema/spec';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { contractJsonSchemas, defineContract, validate, type Schema } from './contract.ts';
import type { ResponseMessage } from './envelope.ts';
import { createHerald } from './server.ts';
import { connectMemory, ManualClock } from './testing/index.ts';

const anything = z.object({});
/** Lets every pending promise chain run (the in-memory server never waits on real time). */
const flush = async () => {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** A hand-written Standard Schema, to control sync/async results and issue paths exactly. */
function standardSchema(check: (value: unknown) => StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>): Schema {
  return { '~standard': { version: 1, vendor: 'test', validate: check } };
}

describe('defineContract', () => {
  it.each([
    ['a space', 'chat Send', 'must match'],
    ['an empty name', '', 'must match'],
    ['a 129-character name', 'a'.repeat(129), 'must match'],
    ['a non-ASCII letter', 'chat.Envoyé', 'must match'],
    ['the reserved prefix', 'herald.Custom', 'uses the reserved prefix "herald."'],
  ])('rejects a request type with %s', (_what, type, message) => {
    expect(() => defineContract({ requests: { [type]: { request: anything, response: anything } }, notifications: {} })).toThrow(TypeError);
    expect(() => defineContract({ requests: { [type]: { request: anything, response: anything } }, notifications: {} })).toThrow(message);
  });

  it('rejects bad and reserved notification types too', () => {
    expect(() => defineContract({ requests: {}, notifications: { 'chat message': { body: anything } } })).toThrow(
      'type "chat message" must match ^[A-Za-z0-9_.:$/-]{1,128}$',
    );
    expect(() => defineContract({ requests: {}, notifications: { 'herald.Welcome': { body: anything } } })).toThrow(
      'type "herald.Welcome" uses the reserved prefix "herald."',
    );
  });

  it('accepts every character the type pattern allows and brands the contract', () => {
    const definition = { requests: { 'a.b:c_d-e$f/g': { request: anything, response: anything } }, notifications: { ['x'.repeat(128)]: { body: anything } } };
    expect(defineContract(definition)).toEqual({ ...definition, '~herald': 'contract' });
  });
});

describe('contractJsonSchemas', () => {
  const chat = defineContract({
    requests: {
      'chat.Send': {
        request: z.object({ room: z.string().min(1), text: z.string().max(5), urgent: z.boolean().default(false) }),
        response: z.object({ offset: z.number().int() }),
      },
    },
    notifications: { 'chat.Message': { body: z.object({ text: z.string() }) } },
  });
  const ajv = new Ajv2020();

  it('derives draft 2020-12 schemas from zod: requests as input, responses and notifications as output', () => {
    const schemas = contractJsonSchemas(chat);
    const send = schemas.requests['chat.Send'];
    expect(send?.request).toMatchObject({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'object', required: ['room', 'text'] });
    expect(send?.response).toMatchObject({ type: 'object', required: ['offset'] });
    expect(schemas.notifications['chat.Message']).toMatchObject({ type: 'object', required: ['text'] });
    const request = ajv.compile(send?.request ?? {});
    expect(request({ room: 'r', text: 'hello' })).toBe(true);
    expect(request({ room: '', text: 'hello' })).toBe(false);
    expect(request({ room: 'r', text: 'too long' })).toBe(false);
    expect(ajv.compile(send?.response ?? {})({ offset: 1.5 })).toBe(false);
  });

  it('refuses a valibot schema, which cannot produce JSON Schema, naming the type and the fix', () => {
    const contract = defineContract({
      requests: { 'chat.Send': { request: v.object({ text: v.string() }), response: v.object({ offset: v.number() }) } },
      notifications: {},
    });
    expect(() => contractJsonSchemas(contract)).toThrow(
      new TypeError('chat.Send request: the schema library (valibot) cannot produce JSON Schema; give jsonSchema in the contract'),
    );
    const notifications = defineContract({ requests: {}, notifications: { 'chat.Message': { body: v.object({ text: v.string() }) } } });
    expect(() => contractJsonSchemas(notifications)).toThrow('chat.Message notification: the schema library (valibot)');
  });

  it('uses the jsonSchema a contract gives, for each schema it lacks', () => {
    const request = { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] };
    const response = { type: 'object', properties: { offset: { type: 'number' } } };
    const body = { type: 'object' };
    const complete = defineContract({
      requests: { 'chat.Send': { request: v.object({ text: v.string() }), response: v.object({ offset: v.number() }), jsonSchema: { request, response } } },
      notifications: { 'chat.Message': { body: v.object({ text: v.string() }), jsonSchema: body } },
    });
    expect(contractJsonSchemas(complete)).toEqual({ requests: { 'chat.Send': { request, response } }, notifications: { 'chat.Message': body } });
    const half = defineContract({
      requests: { 'chat.Send': { request: v.object({ text: v.string() }), response: v.object({ offset: v.number() }), jsonSchema: { request } } },
      notifications: {},
    });
    expect(() => contractJsonSchemas(half)).toThrow('chat.Send response: the schema library (valibot) cannot produce JSON Schema');
  });
});

describe('validate', () => {
  it('returns the output of a sync schema, or its issues with paths', () => {
    const schema = z.object({ room: z.string(), tags: z.array(z.string()), n: z.number().default(3) });
    expect(validate(schema, { room: 'r', tags: [] })).toEqual({ ok: true, value: { room: 'r', tags: [], n: 3 } });
    expect(validate(schema, { room: 1, tags: ['a', 2] })).toEqual({
      ok: false,
      issues: [
        { path: ['room'], message: expect.any(String) },
        { path: ['tags', 1], message: expect.any(String) },
      ],
    });
  });

  it('works with valibot', () => {
    expect(validate(v.object({ text: v.string() }), { text: 'x' })).toEqual({ ok: true, value: { text: 'x' } });
    expect(validate(v.object({ text: v.string() }), { text: 1 })).toEqual({ ok: false, issues: [{ path: ['text'], message: expect.any(String) }] });
  });

  it('returns a promise for async schemas (zod async refinements)', async () => {
    const schema = z.object({ name: z.string().refine(async (name) => name !== 'taken', 'name taken') });
    const ok = validate(schema, { name: 'free' });
    expect(ok).toBeInstanceOf(Promise);
    expect(await ok).toEqual({ ok: true, value: { name: 'free' } });
    expect(await validate(schema, { name: 'taken' })).toEqual({ ok: false, issues: [{ path: ['name'], message: 'name taken' }] });
  });

  it('turns path segments objects into their keys, symbols into strings, and no path into []', async () => {
    const schema = standardSchema(async () => ({
      issues: [
        { message: 'a', path: [{ key: 'items' }, { key: 0 }, 'name'] },
        { message: 'b', path: [Symbol('s')] },
        { message: 'c' },
      ],
    }));
    expect(await validate(schema, {})).toEqual({
      ok: false,
      issues: [
        { path: ['items', 0, 'name'], message: 'a' },
        { path: ['Symbol(s)'], message: 'b' },
        { path: [], message: 'c' },
      ],
    });
  });

  it('drives a server through an async schema: the handler sees the output, failures answer 400 with issues', async () => {
    const seen: unknown[] = [];
    const contract = defineContract({
      requests: {
        'user.Rename': {
          request: z.object({ name: z.string().refine(async (name) => name !== 'taken', 'name taken') }),
          response: z.object({ name: z.string() }),
        },
        'user.Check': {
          request: standardSchema((value) => Promise.resolve({ value: { checked: value } })),
          response: anything,
        },
      },
      notifications: {},
    });
    const herald = createHerald({
      contract,
      clock: new ManualClock(),
      handlers: {
        'user.Rename': (body) => body,
        'user.Check': (body) => {
          seen.push(body);
          return {};
        },
      },
    });
    const socket = await connectMemory(herald);
    socket.deliver({ kind: 'req', id: '1', type: 'user.Rename', body: { name: 'free' } });
    socket.deliver({ kind: 'req', id: '2', type: 'user.Rename', body: { name: 'taken' } });
    socket.deliver({ kind: 'req', id: '3', type: 'user.Check', body: 7 });
    await flush();
    const responses = socket.received.filter((e): e is ResponseMessage => e.kind === 'resp').sort((a, b) => a.reqId.localeCompare(b.reqId));
    expect(responses).toEqual([
      { kind: 'resp', reqId: '1', type: 'user.Rename', code: 200, body: { name: 'free' } },
      {
        kind: 'resp',
        reqId: '2',
        type: 'user.Rename',
        code: 400,
        body: { error: 'validation_failed', message: 'body does not match user.Rename', issues: [{ path: ['body', 'name'], message: 'name taken' }] },
      },
      { kind: 'resp', reqId: '3', type: 'user.Check', code: 200, body: {} },
    ]);
    expect(seen).toEqual([{ checked: 7 }]);
    await herald.close();
  });

  it('answers 500 without details when an async schema throws', async () => {
    const errors: unknown[] = [];
    const contract = defineContract({
      requests: { 'user.Check': { request: standardSchema(() => Promise.reject(new Error('db down: secret'))), response: anything } },
      notifications: {},
    });
    const herald = createHerald({ contract, clock: new ManualClock(), handlers: { 'user.Check': () => ({}) }, onError: (error) => errors.push(error) });
    const socket = await connectMemory(herald);
    socket.deliver({ kind: 'req', id: '1', type: 'user.Check', body: {} });
    await flush();
    expect(socket.received.at(-1)).toEqual({
      kind: 'resp',
      reqId: '1',
      type: 'user.Check',
      code: 500,
      body: { error: 'internal', message: 'internal server error' },
    });
    expect(errors).toEqual([new Error('db down: secret')]);
    await herald.close();
  });
});
