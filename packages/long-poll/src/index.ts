export { createLongPollEndpoints, createLongPollHandler, type LongPollOptions, type LongPollRefusal, type LongPollServer } from './handler.ts';
export type { LongPollHandler, LongPollPeer, RequestPeer } from './long-poll-handler.ts';
export { LongPollSocket, type PollResult } from './long-poll-socket.ts';
export { MemoryLongPollStore, type LongPollStore, type SharedLongPollSocket, type SharedLongPollStore, type SharedRefusal } from './store.ts';
export { PROTOCOL_HEADER, SESSION_HEADER } from './wire-format.ts';
