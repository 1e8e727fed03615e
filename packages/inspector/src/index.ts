export { createInspector, type InspectorHandler, type InspectorOptions, type InspectorSnapshot, type NodeReport } from './inspector.ts';
export { MIN_TOKEN_LENGTH } from './credential.ts';
export { redactFrame, type RedactedBody } from './redaction.ts';
export type { TailFrame, TailPage } from './frame-tails.ts';
