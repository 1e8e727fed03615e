/**
 * One edit to a contract's schema, and nothing else, shows up everywhere it matters: runtime
 * validation, the JSON Schema, the AsyncAPI document and the docs page.
 */
import { validate } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { asyncApiDocument, docsPage, jsonSchemas } from '../src/index.ts';
import { contactCenterWith } from './fixtures/contact-center-contract.ts';
import { visibleText } from './visible-text.ts';

const options = { title: 'Agent API', version: '1.0.0', url: 'wss://api.example.com/ws' };
const TYPE = 'ams.aam.SubscribeExConversations';

const before = contactCenterWith({ brandId: z.string().min(1), extra: {} });
// The edit: brandId gets a maxLength, and a new required field appears.
const after = contactCenterWith({ brandId: z.string().min(1).max(8), extra: { channel: z.enum(['MESSAGING', 'VOICE']) } });

const body = { brandId: '2134rfdsw2', convState: ['OPEN'] };

describe('a change to the contract schema', () => {
  it('changes runtime validation', async () => {
    expect(await validate(before.requests[TYPE].request, body)).toMatchObject({ ok: true });
    const result = await validate(after.requests[TYPE].request, body);
    expect(result.ok).toBe(false);
    const paths = result.ok ? [] : result.issues.map((issue) => issue.path.join('.'));
    expect(paths.toSorted()).toEqual(['brandId', 'channel']);
    expect(await validate(after.requests[TYPE].request, { ...body, brandId: '2134rfdw', channel: 'VOICE' })).toMatchObject({ ok: true });
  });

  it('changes the JSON Schema', () => {
    const [old, changed] = [before, after].map((contract) => jsonSchemas(contract).requests[TYPE]?.request as { required: string[]; properties: Record<string, Record<string, unknown>> });
    expect(old?.required).not.toContain('channel');
    expect(old?.properties['brandId']?.['maxLength']).toBeUndefined();
    expect(changed?.required).toContain('channel');
    expect(changed?.properties['channel']).toMatchObject({ enum: ['MESSAGING', 'VOICE'] });
    expect(changed?.properties['brandId']?.['maxLength']).toBe(8);
  });

  it('changes the AsyncAPI document: schema and example', async () => {
    const document = asyncApiDocument(after, options);
    const schema = document.components.schemas[`${TYPE}.request`] as { required: string[]; properties: Record<string, Record<string, unknown>> };
    expect(schema.required).toContain('channel');
    expect(schema.properties['brandId']?.['maxLength']).toBe(8);
    const message = document.components.messages[`${TYPE}.request`] as { examples: Array<{ payload: { body: Record<string, unknown> } }> };
    const example = message.examples[0]?.payload.body;
    expect(example?.['channel']).toBe('MESSAGING');
    expect(await validate(after.requests[TYPE].request, example)).toMatchObject({ ok: true });
    expect(JSON.stringify(asyncApiDocument(before, options))).not.toContain('MESSAGING');
  });

  it('changes the docs page', () => {
    const [old, changed] = [before, after].map((contract) => visibleText(docsPage(contract, options)));
    expect(old).not.toContain('channel');
    expect(old).toMatch(/brandId string required at least 1 character/);
    expect(changed).toMatch(/channel "MESSAGING" \| "VOICE" required/);
    expect(changed).toMatch(/brandId string required 1–8 characters/);
    expect(changed).toContain('"channel": "MESSAGING"');
  });
});
