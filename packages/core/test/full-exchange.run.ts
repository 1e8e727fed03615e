/** Entry point for Bun and Deno: runs the full exchange and exits non-zero on failure. */
import { runFullExchange } from './full-exchange.ts';

const runtime = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';
try {
  const steps = await runFullExchange();
  console.log(`full exchange on ${runtime}: ok (${steps.join(' → ')})`);
} catch (error) {
  console.error(`full exchange on ${runtime}: FAILED`, error);
  (globalThis as { process?: { exit(code: number): never } }).process?.exit(1);
  throw error;
}
