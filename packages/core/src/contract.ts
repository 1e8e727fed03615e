/**
 * The contract: every request type with its body and response schemas, and every
 * notification type with its body schema. Schemas are Standard Schema, so users bring Zod,
 * Valibot, ArkType or anything else that implements it; the same contract types the
 * server's handlers and the client's calls, validates at runtime and yields JSON Schema.
 */
import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import { SYSTEM_TYPE_PREFIX } from './constants.ts';
import { TYPE_PATTERN } from './codec.ts';
import type { Issue } from './envelope.ts';
import type { JsonSchema } from './envelope-schema.ts';
import { type TopicDefinition, compilePattern } from './topic-patterns.ts';

/** Any Standard Schema. */
export type Schema<Output = unknown> = StandardSchemaV1<unknown, Output>;

/** A request type: what the client sends and what the server answers. */
export interface RequestDefinition<Request extends Schema = Schema, Response extends Schema = Schema> {
  readonly request: Request;
  readonly response: Response;
  readonly description?: string;
  /** JSON Schemas to document with, for schema libraries that cannot produce them. */
  readonly jsonSchema?: { readonly request?: JsonSchema; readonly response?: JsonSchema };
}

/** A notification type: what the server pushes. */
export interface NotificationDefinition<Body extends Schema = Schema> {
  readonly body: Body;
  readonly description?: string;
  readonly jsonSchema?: JsonSchema;
}

/** The shape `defineContract` accepts. */
export interface ContractDefinition {
  readonly requests: Readonly<Record<string, RequestDefinition>>;
  readonly notifications: Readonly<Record<string, NotificationDefinition>>;
  /**
   * The topics the application uses, as patterns (`room/{roomId}`), each with the notification
   * types it carries and its history. When given, the server refuses subscriptions to and
   * publishes on any other topic (`$all` aside), and the client's `subscribe` is typed by them.
   */
  readonly topics?: Readonly<Record<string, TopicDefinition>>;
}

/** Topic patterns may only name the contract's own notification types. */
type CheckedTopics<D extends ContractDefinition> = D extends { readonly topics: infer T }
  ? { readonly topics: { readonly [P in keyof T]: TopicDefinition<keyof D['notifications'] & string> } }
  : unknown;

/** A checked contract. */
export type Contract<Definition extends ContractDefinition = ContractDefinition> = Definition & { readonly '~herald': 'contract' };

/** The request types of a contract. */
export type RequestType<C extends ContractDefinition> = keyof C['requests'] & string;
/** The notification types of a contract. */
export type NotificationType<C extends ContractDefinition> = keyof C['notifications'] & string;
/** What a client passes as the body of request `T`. */
export type RequestInput<C extends ContractDefinition, T extends RequestType<C>> = StandardSchemaV1.InferInput<C['requests'][T]['request']>;
/** What a handler receives for request `T`, after validation. */
export type RequestBody<C extends ContractDefinition, T extends RequestType<C>> = StandardSchemaV1.InferOutput<C['requests'][T]['request']>;
/** What a handler returns for request `T`. */
export type ResponseInput<C extends ContractDefinition, T extends RequestType<C>> = StandardSchemaV1.InferInput<C['requests'][T]['response']>;
/** What a client receives as the response to request `T`. */
export type ResponseBody<C extends ContractDefinition, T extends RequestType<C>> = StandardSchemaV1.InferOutput<C['requests'][T]['response']>;
/** The body of notification `T`. */
export type NotificationBody<C extends ContractDefinition, T extends NotificationType<C>> = StandardSchemaV1.InferInput<
  C['notifications'][T]['body']
>;

function checkType(type: string): void {
  if (!TYPE_PATTERN.test(type)) throw new TypeError(`type ${JSON.stringify(type)} must match ${TYPE_PATTERN.source}`);
  if (type.startsWith(SYSTEM_TYPE_PREFIX)) throw new TypeError(`type ${JSON.stringify(type)} uses the reserved prefix "${SYSTEM_TYPE_PREFIX}"`);
}

/**
 * Declares a contract and checks its type names.
 *
 * @example
 * import { z } from 'zod';
 * export const chat = defineContract({
 *   requests: {
 *     'chat.Send': { request: z.object({ room: z.string(), text: z.string().max(500) }), response: z.object({ id: z.string() }) },
 *   },
 *   notifications: {
 *     'chat.Message': { body: z.object({ room: z.string(), text: z.string(), from: z.string() }) },
 *   },
 *   topics: {
 *     'room/{roomId}': { notifications: ['chat.Message'], history: { messages: 500, ttlMs: 3_600_000 } },
 *   },
 * });
 */
export function defineContract<const Definition extends ContractDefinition>(definition: Definition & CheckedTopics<Definition>): Contract<Definition> {
  for (const type of Object.keys(definition.requests)) checkType(type);
  for (const type of Object.keys(definition.notifications)) checkType(type);
  const notificationTypes = Object.keys(definition.notifications);
  for (const [pattern, topic] of Object.entries(definition.topics ?? {})) compilePattern(pattern, topic, notificationTypes);
  return { ...definition, '~herald': 'contract' };
}

/** The result of validating a value against a Standard Schema. */
export type Validation = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly issues: readonly Issue[] };

function pathOf(issue: StandardSchemaV1.Issue): Array<string | number> {
  if (issue.path === undefined) return [];
  return issue.path.map((segment) => {
    const key = typeof segment === 'object' ? segment.key : segment;
    return typeof key === 'number' ? key : String(key);
  });
}

function toValidation(result: StandardSchemaV1.Result<unknown>): Validation {
  if (result.issues === undefined) return { ok: true, value: result.value };
  return { ok: false, issues: result.issues.map((issue) => ({ path: pathOf(issue), message: issue.message })) };
}

/** Validates `value`; synchronous when the schema library is. */
export function validate(schema: Schema, value: unknown): Validation | Promise<Validation> {
  const result = schema['~standard'].validate(value);
  return result instanceof Promise ? result.then(toValidation) : toValidation(result);
}

function hasJsonSchema(schema: Schema): schema is Schema & StandardJSONSchemaV1 {
  const standard = schema['~standard'] as Partial<StandardJSONSchemaV1.Props>;
  return typeof standard.jsonSchema?.input === 'function';
}

function toJsonSchema(schema: Schema, direction: 'input' | 'output', explicit: JsonSchema | undefined, what: string): JsonSchema {
  if (explicit !== undefined) return explicit;
  if (hasJsonSchema(schema)) return schema['~standard'].jsonSchema[direction]({ target: 'draft-2020-12' });
  throw new TypeError(`${what}: the schema library (${schema['~standard'].vendor}) cannot produce JSON Schema; give jsonSchema in the contract`);
}

/** JSON Schema of every message body of a contract. */
export interface ContractJsonSchemas {
  readonly requests: Readonly<Record<string, { readonly request: JsonSchema; readonly response: JsonSchema }>>;
  readonly notifications: Readonly<Record<string, JsonSchema>>;
}

/**
 * JSON Schema (draft 2020-12) of every request, response and notification body, from the
 * schemas themselves (Standard JSON Schema) or the contract's explicit `jsonSchema`.
 *
 * @example
 * const schemas = contractJsonSchemas(chat);
 * schemas.requests['chat.Send'].request; // { type: 'object', properties: { room: …, text: … }, … }
 */
export function contractJsonSchemas(contract: ContractDefinition): ContractJsonSchemas {
  const requests: Record<string, { request: JsonSchema; response: JsonSchema }> = {};
  for (const [type, definition] of Object.entries(contract.requests)) {
    requests[type] = {
      request: toJsonSchema(definition.request, 'input', definition.jsonSchema?.request, `${type} request`),
      response: toJsonSchema(definition.response, 'output', definition.jsonSchema?.response, `${type} response`),
    };
  }
  const notifications: Record<string, JsonSchema> = {};
  for (const [type, definition] of Object.entries(contract.notifications)) {
    notifications[type] = toJsonSchema(definition.body, 'output', definition.jsonSchema, `${type} notification`);
  }
  return { requests, notifications };
}
