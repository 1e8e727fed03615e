import { contractJsonSchemas, validate } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exampleValue } from '../src/index.ts';
import { chat } from './fixtures/chat-contract.ts';
import { contactCenter } from './fixtures/contact-center-contract.ts';

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;

describe('exampleValue', () => {
  it('takes a declared example, default, const or the first enum value', () => {
    expect(exampleValue({ type: 'string', examples: ['lobby'] })).toBe('lobby');
    expect(exampleValue({ type: 'integer', default: 20, minimum: 1 })).toBe(20);
    expect(exampleValue({ const: 'ACCEPTED' })).toBe('ACCEPTED');
    expect(exampleValue({ type: 'string', enum: ['WAITING', 'ACCEPTED'] })).toBe('WAITING');
  });

  it('puts numbers at their lower bound, or 0 when that is allowed', () => {
    expect(exampleValue({ type: 'integer', minimum: 5, maximum: 9 })).toBe(5);
    expect(exampleValue({ type: 'integer', exclusiveMinimum: 5 })).toBe(6);
    expect(exampleValue({ type: 'number', minimum: -10 })).toBe(0);
    expect(exampleValue({ type: 'integer', maximum: -3 })).toBe(-3);
    expect(exampleValue({ type: 'integer', minimum: 7, multipleOf: 5 })).toBe(10);
  });

  it('fits strings to their length, format and pattern', () => {
    expect(exampleValue({ type: 'string', minLength: 10 })).toBe('exampleexa');
    expect(exampleValue({ type: 'string', maxLength: 3 })).toBe('exa');
    expect(exampleValue({ type: 'string', format: 'email' })).toBe('user@example.com');
    expect(exampleValue({ type: 'string', pattern: '^[0-9]+$' })).toBe('1');
    expect(exampleValue({ type: 'string', pattern: '^[a-z]+-[0-9]$' })).toBe('example-1');
  });

  it('builds nested objects and arrays, honouring minItems', () => {
    const schema = jsonSchema(
      z.object({ filters: z.object({ states: z.array(z.enum(['OPEN', 'CLOSE'])).min(2), skills: z.array(z.string()).optional() }), on: z.boolean(), nothing: z.null() }),
    );
    expect(exampleValue(schema)).toEqual({ filters: { states: ['OPEN', 'OPEN'], skills: ['example'] }, on: true, nothing: null });
  });

  it('handles tuples, nullable values, unions and records', () => {
    const schema = jsonSchema(
      z.object({
        pair: z.tuple([z.string(), z.number().int().min(3)]),
        maybe: z.string().nullable(),
        either: z.union([z.number().min(1), z.string()]),
        scores: z.record(z.string().regex(/^[a-z]+$/), z.number()),
      }),
    );
    expect(exampleValue(schema)).toEqual({ pair: ['example', 3], maybe: 'example', either: 1, scores: { example: 0 } });
  });

  it('stops recursive schemas at their first repetition', () => {
    interface Node {
      readonly name: string;
      readonly children: readonly Node[];
    }
    const node: z.ZodType<Node> = z.object({ name: z.string(), children: z.array(z.lazy(() => node)) });
    expect(exampleValue(jsonSchema(node))).toEqual({ name: 'example', children: [{ name: 'example', children: [] }] });
    expect(exampleValue(jsonSchema(z.object({ tree: node })))).toEqual({ tree: { name: 'example', children: [] } });
  });

  it.each([
    ['chat', chat],
    ['contact center', contactCenter],
  ] as const)('gives %s bodies the contract accepts', async (_name, contract) => {
    const schemas = contractJsonSchemas(contract);
    for (const [type, definition] of Object.entries(contract.requests)) {
      const bodies = schemas.requests[type];
      expect(await validate(definition.request, exampleValue(bodies?.request ?? {})), type).toMatchObject({ ok: true });
      expect(await validate(definition.response, exampleValue(bodies?.response ?? {})), type).toMatchObject({ ok: true });
    }
    for (const [type, definition] of Object.entries(contract.notifications)) {
      expect(await validate(definition.body, exampleValue(schemas.notifications[type] ?? {})), type).toMatchObject({ ok: true });
    }
  });
});
