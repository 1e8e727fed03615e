/**
 * The transport-independent conformance suite (runs under vitest). Import from
 * `@herald/testing/conformance`; the main entry point stays free of any test framework.
 */
export { conformanceContract, conformanceDocument, conformanceLimits, conformanceToken, createConformanceHerald, type ConformanceContract } from './app.ts';
export { deltaBodies } from './delta-bodies.ts';
export { describeBroker, type BrokerTarget } from './broker.ts';
export { describeConformance, type ConformanceTarget, type StartedServer } from './suite.ts';
