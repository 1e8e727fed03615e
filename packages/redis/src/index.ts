export { RedisBroker, type RedisBrokerOptions, type RedisConnection, type RedisHealth } from './broker.ts';
export { OutboxFullError } from './outbox.ts';
