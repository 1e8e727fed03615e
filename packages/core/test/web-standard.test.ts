/** @herald/core must run unchanged on Node, Bun and Deno: no Node imports or globals in src. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src', import.meta.url));
const sources = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
const forbidden = [/from ['"]node:/, /require\(/, /\bprocess\./, /\bBuffer\b/, /\b__dirname\b/, /\bsetImmediate\b/, /from ['"](fs|path|http|net|crypto|events|stream)['"]/];

describe('@herald/core sources', () => {
  it('are found', () => {
    expect(sources).toContain('server.ts');
  });

  it.each(sources)('%s uses Web-standard APIs only', (file) => {
    const text = readFileSync(join(src, file), 'utf8');
    for (const pattern of forbidden) expect(text, `${file} matches ${pattern}`).not.toMatch(pattern);
  });
});
