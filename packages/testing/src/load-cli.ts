/**
 * `pnpm --filter @herald/testing load <url> --type chat.Send --body '{"room":"r","text":"hi"}' [--clients 100]
 *  [--pipeline 10 | --rate 50] [--duration 10] [--token demo-user]`
 */
import { parseArgs } from 'node:util';
import { formatLoadResult, runLoad } from './load.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    type: { type: 'string', multiple: true },
    body: { type: 'string', multiple: true },
    clients: { type: 'string', default: '10' },
    pipeline: { type: 'string', default: '1' },
    rate: { type: 'string' },
    duration: { type: 'string', default: '10' },
    token: { type: 'string' },
  },
});
const url = positionals[0];
if (url === undefined || values.type === undefined) {
  console.error('usage: herald-load <ws-url> --type <request type> [--body <json>] [--clients N] [--pipeline N | --rate N] [--duration s] [--token t]');
  process.exit(2);
}
const token = values.token;
const result = await runLoad({
  url,
  clients: Number(values.clients),
  pipeline: Number(values.pipeline),
  ...(values.rate === undefined ? {} : { ratePerClient: Number(values.rate) }),
  durationMs: Number(values.duration) * 1000,
  ...(token === undefined ? {} : { token: token.includes('{i}') ? (i: number) => token.replace('{i}', String(i)) : token }),
  mix: values.type.map((type, i) => ({ type, body: values.body?.[i] === undefined ? undefined : JSON.parse(values.body[i] as string) })),
});
console.log(formatLoadResult(result));
