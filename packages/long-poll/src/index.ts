export { createLongPollHandler, PROTOCOL_HEADER, SESSION_HEADER, type LongPollHandler, type LongPollOptions } from './handler.ts';
export { LongPollSocket, type PollResult } from './long-poll-socket.ts';
export { MemoryLongPollStore, type LongPollStore, type SharedLongPollSocket, type SharedLongPollStore, type SharedRefusal } from './store.ts';
