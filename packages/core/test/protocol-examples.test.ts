/**
 * PROTOCOL.md is the source of truth, so its examples are checked: every ```json block is one
 * envelope valid against the exported JSON Schema, `herald.*` bodies match their schemas, and
 * every code and reason the core defines is documented.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { CloseCode, ErrorReason, Kind, SystemType, envelopeJsonSchema, systemBodyJsonSchemas } from '../src/index.ts';

const protocol = readFileSync(new URL('../../../PROTOCOL.md', import.meta.url), 'utf8');
const examples = [...protocol.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => (match[1] as string).trim());
const ajv = new Ajv2020({ strict: false, allErrors: true });
const validEnvelope = ajv.compile(envelopeJsonSchema);
const systemTypes = new Set<string>(Object.values(SystemType));

function bodySchema(example: { kind: string; type: string; code?: number }): object | undefined {
  if (!systemTypes.has(example.type)) return undefined;
  if (example.kind === Kind.Request) return systemBodyJsonSchemas.requests[example.type];
  if (example.kind === Kind.Notification) return systemBodyJsonSchemas.notifications[example.type];
  if (example.kind === Kind.Response) return (example.code ?? 0) >= 400 ? systemBodyJsonSchemas.error : systemBodyJsonSchemas.responses[example.type];
  return undefined;
}

describe('PROTOCOL.md', () => {
  it('has JSON examples', () => {
    expect(examples.length).toBeGreaterThan(40);
  });

  it.each(examples.map((text, index) => [index + 1, text]))('example %i is a valid envelope', (_index, text) => {
    const example = JSON.parse(text as string);
    expect(validEnvelope(example), JSON.stringify(validEnvelope.errors)).toBe(true);
    const schema = bodySchema(example);
    if (schema !== undefined) {
      const validBody = ajv.compile(schema);
      expect(validBody(example.body), `${example.type}: ${JSON.stringify(validBody.errors)}`).toBe(true);
    }
    if (systemTypes.has(example.type) && typeof example.body?.error === 'string') {
      expect(Object.values(ErrorReason)).toContain(example.body.error);
    }
  });

  it('documents every close code and error reason', () => {
    for (const code of Object.values(CloseCode)) expect(protocol, `close code ${code}`).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
    for (const reason of Object.values(ErrorReason)) expect(protocol, `reason ${reason}`).toContain(`\`${reason}\``);
    for (const type of Object.values(SystemType)) expect(protocol, `type ${type}`).toContain(`\`${type}\``);
  });
});
