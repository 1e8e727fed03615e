// Plain JavaScript: vitest loads config files through Node, which cannot import a
// workspace package's TypeScript. Types are in index.d.ts.
import { defineProject } from 'vitest/config';

/**
 * The vitest project every Herald package uses: tests sit beside the code as `*.test.ts`
 * (or under `test/`), run in Node, and no test waits longer than 20 s.
 *
 * @example
 * // packages/core/vitest.config.ts
 * import { heraldProject } from '@herald/vitest-config';
 * export default heraldProject('core');
 */
export function heraldProject(name) {
  return defineProject({
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      testTimeout: 20_000,
      hookTimeout: 20_000,
    },
  });
}
