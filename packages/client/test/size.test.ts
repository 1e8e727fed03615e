/** The browser ESM bundle (client + WebSocket transport) must stay within 10 KB min+gzip. */
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { expect, it } from 'vitest';

export const LIMIT_BYTES = 10 * 1024;

it('bundles for the browser within 10 KB min+gzip', async () => {
  const result = await build({
    entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['@herald/source'],
    target: 'es2022',
    minify: true,
    write: false,
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`@herald/client browser bundle: ${code.length} B minified, ${gzipped} B min+gzip (limit ${LIMIT_BYTES} B)`);
  expect(new TextDecoder().decode(code)).not.toMatch(/from\s*["']node:|require\(/);
  expect(gzipped).toBeLessThanOrEqual(LIMIT_BYTES);
  // The codec of herald.v1.msgpack is a separate import (`@herald/client/msgpack`), and so is the delta format (`@herald/client/delta`).
  expect(new TextDecoder().decode(code)).not.toMatch(/MessagePack/);
  expect(new TextDecoder().decode(code)).not.toMatch(FOSSIL);
});

/** A message only fossil-delta's code holds. */
const FOSSIL = /size integer not terminated/;

it('bundles the client with @herald/client/delta, reported beside the JSON-only bundle', async () => {
  const result = await build({
    stdin: { contents: "export * from './src/index.ts'; export * from './src/delta.ts';", resolveDir: new URL('..', import.meta.url).pathname },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['@herald/source'],
    target: 'es2022',
    minify: true,
    write: false,
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`@herald/client + delta browser bundle: ${code.length} B minified, ${gzipped} B min+gzip`);
  expect(new TextDecoder().decode(code)).toMatch(FOSSIL);
});

it('bundles the client with @herald/client/msgpack, reported beside the JSON-only bundle', async () => {
  const result = await build({
    stdin: { contents: "export * from './src/index.ts'; export * from './src/msgpack.ts';", resolveDir: new URL('..', import.meta.url).pathname },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['@herald/source'],
    target: 'es2022',
    minify: true,
    write: false,
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`@herald/client + msgpack browser bundle: ${code.length} B minified, ${gzipped} B min+gzip`);
  expect(new TextDecoder().decode(code)).toMatch(/MessagePack/);
});
