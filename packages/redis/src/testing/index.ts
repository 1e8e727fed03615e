/**
 * Real parts for cluster tests and demos, from the machine's packages: `redis-server` on a free
 * loopback port without persistence, and haproxy in front of several nodes. Node-only; import
 * from `@herald/redis/testing` (it takes `@herald/testing`, an optional peer, for `freePort`).
 */
export { startHaproxy, type Haproxy, type HaproxyBackend, type HaproxyOptions } from './haproxy.ts';
export { startRedis, type RedisServer, type RedisServerOptions } from './redis-server.ts';
