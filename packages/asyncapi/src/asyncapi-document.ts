/**
 * The AsyncAPI 3.0.0 document of a Herald endpoint. It describes the API as a client sees it:
 * `send` operations are what a client sends (with the response as their `reply`), `receive`
 * operations what the server pushes. Everything travels on one channel, the connection, as
 * envelopes told apart by `kind` and `type`.
 */
import {
  ID_PATTERN,
  Kind,
  PROTOCOL_NAME,
  Status,
  SystemType,
  TOPIC_PATTERN,
  TYPE_PATTERN,
  envelopeJsonSchema,
  systemBodyJsonSchemas,
  type ContractDefinition,
  type JsonSchema,
  TRACEPARENT_PATTERN,
  type TopicDefinition,
} from '@herald/core';
import { componentRef, toAsyncApiSchema } from './asyncapi-schema.ts';
import { catalog, errorResponseExample, notificationExample, requestExample, responseExample, type NotificationEntry, type RequestEntry } from './catalog.ts';
import { endpoints, type DocumentOptions } from './options.ts';
import { closeCodes, errorCodes, type CloseCodeInfo, type ErrorCodeInfo } from './protocol-reference.ts';

/** An AsyncAPI 3.0.0 document, as plain JSON-compatible data. */
export interface AsyncApiDocument {
  readonly asyncapi: '3.0.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly defaultContentType: 'application/json';
  readonly servers: Readonly<Record<string, JsonSchema>>;
  readonly channels: Readonly<Record<string, JsonSchema>>;
  readonly operations: Readonly<Record<string, JsonSchema>>;
  readonly components: {
    readonly schemas: Readonly<Record<string, JsonSchema>>;
    readonly messages: Readonly<Record<string, JsonSchema>>;
    readonly securitySchemes: Readonly<Record<string, JsonSchema>>;
    readonly correlationIds: Readonly<Record<string, JsonSchema>>;
  };
  readonly 'x-herald-protocol': string;
  readonly 'x-herald-close-codes': readonly CloseCodeInfo[];
  readonly 'x-herald-error-codes': readonly ErrorCodeInfo[];
}

const CHANNEL = 'herald';
const CHANNEL_REF = { $ref: `#/channels/${CHANNEL}` };
const SECURITY_REF = { $ref: '#/components/securitySchemes/bearer' };

/** Component keys allow `[A-Za-z0-9._-]`; type names also allow `:$/`, so they are mapped, and kept apart. */
class ComponentKeys {
  private readonly bySource = new Map<string, string>();
  private readonly taken = new Set<string>();

  /** The key for `source` (any string naming what is keyed), made from `preferred`. */
  key(source: string, preferred: string = source): string {
    const known = this.bySource.get(source);
    if (known !== undefined) return known;
    const base = preferred.replace(/[^A-Za-z0-9._-]/g, '_');
    let key = base;
    for (let n = 2; this.taken.has(key); n++) key = `${base}-${n}`;
    this.bySource.set(source, key);
    this.taken.add(key);
    return key;
  }
}

function markdownTable(head: readonly string[], rows: ReadonlyArray<readonly (string | number)[]>): string {
  const cell = (value: string | number) => String(value).replaceAll('|', '\\|');
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`)].join('\n');
}

const closeCodeTable = markdownTable(
  ['Code', 'Name', 'When', 'Retry', 'What the client does'],
  closeCodes.map((row) => [row.code, row.name, row.when, row.retry, row.action]),
);
const errorCodeTable = markdownTable(
  ['Status', 'error', 'When', 'Answered with', 'Retry'],
  errorCodes.map((row) => [row.status, `\`${row.error}\``, row.when, row.answeredWith, row.retry]),
);

const RESP_DESCRIPTION = 'Optional: the number of responses received on this connection, so the server can let those answers go (PROTOCOL.md, Confirming responses).';

const TRACEPARENT_DESCRIPTION = "Optional: the W3C Trace Context of the client's span; a tracing server's span for the request continues it (PROTOCOL.md §4.4).";

function integer(minimum: number, description?: string): JsonSchema {
  return { type: 'integer', minimum, maximum: Number.MAX_SAFE_INTEGER, ...(description === undefined ? {} : { description }) };
}

function envelope(properties: JsonSchema, required: readonly string[], extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', properties, required, ...extra };
}

function describe(entry: { readonly summary: string | undefined; readonly description: string | undefined }): JsonSchema {
  return { ...(entry.summary === undefined ? {} : { summary: entry.summary }), ...(entry.description === undefined ? {} : { description: entry.description }) };
}

function overview(options: DocumentOptions, longPoll: URL | undefined): string {
  const parts = options.description === undefined ? [] : [options.description];
  parts.push(
    `A Herald endpoint speaking the \`${PROTOCOL_NAME}\` WebSocket subprotocol. Every frame is one JSON envelope ` +
      '(`kind`, `id`/`reqId`, `type`, `code`, `body`): a client sends `req` and receives exactly one `resp` with the same id ' +
      'in `reqId`; the server pushes `notification`s, on topics (`topic` + `offset`) or privately (`seq`, acknowledged with `ack`).',
    'This document describes the API from the client side: `send` operations are what a client sends, with the response as ' +
      'their reply; `receive` operations are what the server pushes.',
    `**Connecting.** Offer \`${PROTOCOL_NAME}\` in \`Sec-WebSocket-Protocol\`. Native clients may send ` +
      '`Authorization: Bearer <token>` on the upgrade; browsers connect without credentials and send `herald.Authenticate` ' +
      '`{token}` (preferably a single-use ticket) after `herald.Welcome`. Never put credentials in the URL. After a reconnect, ' +
      'authenticate and send `herald.Resume` before anything else.',
  );
  if (longPoll !== undefined) {
    parts.push(`**Long-poll fallback.** The same session runs over HTTP at \`${longPoll.href}\` where WebSockets cannot pass; see the \`longPoll\` server.`);
  }
  parts.push(`**Close codes.** Act on the code of \`herald.Goodbye\` (or of the close):\n\n${closeCodeTable}`);
  parts.push(`**Error codes.** Error responses carry \`{error, message, issues?, retryAfterMs?}\`:\n\n${errorCodeTable}`);
  return parts.join('\n\n');
}

function longPollDescription(longPoll: URL): string {
  const base = longPoll.pathname;
  return [
    `The long-poll fallback: the same session, the same frames, over plain HTTP (Herald protocol v1, section 11, "Long-poll transport"). JSON in and out; ` +
      'the connection id travels in the `Herald-Session` header, never in the URL.',
    markdownTable(
      ['Request', 'Headers', 'Body', 'Answer'],
      [
        [`POST ${base}`, `Herald-Protocol: ${PROTOCOL_NAME}; optional Authorization: Bearer`, 'none', '200 {sid, from, messages} with the Welcome, or the upgrade refusals'],
        [`POST ${base}/send`, 'Herald-Session', 'JSON array of 1 to 64 strings, each one frame', '204; 400 invalid_batch, 413 too_large, 404 unknown_session, 403 forbidden'],
        [`GET ${base}/poll?ack=<cursor>`, 'Herald-Session', 'none', '200 {from, messages, closed?}, held up to 25 s'],
        [`DELETE ${base}`, 'Herald-Session', 'none', '204; the session ends as after a close with 1000'],
      ],
    ),
  ].join('\n\n');
}

function servers(options: DocumentOptions): Record<string, JsonSchema> {
  const { webSocket, longPoll } = endpoints(options);
  const result: Record<string, JsonSchema> = {
    webSocket: {
      host: webSocket.host,
      pathname: webSocket.pathname,
      protocol: webSocket.protocol.slice(0, -1),
      title: 'WebSocket',
      summary: `The Herald endpoint (subprotocol ${PROTOCOL_NAME}).`,
      description: `Clients MUST offer the \`${PROTOCOL_NAME}\` subprotocol in \`Sec-WebSocket-Protocol\`; the server selects it. Every frame is a UTF-8 JSON text frame carrying one envelope.`,
      security: [SECURITY_REF],
      'x-herald-subprotocol': PROTOCOL_NAME,
    },
  };
  if (longPoll !== undefined) {
    result['longPoll'] = {
      host: longPoll.host,
      pathname: longPoll.pathname,
      protocol: longPoll.protocol.slice(0, -1),
      title: 'Long-poll fallback',
      summary: 'The same session over HTTP long-polling.',
      description: longPollDescription(longPoll),
      security: [SECURITY_REF],
      'x-herald-long-poll': {
        open: { method: 'POST', path: longPoll.pathname, headers: { 'Herald-Protocol': PROTOCOL_NAME } },
        send: { method: 'POST', path: `${longPoll.pathname}/send`, headers: ['Herald-Session'] },
        poll: { method: 'GET', path: `${longPoll.pathname}/poll`, query: { ack: 'the last transport cursor received' }, headers: ['Herald-Session'] },
        close: { method: 'DELETE', path: longPoll.pathname, headers: ['Herald-Session'] },
      },
    };
  }
  return result;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Builds the document; one instance per call keeps the key allocation local. */
class DocumentBuilder {
  readonly schemas: Record<string, JsonSchema> = {};
  readonly messages: Record<string, JsonSchema> = {};
  readonly channelMessages: Record<string, JsonSchema> = {};
  readonly operations: Record<string, JsonSchema> = {};
  private readonly schemaKeys = new ComponentKeys();
  private readonly messageKeys = new ComponentKeys();
  private readonly operationKeys = new ComponentKeys();
  private readonly channelKeys = new ComponentKeys();

  constructor() {
    for (const key of ['herald.Id', 'herald.Type', 'herald.Topic', 'herald.ErrorBody', 'herald.Envelope']) this.schemaKeys.key(`fixed:${key}`, key);
    this.schemas['herald.Id'] = { type: 'string', pattern: ID_PATTERN.source, description: 'A request id: chosen by the client, unique per session, reused by retries.' };
    this.schemas['herald.Type'] = { type: 'string', pattern: TYPE_PATTERN.source, description: 'A message type.' };
    this.schemas['herald.Topic'] = { type: 'string', pattern: TOPIC_PATTERN.source, description: 'A topic name.' };
    this.addSchema('herald.ErrorBody', systemBodyJsonSchemas.error);
    this.addSchema('herald.Envelope', envelopeJsonSchema);
  }

  private addSchema(key: string, schema: JsonSchema): { $ref: string } {
    const converted = toAsyncApiSchema(schema, key, (preferred) => this.schemaKeys.key(`definition:${preferred}`, preferred));
    this.schemas[key] = converted.schema;
    for (const [definitionKey, definition] of converted.definitions) this.schemas[definitionKey] = definition;
    return { $ref: componentRef(key) };
  }

  /** Registers a message in `components.messages` and on the channel; returns the channel ref operations use. */
  private addMessage(source: string, preferred: string, message: JsonSchema): { $ref: string } {
    const key = this.messageKeys.key(source, preferred);
    this.messages[key] = message;
    this.channelMessages[key] = { $ref: `#/components/messages/${key}` };
    return { $ref: `#/channels/${CHANNEL}/messages/${key}` };
  }

  private addOperation(source: string, preferred: string, operation: JsonSchema): void {
    this.operations[this.operationKeys.key(source, preferred)] = { channel: CHANNEL_REF, ...operation };
  }

  private bodySchema(source: string, preferred: string, schema: JsonSchema): { $ref: string } {
    return this.addSchema(this.schemaKeys.key(source, preferred), schema);
  }

  errorResponse(): { $ref: string } {
    return this.addMessage('error-response', 'herald.ErrorResponse', {
      name: 'herald.ErrorResponse',
      title: 'Error response',
      summary: 'The answer to a request that failed: a 4xx or 5xx code and an ErrorBody.',
      description: `\`type\` echoes the request's type, or is \`${SystemType.Error}\` when the request's own type was invalid. Branch on \`error\` and \`code\`; \`message\` is for humans.\n\n${errorCodeTable}`,
      contentType: 'application/json',
      correlationId: { $ref: '#/components/correlationIds/response' },
      payload: envelope(
        {
          kind: { const: Kind.Response },
          reqId: { $ref: componentRef('herald.Id') },
          type: { $ref: componentRef('herald.Type') },
          code: { type: 'integer', minimum: 400, maximum: 599, description: 'HTTP-style status of the failure.' },
          body: { $ref: componentRef('herald.ErrorBody') },
        },
        ['kind', 'reqId', 'type', 'code', 'body'],
      ),
      examples: [{ name: 'validation_failed', payload: errorResponseExample }],
      'x-herald-error-codes': errorCodes,
    });
  }

  request(entry: RequestEntry, error: { $ref: string }): void {
    const tags = [{ name: entry.system ? 'system' : 'request' }];
    const requestBody = this.bodySchema(`request:${entry.type}`, `${entry.type}.request`, entry.request);
    const responseBody = this.bodySchema(`response:${entry.type}`, `${entry.type}.response`, entry.response);
    const request = this.addMessage(`request:${entry.type}`, `${entry.type}.request`, {
      name: entry.type,
      title: `${entry.type} request`,
      ...describe(entry),
      contentType: 'application/json',
      correlationId: { $ref: '#/components/correlationIds/request' },
      tags,
      payload: envelope(
        {
          kind: { const: Kind.Request },
          id: { $ref: componentRef('herald.Id') },
          type: { const: entry.type },
          body: requestBody,
          resp: integer(0, RESP_DESCRIPTION),
          traceparent: { type: 'string', pattern: TRACEPARENT_PATTERN.source, description: TRACEPARENT_DESCRIPTION },
        },
        entry.requestBodyRequired ? ['kind', 'id', 'type', 'body'] : ['kind', 'id', 'type'],
      ),
      examples: [{ name: 'request', payload: requestExample(entry) }],
    });
    const response = this.addMessage(`response:${entry.type}`, `${entry.type}.response`, {
      name: entry.type,
      title: `${entry.type} response`,
      summary: `The successful answer to ${entry.type}.`,
      contentType: 'application/json',
      correlationId: { $ref: '#/components/correlationIds/response' },
      tags,
      payload: envelope(
        { kind: { const: Kind.Response }, reqId: { $ref: componentRef('herald.Id') }, type: { const: entry.type }, code: { const: Status.OK }, body: responseBody },
        entry.responseBodyRequired ? ['kind', 'reqId', 'type', 'code', 'body'] : ['kind', 'reqId', 'type', 'code'],
      ),
      examples: [{ name: 'response', payload: responseExample(entry) }],
    });
    this.addOperation(`send:${entry.type}`, entry.type, {
      action: 'send',
      title: entry.type,
      ...describe(entry),
      tags,
      ...(entry.type === SystemType.Authenticate ? { security: [SECURITY_REF] } : {}),
      messages: [request],
      reply: { channel: CHANNEL_REF, messages: [response, error] },
    });
  }

  /** Channels of the contract's topic patterns, each with the notifications it carries and a receive operation. */
  readonly topicChannels: Record<string, JsonSchema> = {};

  topic(pattern: string, definition: TopicDefinition): void {
    this.channelKeys.key('fixed:connection', CHANNEL);
    const key = this.channelKeys.key(`topic:${pattern}`, `topic.${pattern}`);
    const parameters: Record<string, JsonSchema> = {};
    for (const [, name] of pattern.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) {
      parameters[name as string] = { description: `One segment of the topic name (no "/"): ${name as string}.` };
    }
    const messages: Record<string, JsonSchema> = {};
    for (const type of definition.notifications) {
      const message = this.messageKeys.key(`notification:${type}`, type);
      messages[message] = { $ref: `#/components/messages/${message}` };
    }
    const history = definition.history;
    const kept =
      history === undefined
        ? "Its history is the broker's (Welcome topicHistory)."
        : `It keeps the last ${history.messages} messages${history.ttlMs === undefined ? '' : ` of at most ${history.ttlMs} ms`} for resume and since, announced in herald.Subscribed as history.`;
    const conflate = definition.conflate === undefined || definition.conflate === false ? undefined : definition.conflate === true ? {} : { maxRate: definition.conflate.maxRate };
    const latest =
      conflate === undefined
        ? ''
        : ` Conflated (latest only): a subscriber that fell behind gets the newest message, marked conflated: true, instead of every one it missed${conflate.maxRate === undefined ? '' : `; live delivery is capped at ${conflate.maxRate} messages a second`}.`;
    const delta =
      definition.delta === true
        ? ` Delta topic: a subscriber that asks with delta: "fossil" in ${SystemType.Subscribe} gets each publication after a full one as a delta of its body against the previous offset's (PROTOCOL.md, Delta topics).`
        : '';
    this.topicChannels[key] = {
      address: pattern,
      title: pattern,
      description: `${definition.description === undefined ? '' : `${definition.description}\n\n`}Topic notifications of the topics ${pattern} stands for, on the Herald connection: subscribe with ${SystemType.Subscribe}. ${kept}${latest}${delta}`,
      ...(Object.keys(parameters).length === 0 ? {} : { parameters }),
      messages,
      ...(history === undefined ? {} : { 'x-herald-history': history }),
      ...(conflate === undefined ? {} : { 'x-herald-conflate': conflate }),
      ...(definition.delta === true ? { 'x-herald-delta': { formats: ['fossil'] } } : {}),
    };
    this.operations[this.operationKeys.key(`receive-topic:${pattern}`, `receive.topic.${pattern}`)] = {
      channel: { $ref: `#/channels/${key}` },
      action: 'receive',
      title: pattern,
      summary: `Notifications published on ${pattern}.`,
      tags: [{ name: 'topic' }],
      messages: Object.keys(messages).map((message) => ({ $ref: `#/channels/${key}/messages/${message}` })),
    };
  }

  notification(entry: NotificationEntry): void {
    const tags = [{ name: entry.system ? 'system' : 'notification' }];
    const body = this.bodySchema(`notification:${entry.type}`, entry.type, entry.body);
    const properties: JsonSchema = { kind: { const: Kind.Notification }, type: { const: entry.type }, body };
    // topic + offset, or seq, never both (PROTOCOL.md 4.6); system notifications carry neither,
    // but for herald.PresenceDiff, which travels in its topic's stream.
    const inTopic = entry.type === SystemType.PresenceDiff;
    const positionRules = entry.system && !inTopic
      ? {}
      : {
          dependencies: { topic: ['offset'], offset: ['topic'] },
          not: { required: ['topic', 'seq'] },
        };
    if (inTopic) {
      properties['topic'] = { $ref: componentRef('herald.Topic') };
      properties['offset'] = integer(1, 'Position in the topic, contiguous per epoch.');
    } else if (!entry.system) {
      properties['topic'] = { $ref: componentRef('herald.Topic') };
      properties['offset'] = integer(1, 'Position in the topic, contiguous per epoch (topic notifications).');
      properties['seq'] = integer(1, 'Per-session sequence number (private notifications); acknowledge with ack.');
    }
    const message = this.addMessage(`notification:${entry.type}`, entry.type, {
      name: entry.type,
      title: entry.type,
      ...describe(entry),
      contentType: 'application/json',
      tags,
      payload: envelope(properties, entry.bodyRequired ? ['kind', 'type', 'body'] : ['kind', 'type'], positionRules),
      examples: [{ name: 'notification', payload: notificationExample(entry) }],
      ...(entry.type === SystemType.Goodbye ? { description: `${entry.description ?? ''}\n\n${closeCodeTable}`, 'x-herald-close-codes': closeCodes } : {}),
      ...(entry.type === SystemType.Error ? { description: `${entry.description ?? ''}\n\n${errorCodeTable}`, 'x-herald-error-codes': errorCodes } : {}),
    });
    this.addOperation(`receive:${entry.type}`, entry.type, { action: 'receive', title: entry.type, ...describe(entry), tags, messages: [message] });
  }

  keepAlive(): void {
    const tags = [{ name: 'keep-alive' }];
    const bare = (kind: string, summary: string) =>
      this.addMessage(`kind:${kind}`, kind, { name: kind, title: kind, summary, contentType: 'application/json', tags, payload: envelope({ kind: { const: kind } }, ['kind']), examples: [{ name: kind, payload: { kind } }] });
    const ping = bare(Kind.Ping, 'A keep-alive probe; the receiver answers with pong. Works before authentication.');
    const pong = bare(Kind.Pong, 'The answer to a ping.');
    const ack = this.addMessage(`kind:${Kind.Ack}`, Kind.Ack, {
      name: Kind.Ack,
      title: Kind.Ack,
      summary: 'A cumulative acknowledgement: the client holds every private notification up to seq (and, with resp, has received that many responses on this connection).',
      description:
        'Send within 1 s of a private notification and at least every replayWindow / 2 of them. Topic notifications are never acknowledged. Responses no later request confirmed (resp) are confirmed by an ack within 1 s.',
      contentType: 'application/json',
      tags: [{ name: 'delivery' }],
      payload: envelope({ kind: { const: Kind.Ack }, seq: integer(0, 'The highest private seq held.'), resp: integer(0, RESP_DESCRIPTION) }, ['kind', 'seq']),
      examples: [{ name: 'ack', payload: { kind: Kind.Ack, seq: 58, resp: 120 } }],
    });
    this.addOperation('send-ping', 'ping', {
      action: 'send',
      title: 'ping',
      summary: 'Probe the server at any time (for example when a tab becomes visible); it answers pong.',
      tags,
      messages: [ping],
      reply: { channel: CHANNEL_REF, messages: [pong] },
    });
    this.addOperation('receive-ping', 'ping.receive', {
      action: 'receive',
      title: 'ping (from the server)',
      summary: 'The server pings after pingIntervalMs of silence; answer with pong at once, from the message handler.',
      tags,
      messages: [ping],
      reply: { channel: CHANNEL_REF, messages: [pong] },
    });
    this.addOperation('send-ack', 'ack', { action: 'send', title: 'ack', summary: 'Acknowledge private notifications.', tags: [{ name: 'delivery' }], messages: [ack] });
  }
}

/**
 * The AsyncAPI 3.0.0 document of a Herald endpoint: its servers (WebSocket, and long-poll
 * unless disabled), the `herald.v1` subprotocol, bearer security, every request of the
 * contract as a `send` operation with its response as `reply`, every notification as a
 * `receive` operation, the `herald.*` system messages, keep-alive and acks, and the close and
 * error codes with their retry advice. Payloads are whole envelopes with the body's JSON Schema
 * in `components.schemas`.
 *
 * @example
 * import { asyncApiDocument } from '@herald/asyncapi';
 * const document = asyncApiDocument(chat, { title: 'Chat', version: '1.2.0', url: 'wss://chat.example.com/ws' });
 * await writeFile('asyncapi.json', JSON.stringify(document, null, 2));
 */
export function asyncApiDocument(contract: ContractDefinition, options: DocumentOptions): AsyncApiDocument {
  const { longPoll } = endpoints(options);
  const messages = catalog(contract);
  const builder = new DocumentBuilder();
  const error = builder.errorResponse();
  for (const entry of messages.requests) builder.request(entry, error);
  for (const entry of messages.notifications) builder.notification(entry);
  builder.keepAlive();
  for (const [pattern, definition] of Object.entries(contract.topics ?? {})) builder.topic(pattern, definition);
  return {
    asyncapi: '3.0.0',
    info: { title: options.title, version: options.version, description: overview(options, longPoll) },
    defaultContentType: 'application/json',
    servers: servers(options),
    channels: {
      [CHANNEL]: {
        address: null,
        title: 'Herald connection',
        description:
          'The one connection of a session. Frames carry envelopes told apart by kind and type; requests and responses are correlated by id and reqId.',
        messages: builder.channelMessages,
        bindings: {
          ws: {
            method: 'GET',
            headers: {
              type: 'object',
              properties: {
                'Sec-WebSocket-Protocol': {
                  type: 'string',
                  pattern: `(^|,)\\s*${escapeRegExp(PROTOCOL_NAME)}\\s*(,|$)`,
                  description: `Must offer ${PROTOCOL_NAME}; the server selects it.`,
                },
                Authorization: {
                  type: 'string',
                  pattern: '^Bearer .+$',
                  description: 'Native clients only, optional: authenticates the session at the upgrade. Browsers use herald.Authenticate instead.',
                },
              },
              required: ['Sec-WebSocket-Protocol'],
            },
            bindingVersion: '0.1.0',
          },
        },
      },
      ...builder.topicChannels,
    },
    operations: builder.operations,
    components: {
      schemas: builder.schemas,
      messages: builder.messages,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A bearer token, or a short-lived single-use ticket. Native clients send it as `Authorization: Bearer <token>` on the ' +
            'WebSocket upgrade (or the long-poll open); a rejected one is refused with 401 invalid_token. Browsers, which cannot set ' +
            `headers on an upgrade, connect without it and send it in-session with \`${SystemType.Authenticate}\` \`{token}\` within ` +
            'authDeadlineMs of the Welcome, and again before expiresAt to refresh. Tokens never go in the URL.',
        },
      },
      correlationIds: {
        request: { description: 'The request id a response answers.', location: '$message.payload#/id' },
        response: { description: 'The id of the request answered.', location: '$message.payload#/reqId' },
      },
    },
    'x-herald-protocol': PROTOCOL_NAME,
    'x-herald-close-codes': closeCodes,
    'x-herald-error-codes': errorCodes,
  };
}
