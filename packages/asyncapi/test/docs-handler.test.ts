import { describe, expect, it } from 'vitest';
import { asyncApiDocument, createDocsHandler, docsPage } from '../src/index.ts';
import { chat } from './fixtures/chat-contract.ts';

const options = { title: 'Chat', version: '1.0.0', url: 'wss://chat.example.com/ws' };
const request = (path: string, init?: RequestInit) => new Request(`https://chat.example.com${path}`, init);

describe('createDocsHandler', () => {
  const handler = createDocsHandler(chat, options);

  it('serves the AsyncAPI document at GET /asyncapi.json', async () => {
    const response = await handler(request('/asyncapi.json'));
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response?.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await response?.json()).toEqual(JSON.parse(JSON.stringify(asyncApiDocument(chat, options))));
  });

  it('serves the docs page at GET /docs, linking the document, under a strict CSP', async () => {
    const response = await handler(request('/docs?section=requests'));
    expect(response?.status).toBe(200);
    expect(response?.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response?.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await response?.text();
    expect(page).toBe(docsPage(chat, { ...options, asyncApiHref: '/asyncapi.json' }));
    expect(page).toContain('<a href="/asyncapi.json">AsyncAPI document</a>');
  });

  it('answers HEAD without a body and other methods with 405', async () => {
    const head = await handler(request('/docs', { method: 'HEAD' }));
    expect(head?.status).toBe(200);
    expect(await head?.text()).toBe('');
    const post = await handler(request('/asyncapi.json', { method: 'POST', body: '{}' }));
    expect(post?.status).toBe(405);
    expect(post?.headers.get('allow')).toBe('GET, HEAD');
  });

  it('resolves to undefined for every other path', async () => {
    for (const path of ['/', '/docs/', '/doc', '/asyncapi.json/x', '/ws', '/lp/poll']) expect(await handler(request(path)), path).toBeUndefined();
  });

  it('answers on configured paths', async () => {
    const custom = createDocsHandler(chat, { ...options, paths: { asyncApi: '/api/spec.json', docs: '/api/reference' } });
    expect((await custom(request('/api/spec.json')))?.status).toBe(200);
    expect(await (await custom(request('/api/reference')))?.text()).toContain('<a href="/api/spec.json">');
    expect(await custom(request('/docs'))).toBeUndefined();
    expect(() => createDocsHandler(chat, { ...options, paths: { docs: 'docs' } })).toThrow(/start with/);
    expect(() => createDocsHandler(chat, { ...options, paths: { docs: '/same', asyncApi: '/same' } })).toThrow(/differ/);
  });
});
