import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { CloseCode, ErrorReason, SystemType, closeCodeRetry, defineContract, validate, type ContractDefinition } from '@herald/core';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asyncApiDocument, type AsyncApiDocument } from '../src/index.ts';
import { chat } from './fixtures/chat-contract.ts';
import { contactCenter } from './fixtures/contact-center-contract.ts';

const options = { title: 'Test API', version: '1.2.3', url: 'wss://api.example.com/ws' };
const parser = new Parser();
const systemRequestTypes = [SystemType.Authenticate, SystemType.Subscribe, SystemType.Unsubscribe, SystemType.Resume];
const systemNotificationTypes = [SystemType.Welcome, SystemType.Subscribed, SystemType.Unsubscribed, SystemType.TopicReset, SystemType.Error, SystemType.Goodbye];

/** Contract types whose names need mapping to component keys, and a name used for both a request and a notification. */
const awkward = defineContract({
  requests: {
    'orders/v2:Place$': { request: z.object({ sku: z.string() }), response: z.object({ orderId: z.string() }) },
    'orders.Same': { request: z.object({}), response: z.object({}) },
    ping: { description: 'An application type that happens to be called ping.', request: z.object({}), response: z.object({ at: z.number() }) },
  },
  notifications: {
    'orders.Same': { body: z.object({ tuple: z.tuple([z.string(), z.number()]), maybe: z.string().nullable() }) },
    'orders.Same.request': { body: z.object({ clash: z.boolean() }) },
  },
});

const contracts: ReadonlyArray<readonly [string, ContractDefinition]> = [
  ['chat', chat],
  ['contact center', contactCenter],
  ['awkward names', awkward],
];

async function diagnose(document: AsyncApiDocument) {
  const { diagnostics } = await parser.parse(JSON.stringify(document));
  return diagnostics.map((diagnostic) => ({ severity: diagnostic.severity, code: diagnostic.code, message: diagnostic.message, path: diagnostic.path.join('/') }));
}

/** Follows a local `$ref`, and the refs it lands on. */
function resolvePointer(document: unknown, ref: string): unknown {
  const target = ref
    .slice(2)
    .split('/')
    .reduce<unknown>((node, part) => (node as Record<string, unknown>)[part.replaceAll('~1', '/').replaceAll('~0', '~')], document);
  const next = (target as { $ref?: unknown }).$ref;
  return typeof next === 'string' ? resolvePointer(document, next) : target;
}

describe("the contract's topic patterns", () => {
  const document = asyncApiDocument(chat, options);

  it('are channels with their address, parameters, notifications and history, each with a receive operation', () => {
    const channel = Object.values(document.channels).find((candidate) => candidate['address'] === 'room/{room}') as Record<string, unknown>;
    expect(channel).toMatchObject({ title: 'room/{room}', parameters: { room: {} }, 'x-herald-history': { messages: 500, ttlMs: 86_400_000 } });
    const messages = Object.values(channel['messages'] as Record<string, { $ref: string }>).map((ref) => (resolvePointer(document, ref.$ref) as Record<string, unknown>)['title']);
    expect(messages).toEqual(['chat.Message']);
    expect(channel['description']).toContain('keeps the last 500 messages of at most 86400000 ms');
    const operation = Object.values(document.operations).find((candidate) => candidate['title'] === 'room/{room}');
    expect(operation).toMatchObject({ action: 'receive', channel: { $ref: `#/channels/${Object.keys(document.channels).find((key) => document.channels[key] === channel)}` } });
  });
});

describe('a conflated topic pattern', () => {
  const prices = defineContract({
    requests: {},
    notifications: { 'price.Quote': { body: z.object({ bid: z.number(), ask: z.number() }) } },
    topics: { 'price/{symbol}': { notifications: ['price.Quote'], conflate: { maxRate: 20 } }, 'book/{symbol}': { notifications: ['price.Quote'], conflate: true } },
  });
  const document = asyncApiDocument(prices, options);
  const channel = (address: string) => Object.values(document.channels).find((candidate) => candidate['address'] === address) as Record<string, unknown>;

  it('says so in x-herald-conflate and in its description, and stays valid AsyncAPI', async () => {
    expect(channel('price/{symbol}')).toMatchObject({ 'x-herald-conflate': { maxRate: 20 } });
    expect(channel('price/{symbol}')['description']).toContain('capped at 20 messages a second');
    expect(channel('book/{symbol}')).toMatchObject({ 'x-herald-conflate': {} });
    expect(channel('book/{symbol}')['description']).toContain('Conflated (latest only)');
    const diagnostics = await diagnose(document);
    expect(diagnostics.filter((diagnostic) => diagnostic.severity !== DiagnosticSeverity.Information && diagnostic.severity !== DiagnosticSeverity.Hint)).toEqual([]);
  });
});

describe('a delta topic pattern', () => {
  const docs = defineContract({
    requests: {},
    notifications: { 'doc.State': { body: z.object({ text: z.string() }) } },
    topics: { 'doc/{id}': { notifications: ['doc.State'], delta: true }, 'plain/{id}': { notifications: ['doc.State'] } },
  });
  const document = asyncApiDocument(docs, options);
  const channel = (address: string) => Object.values(document.channels).find((candidate) => candidate['address'] === address) as Record<string, unknown>;

  it('says so in x-herald-delta and in its description, and stays valid AsyncAPI', async () => {
    expect(channel('doc/{id}')).toMatchObject({ 'x-herald-delta': { formats: ['fossil'] } });
    expect(channel('doc/{id}')['description']).toContain('Delta topic');
    expect(channel('plain/{id}')).not.toHaveProperty('x-herald-delta');
    const diagnostics = await diagnose(document);
    expect(diagnostics.filter((diagnostic) => diagnostic.severity !== DiagnosticSeverity.Information && diagnostic.severity !== DiagnosticSeverity.Hint)).toEqual([]);
  });
});

describe.each(contracts)('the AsyncAPI document of the %s contract', (_name, contract) => {
  const document = asyncApiDocument(contract, options);

  it('is valid AsyncAPI 3.0.0: no errors and no warnings from @asyncapi/parser', async () => {
    const diagnostics = await diagnose(document);
    expect(diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Error)).toEqual([]);
    expect(diagnostics.filter((diagnostic) => diagnostic.severity === DiagnosticSeverity.Warning)).toEqual([]);
  });

  it('has a send operation with a reply for every request and a receive operation for every notification', () => {
    const operations = Object.values(document.operations);
    for (const type of [...Object.keys(contract.requests), ...systemRequestTypes]) {
      const operation = operations.find((candidate) => candidate['action'] === 'send' && candidate['title'] === type);
      expect(operation, type).toBeDefined();
      const reply = operation?.['reply'] as { messages: Array<{ $ref: string }> };
      const replies = reply.messages.map((message) => resolvePointer(document, message.$ref) as Record<string, unknown>);
      expect(replies.map((message) => message['title'])).toEqual([`${type} response`, 'Error response']);
    }
    for (const type of [...Object.keys(contract.notifications), ...systemNotificationTypes]) {
      expect(
        operations.some((candidate) => candidate['action'] === 'receive' && candidate['title'] === type),
        type,
      ).toBe(true);
    }
    const titles = operations.map((operation) => `${String(operation['action'])} ${String(operation['title'])}`);
    expect(titles).toEqual(expect.arrayContaining(['send ping', 'receive ping (from the server)', 'send ack']));
  });

  it('describes every payload as a whole envelope whose body is the contract schema', () => {
    for (const [type, definition] of Object.entries(contract.requests)) {
      const request = Object.values(document.components.messages).find((message) => message['title'] === `${type} request`);
      const payload = request?.['payload'] as { properties: Record<string, { const?: unknown; $ref?: string }>; required: string[] };
      expect(payload.properties['kind']?.const).toBe('req');
      expect(payload.properties['type']?.const).toBe(type);
      expect(payload.required).toEqual(expect.arrayContaining(['kind', 'id', 'type']));
      expect(payload.properties['traceparent']).toMatchObject({ type: 'string', pattern: expect.stringContaining('[0-9a-f]{32}') });
      const body = resolvePointer(document, payload.properties['body']?.$ref ?? '') as Record<string, unknown>;
      expect(body['type']).toBe('object');
      expect(definition.description === undefined || request?.['description'] === definition.description).toBe(true);
    }
  });

  it('gives every message an example that matches its payload', () => {
    // Formats go unchecked; zod states every format it checks as a pattern too, and patterns are checked.
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema({ ...document, $id: 'asyncapi' } as unknown as Record<string, unknown>);
    for (const [key, message] of Object.entries(document.components.messages)) {
      const check = ajv.compile({ $ref: `asyncapi#/components/messages/${key.replaceAll('~', '~0').replaceAll('/', '~1')}/payload` });
      for (const example of message['examples'] as Array<{ payload: unknown }>) {
        expect(check(example.payload), `${key}: ${ajv.errorsText(check.errors)}`).toBe(true);
      }
    }
  });

  it("gives every application message an example body the contract's own schema accepts", async () => {
    const bodies = (title: string) =>
      (Object.values(document.components.messages).find((message) => message['title'] === title)?.['examples'] as Array<{ payload: { body: unknown } }>)[0]?.payload.body;
    for (const [type, definition] of Object.entries(contract.requests)) {
      expect(await validate(definition.request, bodies(`${type} request`)), type).toMatchObject({ ok: true });
      expect(await validate(definition.response, bodies(`${type} response`)), type).toMatchObject({ ok: true });
    }
    for (const [type, definition] of Object.entries(contract.notifications)) {
      expect(await validate(definition.body, bodies(type)), type).toMatchObject({ ok: true });
    }
  });
});

describe('asyncApiDocument', () => {
  const document = asyncApiDocument(contactCenter, { ...options, description: 'The agent console API.' });

  it('has the info, the servers and the subprotocol', () => {
    expect(document.asyncapi).toBe('3.0.0');
    expect(document.info).toMatchObject({ title: 'Test API', version: '1.2.3' });
    expect(document.info.description).toMatch(/^The agent console API\.\n\n/);
    expect(document.servers['webSocket']).toMatchObject({ host: 'api.example.com', pathname: '/ws', protocol: 'wss', 'x-herald-subprotocol': 'herald.v1' });
    expect(document.servers['longPoll']).toMatchObject({ host: 'api.example.com', pathname: '/lp', protocol: 'https' });
    expect(document.servers['longPoll']?.['description']).toContain('POST /lp/send');
    const binding = (document.channels['herald']?.['bindings'] as { ws: { headers: { properties: Record<string, { pattern: string }> } } }).ws;
    const offered = new RegExp(binding.headers.properties['Sec-WebSocket-Protocol']?.pattern ?? '');
    expect(offered.test('herald.v1')).toBe(true);
    expect(offered.test('herald.v2, herald.v1')).toBe(true);
    expect(offered.test('herald.v10')).toBe(false);
  });

  it('describes bearer auth at the upgrade and herald.Authenticate in-session', () => {
    const bearer = document.components.securitySchemes['bearer'];
    expect(bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(bearer?.['description']).toContain('Authorization: Bearer');
    expect(bearer?.['description']).toContain('herald.Authenticate');
    expect(document.servers['webSocket']?.['security']).toEqual([{ $ref: '#/components/securitySchemes/bearer' }]);
  });

  it('lists every close code with its retry advice and every error code with its status', () => {
    expect(document['x-herald-close-codes'].map((row) => [row.code, row.retry])).toEqual(
      Object.values(CloseCode)
        .toSorted((a, b) => a - b)
        .map((code) => [code, closeCodeRetry[code]]),
    );
    expect(document['x-herald-close-codes'].find((row) => row.code === CloseCode.Unauthorized)).toMatchObject({ name: 'Unauthorized', retry: 'reauthenticate' });
    expect(document['x-herald-error-codes'].map((row) => row.error).toSorted()).toEqual(Object.values(ErrorReason).toSorted());
    expect(document['x-herald-error-codes'].find((row) => row.error === ErrorReason.RateLimited)).toMatchObject({ status: 429 });
    const goodbye = Object.values(document.components.messages).find((message) => message['name'] === 'herald.Goodbye');
    expect(goodbye?.['description']).toContain('| 4507 | SlowConsumer |');
    expect(document.info.description).toContain('| 429 | `rate_limited` |');
  });

  it('leaves the long-poll server out when asked, and maps ws:// to http://', () => {
    const local = asyncApiDocument(contactCenter, { ...options, url: 'ws://localhost:9090/ws', longPollPath: '/fallback' });
    expect(local.servers['webSocket']).toMatchObject({ host: 'localhost:9090', protocol: 'ws' });
    expect(local.servers['longPoll']).toMatchObject({ host: 'localhost:9090', pathname: '/fallback', protocol: 'http' });
    expect(Object.keys(asyncApiDocument(contactCenter, { ...options, longPollPath: false }).servers)).toEqual(['webSocket']);
  });

  it('refuses URLs a client cannot use', () => {
    expect(() => asyncApiDocument(chat, { ...options, url: 'https://api.example.com/ws' })).toThrow(/ws:\/\/ or wss:\/\//);
    expect(() => asyncApiDocument(chat, { ...options, url: 'wss://user:secret@api.example.com/ws' })).toThrow(/credentials/);
    expect(() => asyncApiDocument(chat, { ...options, longPollPath: 'lp' })).toThrow(/start with/);
  });

  it('moves $defs of recursive schemas to components and points their refs there', () => {
    const schemas = asyncApiDocument(chat, options).components.schemas;
    const history = JSON.stringify(schemas['chat.History.response']);
    expect(history).not.toContain('$defs');
    const refs = [...history.matchAll(/"\$ref":"([^"]+)"/g)].map((match) => match[1]);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(schemas[(ref ?? '').replace('#/components/schemas/', '')]).toBeDefined();
  });

  it('maps type names to component keys, keeping apart names that clash', () => {
    const awkwardDocument = asyncApiDocument(awkward, options);
    const schemas = awkwardDocument.components.schemas;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['orders_v2_Place_.request', 'orders.Same.request', 'orders.Same']));
    expect(schemas['orders.Same.request']?.['properties']).toEqual({});
    expect(schemas['orders.Same.request-2']?.['properties']).toEqual({ clash: { type: 'boolean' } });
    expect(Object.keys(awkwardDocument.components.messages)).toEqual(expect.arrayContaining(['orders.Same.request', 'orders.Same.request-2']));
    expect(Object.keys(awkwardDocument.operations)).toEqual(expect.arrayContaining(['orders_v2_Place_', 'orders.Same', 'orders.Same-2', 'ping', 'ping-2']));
    const tuple = (awkwardDocument.components.schemas['orders.Same'] as { properties: { tuple: Record<string, unknown> } }).properties.tuple;
    expect(tuple).toMatchObject({ type: 'array', items: [{ type: 'string' }, { type: 'number' }], additionalItems: false });
  });
});
