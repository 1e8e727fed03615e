/**
 * Node-only helpers for tests that need real sockets around a server: a free loopback port, a
 * TCP relay that stands in for a load balancer or a proxy, and a fault proxy that makes the
 * network between clients and a server slow, lossy in time, half-open or reset. Import from
 * `@herald/testing/node`; the main entry point stays runtime-neutral.
 */
export { freePort } from './free-port.ts';
export { startRelay, type Relay, type RelayOptions } from './relay.ts';
export { startFaultProxy, type FaultProxy, type FaultProxyOptions, type FaultProxyStats, type FaultProxyUpstream, type Faults } from './fault-proxy.ts';
export type { Direction, DirectionFaults, FaultLink, SlicerFaults } from './fault-link.ts';
export type { Chaos, ChaosFault, ChaosOptions, LinkFilter } from './fault-chaos.ts';
export { clientFrame, closeCode, parseAnswers, RawConnection, rawExchange, serverFrames, upgradeRequest, type RawAnswer, type RawExchange, type RawExchangeOptions, type RawFrame } from './raw-http.ts';
export { startNginx, type Nginx, type NginxOptions } from './nginx.ts';
