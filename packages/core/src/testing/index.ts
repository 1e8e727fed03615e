/**
 * Test helpers that need no network: a manual clock and an in-memory socket.
 * `@herald/testing` builds its in-process tester on these.
 */
export { ManualClock } from './manual-clock.ts';
export { MemorySocket, connectMemory, upgradeRequest, type CloseEvent } from './memory-socket.ts';
