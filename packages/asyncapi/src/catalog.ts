/**
 * Every message a Herald endpoint speaks, application and system alike, with body schemas and
 * example envelopes: the one model both the AsyncAPI document and the docs page are written
 * from, so the two cannot disagree.
 */
import {
  Kind,
  Status,
  contractJsonSchemas,
  systemBodyJsonSchemas,
  validate,
  type ContractDefinition,
  type JsonSchema,
  type Schema,
} from '@herald/core';
import { exampleValue } from './example.ts';
import { systemNotifications, systemRequests } from './protocol-reference.ts';

/** A request type and its response. */
export interface RequestEntry {
  readonly type: string;
  readonly system: boolean;
  readonly summary: string | undefined;
  readonly description: string | undefined;
  readonly request: JsonSchema;
  readonly response: JsonSchema;
  /** Whether a request without `body` is refused (the schema does not accept `undefined`). */
  readonly requestBodyRequired: boolean;
  readonly responseBodyRequired: boolean;
  /** Example bodies: given for system types, generated from the schemas otherwise. */
  readonly example: { readonly request: unknown; readonly response: unknown };
}

/** A notification type. */
export interface NotificationEntry {
  readonly type: string;
  readonly system: boolean;
  readonly summary: string | undefined;
  readonly description: string | undefined;
  readonly body: JsonSchema;
  readonly bodyRequired: boolean;
  readonly example: unknown;
}

/** What an endpoint speaks. */
export interface Catalog {
  readonly requests: readonly RequestEntry[];
  readonly notifications: readonly NotificationEntry[];
}

/** True when the schema accepts a missing body; a schema that validates asynchronously is taken to require one. */
function acceptsMissing(schema: Schema): boolean {
  const result = validate(schema, undefined);
  return !(result instanceof Promise) && result.ok;
}

/** The catalog of a contract: its own types first, then the `herald.*` ones. */
export function catalog(contract: ContractDefinition): Catalog {
  const schemas = contractJsonSchemas(contract);
  const requests: RequestEntry[] = Object.entries(contract.requests).map(([type, definition]) => {
    const bodies = schemas.requests[type];
    if (bodies === undefined) throw new Error(`no JSON Schema for ${type}`);
    return {
      type,
      system: false,
      summary: undefined,
      description: definition.description,
      request: bodies.request,
      response: bodies.response,
      requestBodyRequired: !acceptsMissing(definition.request),
      responseBodyRequired: !acceptsMissing(definition.response),
      example: { request: exampleValue(bodies.request), response: exampleValue(bodies.response) },
    };
  });
  for (const [type, info] of Object.entries(systemRequests)) {
    const request = systemBodyJsonSchemas.requests[type];
    const response = systemBodyJsonSchemas.responses[type];
    if (request === undefined || response === undefined) throw new Error(`no JSON Schema for ${type}`);
    requests.push({ type, system: true, ...info, request, response, requestBodyRequired: true, responseBodyRequired: true });
  }
  const notifications: NotificationEntry[] = Object.entries(contract.notifications).map(([type, definition]) => {
    const body = schemas.notifications[type];
    if (body === undefined) throw new Error(`no JSON Schema for ${type}`);
    return {
      type,
      system: false,
      summary: undefined,
      description: definition.description,
      body,
      bodyRequired: !acceptsMissing(definition.body),
      example: exampleValue(body),
    };
  });
  for (const [type, info] of Object.entries(systemNotifications)) {
    const body = systemBodyJsonSchemas.notifications[type];
    if (body === undefined) throw new Error(`no JSON Schema for ${type}`);
    notifications.push({ type, system: true, ...info, body, bodyRequired: true });
  }
  return { requests, notifications };
}

/** An example `req` envelope. */
export function requestExample(entry: RequestEntry): Record<string, unknown> {
  return { kind: Kind.Request, id: '1', type: entry.type, body: entry.example.request };
}

/** An example successful `resp` envelope. */
export function responseExample(entry: RequestEntry): Record<string, unknown> {
  return { kind: Kind.Response, reqId: '1', type: entry.type, code: Status.OK, body: entry.example.response };
}

/** An example notification: a topic notification for application types, a bare one for system types. */
export function notificationExample(entry: NotificationEntry): Record<string, unknown> {
  const position = entry.system ? {} : { topic: 'example/topic', offset: 1 };
  return { kind: Kind.Notification, type: entry.type, ...position, body: entry.example };
}

/** An example error `resp`. */
export const errorResponseExample: Readonly<Record<string, unknown>> = {
  kind: Kind.Response,
  reqId: '1',
  type: 'example.Type',
  code: Status.BadRequest,
  body: { error: 'validation_failed', message: 'body does not match example.Type', issues: [{ path: ['body', 'text'], message: 'Too big: expected string to have <=500 characters' }] },
};
