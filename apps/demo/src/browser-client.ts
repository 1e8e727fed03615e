/**
 * The browser build of `@herald/client`, bundled in memory when the server starts: the pages
 * import it from `/herald-client.js`, so they run the SDK applications use, not a copy.
 */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export async function buildBrowserClient(): Promise<string> {
  const result = await build({
    stdin: { contents: "export * from '@herald/client';", resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['@herald/source'],
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    write: false,
  });
  const [output] = result.outputFiles;
  if (output === undefined) throw new Error('esbuild produced no bundle of @herald/client');
  return output.text;
}
