export { RedisBroker, type RedisBrokerOptions, type RedisConnection, type RedisHealth } from './broker.ts';
export { OutboxFullError } from './outbox.ts';
export { RedisSessionStore, type RedisSessionStoreOptions } from './session-store.ts';
export { RedisLongPollStore, type RedisLongPollStoreOptions } from './long-poll-store.ts';
export { RedisPresence, type RedisPresenceOptions } from './presence.ts';
export { RedisInspectionRelay, type RedisInspectionRelayOptions } from './inspection-relay.ts';
