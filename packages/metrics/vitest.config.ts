import { heraldProject, SOURCE } from '@herald/vitest-config';

// @opentelemetry/api's `module` build has extensionless imports that Node cannot load, and its
// browser build keeps its globals apart from the Node build the SDKs register with: resolve as
// Node does, without `module` or `browser`.
const conditions = [...SOURCE, 'node', 'import', 'development|production'];
const project = heraldProject('metrics');
export default { ...project, resolve: { ...project.resolve, conditions }, ssr: { ...project.ssr, resolve: { ...project.ssr?.resolve, conditions } } };
