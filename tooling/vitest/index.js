// Plain JavaScript: vitest loads config files through Node, which cannot import a
// workspace package's TypeScript. Types are in index.d.ts.
import { defineProject } from 'vitest/config';

/**
 * The export condition under which every @herald/* package points at its TypeScript source:
 * tests run the workspace's code as it is, without a build (Vite's default conditions follow).
 */
export const SOURCE = ['@herald/source'];

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
    resolve: { conditions: [...SOURCE, 'module', 'browser', 'development|production'] },
    ssr: { resolve: { conditions: [...SOURCE, 'module', 'node', 'development|production'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      testTimeout: 20_000,
      hookTimeout: 20_000,
    },
  });
}
