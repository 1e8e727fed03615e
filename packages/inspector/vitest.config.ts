import { heraldProject } from '@herald/vitest-config';

export default heraldProject('inspector');
