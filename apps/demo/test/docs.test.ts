/**
 * The demo's own AsyncAPI document, as the demo serves it (chat and contact center in one
 * contract), checked by `@asyncapi/parser`: a validator nobody here wrote.
 */
import { DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demo as contract } from '../src/contract.ts';
import { startDemo, type DemoServer } from '../src/server.ts';

let server: DemoServer;
beforeAll(async () => {
  server = await startDemo({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await server?.close();
});

describe("the demo's /asyncapi.json", () => {
  it('is valid AsyncAPI 3.0 with no errors or warnings, and documents every message of the contract', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/asyncapi.json`)).text();
    const { document, diagnostics } = await new Parser().parse(text);
    const problems = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error || d.severity === DiagnosticSeverity.Warning);
    expect(problems.map((d) => `${d.path.join('.')}: ${d.message}`)).toEqual([]);
    expect(document).toBeDefined();
    const names = new Set((document?.messages().all() ?? []).map((m) => m.name() ?? m.id()));
    const documented = JSON.stringify([...names]);
    expect(names.size).toBeGreaterThan(10);
    for (const type of [...Object.keys(contract.requests), ...Object.keys(contract.notifications)]) expect(documented).toContain(`"${type}`);
  });
});
