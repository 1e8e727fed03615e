/** The JSON Schemas of a contract's messages, next to the envelope's: the core's, gathered in one place. */
import { contractJsonSchemas, envelopeJsonSchema, systemBodyJsonSchemas, type ContractDefinition, type ContractJsonSchemas, type JsonSchema } from '@herald/core';

/** Every JSON Schema (draft 2020-12) a Herald endpoint's messages follow. */
export interface HeraldJsonSchemas extends ContractJsonSchemas {
  /** Any Herald v1 envelope, whichever side sends it. */
  readonly envelope: JsonSchema;
  /** The bodies of the `herald.*` requests, responses and notifications, and of error responses. */
  readonly system: typeof systemBodyJsonSchemas;
}

/**
 * The JSON Schema of every request, response and notification body of a contract, the
 * envelope's, and the system messages' bodies.
 *
 * @example
 * import Ajv from 'ajv/dist/2020.js';
 * const schemas = jsonSchemas(chat);
 * const validSend = new Ajv().compile(schemas.requests['chat.Send'].request);
 * validSend({ room: 'lobby', text: 'hi' }); // true
 */
export function jsonSchemas(contract: ContractDefinition): HeraldJsonSchemas {
  return { ...contractJsonSchemas(contract), envelope: envelopeJsonSchema, system: systemBodyJsonSchemas };
}
