/**
 * Node-only helpers for tests that need real sockets around a server: a free loopback port,
 * and a TCP relay that stands in for a load balancer or a proxy. Import from
 * `@herald/testing/node`; the main entry point stays runtime-neutral.
 */
export { freePort } from './free-port.ts';
export { startRelay, type Relay, type RelayOptions } from './relay.ts';
