/**
 * Example values from JSON Schema, for the examples in the AsyncAPI document and the docs page.
 * The aim is a value that passes the schema and reads naturally, not every corner of JSON
 * Schema: a declared example, default or const wins, then the first enum value, then a value
 * built from the type and its bounds.
 */
import type { JsonSchema } from '@herald/core';

const MAX_DEPTH = 8;

const FORMAT_EXAMPLES: Readonly<Record<string, string>> = {
  uuid: '3f2c8a4e-9b1d-4c6e-8f7a-2d5b0e1c9a47',
  email: 'user@example.com',
  uri: 'https://example.com/',
  url: 'https://example.com/',
  'date-time': '2026-11-02T09:30:00Z',
  date: '2026-11-02',
  time: '09:30:00Z',
  duration: 'PT15M',
  ipv4: '192.0.2.1',
  ipv6: '2001:db8::1',
  hostname: 'example.com',
  cuid: 'cjld2cjxh0000qzrmn831i7rn',
  cuid2: 'tz4a98xxat96iws9zmbrgj3a',
  ulid: '01JH7Q3M8ZP4W6V2R9XK5N0B3C',
  nanoid: 'V1StGXR8_Z5jdHi6B-myT',
  base64: 'aGVyYWxk',
  base64url: 'aGVyYWxk',
  emoji: '👋',
};

/** Strings tried in turn against a `pattern` when nothing better is known. */
const CANDIDATES = ['example', 'a', 'A', '1', 'ab', 'example-1', 'example_1', 'example.1', 'A1', 'a1', 'x/1', '0'];

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Resolves a local `$ref` (`#`, `#/$defs/…`, any JSON pointer into the root). */
export function resolveRef(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const part of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
    node = isSchema(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
  }
  return isSchema(node) ? node : undefined;
}

function types(schema: JsonSchema): string[] {
  const declared = schema['type'];
  if (typeof declared === 'string') return [declared];
  if (Array.isArray(declared)) return declared.filter((type): type is string => typeof type === 'string');
  if (isSchema(schema['properties']) || isSchema(schema['additionalProperties'])) return ['object'];
  if (schema['items'] !== undefined || Array.isArray(schema['prefixItems'])) return ['array'];
  return [];
}

function number(schema: JsonSchema, integer: boolean): number {
  const min = typeof schema['minimum'] === 'number' ? schema['minimum'] : undefined;
  const max = typeof schema['maximum'] === 'number' ? schema['maximum'] : undefined;
  const exclusiveMin = typeof schema['exclusiveMinimum'] === 'number' ? schema['exclusiveMinimum'] : undefined;
  const exclusiveMax = typeof schema['exclusiveMaximum'] === 'number' ? schema['exclusiveMaximum'] : undefined;
  const step = typeof schema['multipleOf'] === 'number' && schema['multipleOf'] > 0 ? schema['multipleOf'] : integer ? 1 : undefined;
  let low = min ?? (exclusiveMin === undefined ? undefined : exclusiveMin + (step ?? 1));
  const high = max ?? (exclusiveMax === undefined ? undefined : exclusiveMax - (step ?? 1));
  if (low !== undefined && step !== undefined) low = Math.ceil(low / step) * step;
  if (low !== undefined && low > 0) return low;
  if (high !== undefined && high < 0) return step === undefined ? high : Math.floor(high / step) * step;
  return 0;
}

function fitLength(value: string, schema: JsonSchema): string {
  const min = typeof schema['minLength'] === 'number' ? schema['minLength'] : 0;
  const max = typeof schema['maxLength'] === 'number' ? schema['maxLength'] : Infinity;
  let characters = [...value];
  if (characters.length < min) {
    const filler = characters.length > 0 ? characters : ['x'];
    while (characters.length < min) characters = [...characters, ...filler];
    characters = characters.slice(0, min);
  }
  return characters.slice(0, max).join('');
}

function matches(pattern: RegExp | undefined, value: string): boolean {
  return pattern === undefined || pattern.test(value);
}

function string(schema: JsonSchema): string {
  let pattern: RegExp | undefined;
  if (typeof schema['pattern'] === 'string') {
    try {
      pattern = new RegExp(schema['pattern'], 'u');
    } catch {
      pattern = undefined;
    }
  }
  const format = typeof schema['format'] === 'string' ? FORMAT_EXAMPLES[schema['format']] : undefined;
  for (const candidate of format === undefined ? CANDIDATES : [format, ...CANDIDATES]) {
    const fitted = fitLength(candidate, schema);
    if (matches(pattern, fitted)) return fitted;
  }
  return fitLength(format ?? 'example', schema);
}

/**
 * Where the generator is: the root `$ref`s resolve against, and the refs being expanded, so a
 * recursive schema stops at its first repetition (the property left out, the array empty).
 */
interface Walk {
  readonly root: JsonSchema;
  readonly expanding: ReadonlySet<string>;
  readonly depth: number;
}

function object(schema: JsonSchema, walk: Walk): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const properties = isSchema(schema['properties']) ? schema['properties'] : {};
  for (const [name, property] of Object.entries(properties)) {
    const value = build(property, walk);
    if (value !== undefined) result[name] = value;
  }
  if (Object.keys(properties).length === 0 && isSchema(schema['additionalProperties'])) {
    const key = isSchema(schema['propertyNames']) ? build(schema['propertyNames'], walk) : 'key';
    const value = build(schema['additionalProperties'], walk);
    if (typeof key === 'string' && value !== undefined) result[key] = value;
  }
  return result;
}

function array(schema: JsonSchema, walk: Walk): unknown[] {
  const prefix = Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : Array.isArray(schema['items']) ? schema['items'] : undefined;
  if (prefix !== undefined) return prefix.map((item: unknown) => build(item, walk) ?? null);
  const min = typeof schema['minItems'] === 'number' ? schema['minItems'] : 0;
  const max = typeof schema['maxItems'] === 'number' ? schema['maxItems'] : Infinity;
  const item = build(schema['items'] ?? {}, walk);
  const count = Math.min(max, Math.max(min, item === undefined ? 0 : 1));
  const items = Array.from({ length: count }, () => item ?? null);
  if (schema['uniqueItems'] === true && typeof item === 'number') return items.map((value, index) => (value as number) + index);
  return items;
}

function build(node: unknown, parent: Walk): unknown {
  if (node === true) return {};
  if (!isSchema(node) || parent.depth >= MAX_DEPTH) return undefined;
  const walk = { ...parent, depth: parent.depth + 1 };
  if (Array.isArray(node['examples']) && node['examples'].length > 0) return node['examples'][0];
  if (node['default'] !== undefined) return node['default'];
  if (node['const'] !== undefined) return node['const'];
  if (Array.isArray(node['enum']) && node['enum'].length > 0) return node['enum'][0];
  const ref = node['$ref'];
  if (typeof ref === 'string') {
    const target = resolveRef(walk.root, ref);
    if (target === undefined || walk.expanding.has(ref)) return undefined;
    return build(target, { ...walk, expanding: new Set([...walk.expanding, ref]) });
  }
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const options = node[keyword];
    if (Array.isArray(options) && options.length > 0) {
      const preferred = options.find((option: unknown) => !(isSchema(option) && option['type'] === 'null')) ?? options[0];
      return build({ ...node, [keyword]: undefined, ...(isSchema(preferred) ? preferred : {}) }, parent);
    }
  }
  if (Array.isArray(node['allOf'])) {
    const merged = node['allOf'].reduce<JsonSchema>((all, part: unknown) => (isSchema(part) ? mergeSchemas(all, part) : all), { ...node, allOf: undefined });
    return build(merged, parent);
  }
  const type = types(node).find((candidate) => candidate !== 'null') ?? types(node)[0];
  switch (type) {
    case 'object':
      return object(node, walk);
    case 'array':
      return array(node, walk);
    case 'string':
      return string(node);
    case 'integer':
      return number(node, true);
    case 'number':
      return number(node, false);
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return {};
  }
}

function mergeSchemas(a: JsonSchema, b: JsonSchema): JsonSchema {
  const properties = { ...(isSchema(a['properties']) ? a['properties'] : {}), ...(isSchema(b['properties']) ? b['properties'] : {}) };
  const required = [...(Array.isArray(a['required']) ? a['required'] : []), ...(Array.isArray(b['required']) ? b['required'] : [])];
  return { ...a, ...b, properties, required };
}

/**
 * An example value for a JSON Schema: its first `examples` entry, `default`, `const` or `enum`
 * value, else one built from the type (objects with their properties, one-item arrays,
 * strings fitted to `format`, `pattern` and length bounds, numbers at their lower bound).
 * `$ref`s are resolved against `root` (the schema itself by default).
 *
 * @example
 * exampleValue({ type: 'object', properties: { state: { enum: ['WAITING', 'ACCEPTED'] }, n: { type: 'integer', minimum: 1 } } });
 * // { state: 'WAITING', n: 1 }
 */
export function exampleValue(schema: JsonSchema, root: JsonSchema = schema): unknown {
  return build(schema, { root, expanding: new Set(), depth: 0 });
}
