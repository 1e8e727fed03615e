/** Entry point for Bun and Deno: `bun test/scenario.run.ts <url>`. */
import { runClientScenario } from './scenario.ts';

const runtime = 'Bun' in globalThis ? 'bun' : 'Deno' in globalThis ? 'deno' : 'node';
const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ?? (globalThis as { process?: { argv: string[] } }).process?.argv.slice(2) ?? [];
const url = args[0];
if (url === undefined) throw new Error('usage: scenario.run.ts <ws-url>');
try {
  const steps = await runClientScenario(url);
  console.log(`client scenario on ${runtime}: ok (${steps.join(' → ')})`);
} catch (error) {
  console.error(`client scenario on ${runtime}: FAILED`, error);
  (globalThis as { process?: { exit(code: number): never } }).process?.exit(1);
  throw error;
}
