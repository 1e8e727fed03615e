/** Child-process entry (Bun, Deno): prints `READY <port>`, stops gracefully on a `stop` line. */
import { serveConformance } from './serve.ts';

const served = await serveConformance();
console.log(`READY ${served.port}`);
const decoder = new TextDecoder();
const input = (globalThis as { Deno?: { stdin: { readable: ReadableStream<Uint8Array> } } }).Deno?.stdin.readable ?? (globalThis as unknown as { Bun: { stdin: { stream(): ReadableStream<Uint8Array> } } }).Bun.stdin.stream();
const reader = input.getReader();
for (;;) {
  const { done, value } = await reader.read();
  if (done || decoder.decode(value).includes('stop')) break;
}
await served.stop();
console.log('STOPPED');
(globalThis as { process?: { exit(code: number): void } }).process?.exit(0);
