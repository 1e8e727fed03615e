/**
 * A JSON Schema as rows of a property table, for people: one row per field with its path,
 * type, whether it is required, its constraints and its description. Nested objects and array
 * items get rows of their own; recursive schemas stop at their first repetition.
 */
import type { JsonSchema } from '@herald/core';
import { resolveRef } from './example.ts';

/** One field of a schema. */
export interface SchemaRow {
  /** `room`, `filters.skills[]`, …; empty for a body that is not an object. */
  readonly path: string;
  readonly depth: number;
  readonly type: string;
  readonly required: boolean;
  readonly constraints: readonly Constraint[];
  readonly description: string | undefined;
}

/** One constraint: `text`, and a literal value to show as code (a pattern, a default). */
export interface Constraint {
  readonly text: string;
  readonly code?: string;
}

const MAX_DEPTH = 6;

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function json(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

interface Resolved {
  readonly schema: JsonSchema;
  /** The refs followed to get here, to stop on recursion. */
  readonly refs: ReadonlySet<string>;
  readonly recursive: boolean;
}

function resolve(node: unknown, root: JsonSchema, refs: ReadonlySet<string>): Resolved {
  let schema: JsonSchema = isSchema(node) ? node : {};
  let seen = refs;
  while (typeof schema['$ref'] === 'string') {
    const ref = schema['$ref'];
    if (seen.has(ref)) return { schema, refs: seen, recursive: true };
    const target = resolveRef(root, ref);
    if (target === undefined) break;
    seen = new Set([...seen, ref]);
    const { $ref: _ref, ...siblings } = schema;
    schema = { ...target, ...siblings };
  }
  if (Array.isArray(schema['allOf'])) {
    const parts = schema['allOf'].map((part: unknown) => resolve(part, root, seen).schema);
    const { allOf: _allOf, ...rest } = schema;
    schema = parts.reduce<JsonSchema>(
      (merged, part) => ({
        ...merged,
        ...part,
        properties: { ...(isSchema(merged['properties']) ? merged['properties'] : {}), ...(isSchema(part['properties']) ? part['properties'] : {}) },
        required: [...(Array.isArray(merged['required']) ? merged['required'] : []), ...(Array.isArray(part['required']) ? part['required'] : [])],
      }),
      rest,
    );
  }
  return { schema, refs: seen, recursive: false };
}

function variants(schema: JsonSchema): unknown[] | undefined {
  const options = schema['oneOf'] ?? schema['anyOf'];
  return Array.isArray(options) ? options : undefined;
}

function typeLabel(node: unknown, root: JsonSchema, refs: ReadonlySet<string>): string {
  const { schema, recursive } = resolve(node, root, refs);
  if (recursive) return 'object (recursive)';
  const options = variants(schema);
  if (options !== undefined) return options.map((option) => typeLabel(option, root, refs)).join(' | ');
  if (schema['const'] !== undefined) return json(schema['const']);
  if (Array.isArray(schema['enum'])) return schema['enum'].map(json).join(' | ');
  const declared = schema['type'];
  const types = typeof declared === 'string' ? [declared] : Array.isArray(declared) ? declared.map(String) : [];
  if (types.length === 0) {
    if (isSchema(schema['properties'])) types.push('object');
    else if (schema['items'] !== undefined || schema['prefixItems'] !== undefined) types.push('array');
  }
  if (types.length === 0) return 'any';
  return types
    .map((type) => {
      if (type === 'array') {
        const tuple = Array.isArray(schema['prefixItems']) ? schema['prefixItems'] : Array.isArray(schema['items']) ? schema['items'] : undefined;
        if (tuple !== undefined) return `[${tuple.map((item) => typeLabel(item, root, refs)).join(', ')}]`;
        return schema['items'] === undefined ? 'array' : `array of ${typeLabel(schema['items'], root, refs)}`;
      }
      if (type === 'object' && !isSchema(schema['properties']) && isSchema(schema['additionalProperties'])) {
        return `map of ${typeLabel(schema['additionalProperties'], root, refs)}`;
      }
      if (type === 'string' && typeof schema['format'] === 'string') return `string (${schema['format']})`;
      return type;
    })
    .join(' | ');
}

function range(min: unknown, max: unknown, unit: string): string | undefined {
  const low = typeof min === 'number' && min > 0 ? min : undefined;
  const high = typeof max === 'number' ? max : undefined;
  const units = (count: number) => (count === 1 ? unit : `${unit}s`);
  if (low !== undefined && high !== undefined) return low === high ? `exactly ${low} ${units(low)}` : `${low}–${high} ${units(high)}`;
  if (low !== undefined) return `at least ${low} ${units(low)}`;
  if (high !== undefined) return `at most ${high} ${units(high)}`;
  return undefined;
}

/** Bounds that only restate "a safe integer" are noise. */
function bound(value: unknown): number | undefined {
  return typeof value === 'number' && Math.abs(value) < Number.MAX_SAFE_INTEGER ? value : undefined;
}

function numberRange(schema: JsonSchema): string | undefined {
  const minimum = bound(schema['minimum']);
  const maximum = bound(schema['maximum']);
  const above = bound(schema['exclusiveMinimum']);
  const below = bound(schema['exclusiveMaximum']);
  const low = minimum !== undefined ? `${minimum} ≤` : above !== undefined ? `${above} <` : undefined;
  const high = maximum !== undefined ? `≤ ${maximum}` : below !== undefined ? `< ${below}` : undefined;
  if (low === undefined && high === undefined) return undefined;
  return [low, 'value', high].filter((part) => part !== undefined).join(' ');
}

function constraints(schema: JsonSchema): Constraint[] {
  const result: Constraint[] = [];
  const push = (text: string | undefined, code?: string) => {
    if (text !== undefined) result.push(code === undefined ? { text } : { text, code });
  };
  push(range(schema['minLength'], schema['maxLength'], 'character'));
  // A format (shown with the type) says what its pattern spells out.
  if (typeof schema['pattern'] === 'string' && typeof schema['format'] !== 'string') push('pattern', schema['pattern']);
  push(numberRange(schema));
  if (typeof schema['multipleOf'] === 'number') push(`multiple of ${schema['multipleOf']}`);
  push(range(schema['minItems'], schema['maxItems'], 'item'));
  if (schema['uniqueItems'] === true) push('unique items');
  push(range(schema['minProperties'], schema['maxProperties'], 'property'));
  if (schema['additionalProperties'] === false) push('no other properties');
  if (schema['default'] !== undefined) push('default', json(schema['default']));
  if (schema['deprecated'] === true) push('deprecated');
  return result;
}

/** Constraints of array items or map values that get no rows of their own (they are not objects). */
function memberConstraints(schema: JsonSchema, root: JsonSchema, refs: ReadonlySet<string>): Constraint[] {
  const member = isSchema(schema['items']) ? schema['items'] : isSchema(schema['additionalProperties']) ? schema['additionalProperties'] : undefined;
  if (member === undefined) return [];
  const resolved = resolve(member, root, refs);
  if (resolved.recursive || isSchema(resolved.schema['properties'])) return [];
  const each = isSchema(schema['items']) ? 'each item' : 'each value';
  return constraints(resolved.schema).map((constraint) => ({ ...constraint, text: `${each}: ${constraint.text}` }));
}

function text(schema: JsonSchema): string | undefined {
  if (typeof schema['description'] === 'string') return schema['description'];
  return typeof schema['title'] === 'string' ? schema['title'] : undefined;
}

function children(schema: JsonSchema, path: string, depth: number, root: JsonSchema, refs: ReadonlySet<string>, rows: SchemaRow[]): void {
  if (depth > MAX_DEPTH) return;
  const properties = isSchema(schema['properties']) ? schema['properties'] : undefined;
  if (properties !== undefined) {
    const required = new Set(Array.isArray(schema['required']) ? schema['required'] : []);
    for (const [name, property] of Object.entries(properties)) {
      field(property, path === '' ? name : `${path}.${name}`, depth, required.has(name), root, refs, rows);
    }
    return;
  }
  if (isSchema(schema['items'])) {
    const item = resolve(schema['items'], root, refs);
    if (!item.recursive) children(item.schema, `${path}[]`, depth, root, item.refs, rows);
    return;
  }
  if (isSchema(schema['additionalProperties'])) {
    const value = resolve(schema['additionalProperties'], root, refs);
    if (!value.recursive) children(value.schema, `${path}.*`, depth, root, value.refs, rows);
    return;
  }
  const options = variants(schema);
  options?.forEach((option, index) => {
    const variant = resolve(option, root, refs);
    if (!variant.recursive) children(variant.schema, `${path} (option ${index + 1})`, depth, root, variant.refs, rows);
  });
}

function field(node: unknown, path: string, depth: number, required: boolean, root: JsonSchema, refs: ReadonlySet<string>, rows: SchemaRow[]): void {
  const resolved = resolve(node, root, refs);
  const description = text(isSchema(node) ? { ...resolved.schema, ...node } : resolved.schema);
  const own = resolved.recursive ? [] : [...constraints(resolved.schema), ...memberConstraints(resolved.schema, root, resolved.refs)];
  rows.push({ path, depth, type: typeLabel(node, root, refs), required, constraints: own, description });
  if (!resolved.recursive) children(resolved.schema, path, depth + 1, root, resolved.refs, rows);
}

/**
 * The rows of a property table for `schema`. An object body gives one row per property (and
 * nested ones below it); any other body gives one row with an empty path.
 *
 * @example
 * schemaRows({ type: 'object', properties: { text: { type: 'string', maxLength: 500 } }, required: ['text'] }, true);
 * // [{ path: 'text', depth: 0, type: 'string', required: true, constraints: [{ text: 'at most 500 characters' }], description: undefined }]
 */
export function schemaRows(schema: JsonSchema, required: boolean): SchemaRow[] {
  const rows: SchemaRow[] = [];
  // '#' is the schema itself: a ref back to it is recursion from the start.
  const start = new Set(['#']);
  const { schema: resolved, refs } = resolve(schema, schema, start);
  if (isSchema(resolved['properties'])) children(resolved, '', 0, schema, refs, rows);
  else field(schema, '', 0, required, schema, start, rows);
  return rows;
}
