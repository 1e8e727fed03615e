export { DEFAULT_POOL, serveGateway, type BackendGroup, type Gateway, type GatewayOptions, type GatewayRequest } from './gateway.ts';
export type { Backend, BackendSource, BackendTarget, Strategy } from './backends.ts';
export type { GatewayStats } from './stats.ts';
export type { GatewayLongPollOptions } from './long-poll-edge.ts';
