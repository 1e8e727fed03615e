import { heraldProject, SOURCE } from '@herald/vitest-config';
import { mergeConfig } from 'vitest/config';

// @opentelemetry/api has a browser build whose global lookup differs from the Node build the
// SDKs register with: resolve as Node does, or the tests' providers are never seen.
export default mergeConfig(heraldProject('metrics'), {
  resolve: { conditions: [...SOURCE, 'module', 'node', 'development|production'] },
});
