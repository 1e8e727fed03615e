export { asyncApiDocument, type AsyncApiDocument } from './asyncapi-document.ts';
export { createDocsHandler, type DocsHandler, type DocsHandlerOptions } from './docs-handler.ts';
export { DOCS_CONTENT_SECURITY_POLICY, docsPage, type DocsPageOptions } from './docs-page.ts';
export { exampleValue } from './example.ts';
export { jsonSchemas, type HeraldJsonSchemas } from './json-schemas.ts';
export type { DocumentOptions } from './options.ts';
export { closeCodes, errorCodes, type CloseCodeInfo, type ErrorCodeInfo } from './protocol-reference.ts';
