import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*', 'scripts'],
    // Most test files wait on sockets, child processes and timers rather than compute: three at
    // a time on the 2-core machine (vitest's default there is one) and every test still has to
    // hold with the machine that busy (see the README's "Tests").
    maxWorkers: 3,
  },
});
