/**
 * Scenario 8, run in its own process (`node --expose-gc`): what topic history costs in the
 * embedded broker. Fills `topics × messages` with chat-sized bodies stringified the way
 * `herald.publish` does, and reports JS heap per history entry (after full collections); then
 * publishes four times a small `historyBytes` budget and reports the heap held, the evictions
 * counted, and whether a resume behind an evicted message is told it was not recovered.
 *
 *   node --expose-gc --conditions=@herald/source --import tsx src/history-memory.ts --topics=1000 --messages=1000 --budget=33554432
 *
 * Prints one line of JSON (a `HistoryRow` without `key`/`label`).
 */
import { MemoryBroker } from '@herald/core';

const arg = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback);
const topics = arg('topics', 1000);
const messages = arg('messages', 1000);
const budget = arg('budget', 32 * 1024 * 1024);

const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run with node --expose-gc');
const heapUsed = (): number => {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
};

const text = 'The quick brown fox jumps over the lazy dog, again and again, for the benchmark';
const body = (room: number, n: number) => JSON.stringify({ room, text, from: `user-${n % 97}`, at: 1_764_650_000_000 + n });
const names = Array.from({ length: topics }, (_, i) => `chat/room/${i}`);

async function fill(broker: MemoryBroker, rounds: number): Promise<void> {
  for (let n = 0; n < rounds; n++) for (let t = 0; t < topics; t++) await broker.publish(names[t] as string, 'chat.Message', body(t, n));
}

// Unbounded by bytes: the cost of every entry.
const full = new MemoryBroker({ historySize: messages, maxTopics: topics, historyBytes: Number.POSITIVE_INFINITY });
for (const name of names) await full.position(name);
const before = heapUsed();
await fill(full, messages);
const after = heapUsed();
const entries = full.historyUsage.messages;
const bytesPerEntry = (after - before) / entries;
const accountedPerEntry = full.historyUsage.bytes / entries;
await full.close();

// Bounded by bytes: four times the budget published.
const bounded = new MemoryBroker({ historySize: messages, maxTopics: topics, historyBytes: budget });
const first = await bounded.position(names[0] as string);
const base = heapUsed();
const perMessage = accountedPerEntry;
await fill(bounded, Math.max(1, Math.ceil((4 * budget) / perMessage / topics)));
const held = heapUsed() - base;
const { evicted, bytes: accounted } = bounded.historyUsage;
const resume = await bounded.history(names[0] as string, first);
await bounded.close();

process.stdout.write(
  JSON.stringify({
    topics,
    messages,
    bodyChars: body(0, 0).length,
    bytesPerEntry,
    accountedPerEntry,
    budget,
    heldBytes: held,
    accountedBytes: accounted,
    evicted,
    evictedResumeRecovered: resume.complete,
  }) + '\n',
);
