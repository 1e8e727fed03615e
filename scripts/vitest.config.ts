import { heraldProject } from '../tooling/vitest/index.js';

/** The repository's own checks: release versions and installable tarballs. */
export default heraldProject('repo');
