import { contractJsonSchemas, envelopeJsonSchema, systemBodyJsonSchemas } from '@herald/core';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { jsonSchemas } from '../src/index.ts';
import { contactCenter } from './fixtures/contact-center-contract.ts';

describe('jsonSchemas', () => {
  const schemas = jsonSchemas(contactCenter);

  it("is the core's schemas: contract bodies, the envelope and the system bodies", () => {
    const core = contractJsonSchemas(contactCenter);
    expect(schemas.requests).toEqual(core.requests);
    expect(schemas.notifications).toEqual(core.notifications);
    expect(schemas.envelope).toBe(envelopeJsonSchema);
    expect(schemas.system).toBe(systemBodyJsonSchemas);
  });

  it('gives draft 2020-12 schemas that validate real messages', () => {
    const ajv = new Ajv2020({ strict: false });
    const request = ajv.compile(schemas.requests['ams.aam.SubscribeExConversations']?.request ?? {});
    expect(request({ brandId: '2134rfdsw2', agentIds: ['2134rfdsw2.3318207'], convState: ['OPEN'], skills: ['45'] })).toBe(true);
    expect(request({ brandId: '2134rfdsw2', convState: ['PENDING'] })).toBe(false);
    const ring = ajv.compile(schemas.notifications['ams.routing.RingUpdated'] ?? {});
    expect(
      ring({
        ringId: 'c692b037-03bf-42c4-9c8f-29832e5d9d8c',
        ringExpiration: 1794821415000,
        ringState: 'WAITING',
        weight: 0,
        brandId: '2134rfdsw2',
        convId: 'a9961e6d-281c-4c68-9335-0de8c10f5ccf',
        consumerId: 'a27eb8e3-3919-46ee-ba29-f8d3d992c385',
        skillId: '45',
      }),
    ).toBe(true);
    expect(ajv.compile(schemas.envelope)({ kind: 'req', id: '12', type: 'ams.aam.SubscribeExConversations', body: {} })).toBe(true);
  });
});
