#!/usr/bin/env node
/**
 * `herald-asyncapi`: writes `asyncapi.json` and `docs.html` for a contract exported by a module:
 *
 *   herald-asyncapi <module> <export> [--out dir] [--title text] [--version x.y.z]
 *     [--url wss://host/path] [--long-poll /lp|false] [--description text]
 *
 * (In this repository: `pnpm --filter @herald/asyncapi generate …`.) Relative paths are taken
 * from the directory the command was started in (pnpm runs scripts in the package's own
 * directory and says where it was started in INIT_CWD). `--help` prints the usage and exits 0;
 * a bad argument prints it on stderr and exits 2.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { ContractDefinition } from '@herald/core';
import { asyncApiDocument, docsPage, type DocumentOptions } from './index.ts';

const USAGE = `usage: herald-asyncapi <module-with-contract> <exported-name> [--out dir] [--title text]
         [--version x.y.z] [--url wss://host/path] [--long-poll /lp|false] [--description text]

Writes asyncapi.json and docs.html (into --out, default .) for the contract a module exports.
A TypeScript module needs a loader: node --import tsx $(which herald-asyncapi) …`;

const DEFAULT_URL = 'ws://localhost:9090/ws';

function isContract(value: unknown): value is ContractDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<keyof ContractDefinition, unknown>>;
  return typeof candidate.requests === 'object' && candidate.requests !== null && typeof candidate.notifications === 'object' && candidate.notifications !== null;
}

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        out: { type: 'string', default: '.' },
        title: { type: 'string' },
        version: { type: 'string', default: '0.0.0' },
        url: { type: 'string' },
        'long-poll': { type: 'string', default: '/lp' },
        description: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help === true) {
    console.log(USAGE);
    return;
  }
  const [modulePath, exportName, ...extra] = parsed.positionals;
  if (modulePath === undefined || exportName === undefined || extra.length > 0) fail('expected a module and an export name');
  const base = process.env['INIT_CWD'] ?? process.cwd();
  const loaded = (await import(pathToFileURL(resolve(base, modulePath)).href)) as Record<string, unknown>;
  const contract = loaded[exportName];
  if (!isContract(contract)) fail(`${modulePath} exports no contract named ${exportName}`);
  const { values } = parsed;
  if (values.url === undefined) console.warn(`no --url given: documenting ${DEFAULT_URL}`);
  const options: DocumentOptions = {
    title: values.title ?? exportName,
    version: values.version,
    url: values.url ?? DEFAULT_URL,
    longPollPath: values['long-poll'] === 'false' ? false : values['long-poll'],
    ...(values.description === undefined ? {} : { description: values.description }),
  };
  const out = resolve(base, values.out);
  await mkdir(out, { recursive: true });
  const documentPath = resolve(out, 'asyncapi.json');
  const pagePath = resolve(out, 'docs.html');
  await writeFile(documentPath, `${JSON.stringify(asyncApiDocument(contract, options), null, 2)}\n`);
  await writeFile(pagePath, docsPage(contract, { ...options, asyncApiHref: 'asyncapi.json' }));
  console.log(`wrote ${documentPath}\nwrote ${pagePath}`);
}

await main();
