/**
 * Turns the draft 2020-12 schemas the core produces into AsyncAPI Schema Objects, which are a
 * superset of draft-07: a tuple's `prefixItems` becomes `items` (and its `items` becomes
 * `additionalItems`), `dependentRequired` becomes `dependencies`, and `$defs` move to
 * `components.schemas` with every local `$ref` pointed there, since a schema embedded in the
 * document no longer is the root its refs were written against.
 */
import type { JsonSchema } from '@herald/core';

const SCHEMA_KEYWORDS = [
  'additionalItems',
  'additionalProperties',
  'propertyNames',
  'contains',
  'not',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
  'contentSchema',
] as const;
const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', 'dependentSchemas'] as const;
const SCHEMA_LIST_KEYWORDS = ['allOf', 'anyOf', 'oneOf'] as const;
const DEFINITIONS = ['$defs', 'definitions'] as const;

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where a schema's local refs now point. */
class RefTarget {
  constructor(
    private readonly key: string,
    private readonly hoisted: ReadonlyMap<string, string>,
  ) {}

  rewrite(ref: string): string {
    for (const [pointer, key] of this.hoisted) {
      if (ref === pointer || ref.startsWith(`${pointer}/`)) return `${componentRef(key)}${ref.slice(pointer.length)}`;
    }
    if (ref === '#') return componentRef(this.key);
    if (ref.startsWith('#/')) return `${componentRef(this.key)}${ref.slice(1)}`;
    return ref;
  }
}

/** The `$ref` of a schema in `components.schemas`. */
export function componentRef(key: string): string {
  return `#/components/schemas/${key}`;
}

function convert(node: unknown, target: RefTarget): unknown {
  if (typeof node === 'boolean') return node;
  if (!isObject(node)) return node;
  const result: JsonSchema = {};
  for (const [keyword, value] of Object.entries(node)) {
    if (keyword === '$schema' || keyword === '$id' || (DEFINITIONS as readonly string[]).includes(keyword)) continue;
    if (keyword === '$ref' && typeof value === 'string') result[keyword] = target.rewrite(value);
    else if ((SCHEMA_KEYWORDS as readonly string[]).includes(keyword)) result[keyword] = convert(value, target);
    else if ((SCHEMA_MAP_KEYWORDS as readonly string[]).includes(keyword) && isObject(value)) {
      result[keyword] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, convert(schema, target)]));
    } else if ((SCHEMA_LIST_KEYWORDS as readonly string[]).includes(keyword) && Array.isArray(value)) {
      result[keyword] = value.map((schema: unknown) => convert(schema, target));
    } else if (keyword === 'prefixItems' && Array.isArray(value)) {
      result['items'] = value.map((schema: unknown) => convert(schema, target));
      if (node['items'] !== undefined) result['additionalItems'] = convert(node['items'], target);
    } else if (keyword === 'items') {
      if (node['prefixItems'] === undefined) result[keyword] = Array.isArray(value) ? value.map((schema: unknown) => convert(schema, target)) : convert(value, target);
    } else if (keyword === 'dependentRequired') result['dependencies'] = value;
    else result[keyword] = value;
  }
  return result;
}

/** A converted schema and the definitions it moved out. */
export interface AsyncApiSchema {
  readonly schema: JsonSchema;
  /** The schema's `$defs`, converted, by their new key in `components.schemas`. */
  readonly definitions: ReadonlyMap<string, JsonSchema>;
}

/**
 * Converts `schema` for `components.schemas[key]`. Its `$defs` get keys from `allocate`
 * (asked with `key.name`), and every ref to them is rewritten.
 *
 * @example
 * const { schema, definitions } = toAsyncApiSchema(body, 'chat.Send.request', (preferred) => preferred);
 */
export function toAsyncApiSchema(schema: JsonSchema, key: string, allocate: (preferred: string) => string): AsyncApiSchema {
  const hoisted = new Map<string, string>();
  const moved: Array<[string, unknown]> = [];
  for (const keyword of DEFINITIONS) {
    const defs = schema[keyword];
    if (!isObject(defs)) continue;
    for (const [name, definition] of Object.entries(defs)) {
      const definitionKey = allocate(`${key}.${name}`);
      hoisted.set(`#/${keyword}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`, definitionKey);
      moved.push([definitionKey, definition]);
    }
  }
  const target = new RefTarget(key, hoisted);
  const definitions = new Map(moved.map(([definitionKey, definition]) => [definitionKey, convert(definition, target) as JsonSchema]));
  return { schema: convert(schema, target) as JsonSchema, definitions };
}
