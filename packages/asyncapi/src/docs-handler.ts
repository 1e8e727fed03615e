/** Serves the AsyncAPI document and the docs page as a fetch handler any adapter can mount. */
import type { ContractDefinition } from '@herald/core';
import { asyncApiDocument } from './asyncapi-document.ts';
import { DOCS_CONTENT_SECURITY_POLICY, docsPage } from './docs-page.ts';
import type { DocumentOptions } from './options.ts';

/** Options of `createDocsHandler`. */
export interface DocsHandlerOptions extends DocumentOptions {
  /** Paths to answer. Defaults: `/asyncapi.json` and `/docs`. */
  readonly paths?: { readonly asyncApi?: string; readonly docs?: string };
}

/** A fetch handler that answers its own paths and returns `undefined` for any other. */
export type DocsHandler = (request: Request) => Promise<Response | undefined>;

interface Resource {
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

function answer(request: Request, resource: Resource): Response {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return new Response(null, { status: 405, headers: { allow: 'GET, HEAD' } });
  }
  return new Response(request.method === 'HEAD' ? null : resource.body, { status: 200, headers: resource.headers });
}

/**
 * A fetch-style handler serving the AsyncAPI document (`GET /asyncapi.json`) and the docs page
 * (`GET /docs`); paths are configurable. It resolves to `undefined` for any other path, so it
 * can sit in front of other handlers. Both are generated once, on the first request.
 *
 * @example
 * // uWebSockets.js, through @herald/uws
 * const docs = createDocsHandler(chat, { title: 'Chat', version: '1.2.0', url: 'wss://chat.example.com/ws' });
 * const serve = async (request: Request) => (await docs(request)) ?? new Response('not found', { status: 404 });
 * attachFetch(app, '/asyncapi.json', serve);
 * attachFetch(app, '/docs', serve);
 *
 * // Hono
 * app.get('/asyncapi.json', async (c) => (await docs(c.req.raw)) ?? c.notFound());
 * app.get('/docs', async (c) => (await docs(c.req.raw)) ?? c.notFound());
 */
export function createDocsHandler(contract: ContractDefinition, options: DocsHandlerOptions): DocsHandler {
  const asyncApiPath = options.paths?.asyncApi ?? '/asyncapi.json';
  const docsPath = options.paths?.docs ?? '/docs';
  for (const path of [asyncApiPath, docsPath]) {
    if (!path.startsWith('/')) throw new TypeError(`paths must start with "/", got ${path}`);
  }
  if (asyncApiPath === docsPath) throw new TypeError('paths.asyncApi and paths.docs must differ');
  let document: Resource | undefined;
  let page: Resource | undefined;
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === asyncApiPath) {
      document ??= {
        body: JSON.stringify(asyncApiDocument(contract, options), null, 2),
        headers: { 'content-type': 'application/json; charset=utf-8', 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' },
      };
      return answer(request, document);
    }
    if (pathname === docsPath) {
      page ??= {
        body: docsPage(contract, { ...options, asyncApiHref: asyncApiPath }),
        headers: {
          'content-type': 'text/html; charset=utf-8',
          'content-security-policy': DOCS_CONTENT_SECURITY_POLICY,
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          'cache-control': 'no-cache',
        },
      };
      return answer(request, page);
    }
    return undefined;
  };
}
