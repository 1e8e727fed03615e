#!/usr/bin/env node
/**
 * `herald-load`: N clients against a Herald server, a request mix, pipelined or at a rate.
 *
 *   herald-load <url> --type chat.Send --body '{"room":"r","text":"hi"}' [--clients 100]
 *     [--pipeline 10 | --rate 50] [--duration 10] [--token demo-user]
 *
 * (In this repository: `pnpm --filter @herald/testing load …`.) `--help` prints the usage and
 * exits 0; an unknown option, a missing URL or `--type`, or a number that is not positive prints
 * the usage on stderr and exits 2.
 */
import { parseArgs } from 'node:util';
import { formatLoadResult, runLoad } from './load.ts';

const USAGE = `usage: herald-load <ws-url> --type <request type> [--body <json>] [--clients N] [--pipeline N | --rate N]
                   [--duration s] [--token t]

Opens --clients sessions (default 10) and sends the --type/--body mix (one --body per --type,
in order) for --duration seconds (default 10), --pipeline requests in flight per client
(default 1) or --rate requests per second per client; a {i} in --token becomes the client's index.`;

function fail(message: string): never {
  console.error(`herald-load: ${message}\n${USAGE}`);
  process.exit(2);
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} must be a positive number, got ${JSON.stringify(text)}`);
  return value;
}

function parse() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        type: { type: 'string', multiple: true },
        body: { type: 'string', multiple: true },
        clients: { type: 'string', default: '10' },
        pipeline: { type: 'string', default: '1' },
        rate: { type: 'string' },
        duration: { type: 'string', default: '10' },
        token: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error));
  }
}

const { values, positionals } = parse();
if (values.help === true) {
  console.log(USAGE);
  process.exit(0);
}
const url = positionals[0];
if (url === undefined || values.type === undefined) fail('expected a URL and at least one --type');
if (positionals.length > 1) fail(`unexpected argument ${JSON.stringify(positionals[1])}`);
const bodies = (values.body ?? []).map((text) => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return fail(`--body is not JSON: ${text}`);
  }
});
const token = values.token;
const result = await runLoad({
  url,
  clients: positive('clients', values.clients),
  pipeline: positive('pipeline', values.pipeline),
  ...(values.rate === undefined ? {} : { ratePerClient: positive('rate', values.rate) }),
  durationMs: positive('duration', values.duration) * 1000,
  ...(token === undefined ? {} : { token: token.includes('{i}') ? (i: number) => token.replace('{i}', String(i)) : token }),
  mix: values.type.map((type, i) => ({ type, body: bodies[i] })),
});
console.log(formatLoadResult(result));
