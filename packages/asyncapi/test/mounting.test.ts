/** The docs handler mounted the way the README shows, on uWebSockets.js and on Hono. */
import { attachFetch, loadUws } from '@herald/uws';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDocsHandler } from '../src/index.ts';
import { chat } from './fixtures/chat-contract.ts';

const options = { title: 'Chat', version: '1.0.0', url: 'wss://chat.example.com/ws' };
const docs = createDocsHandler(chat, options);
const notFound = () => new Response('not found', { status: 404 });

describe('on uWebSockets.js through attachFetch', () => {
  const uws = loadUws();
  let listen: unknown;
  let base = '';

  beforeAll(async () => {
    const app = uws.App();
    const serve = async (request: Request) => (await docs(request)) ?? notFound();
    attachFetch(app, '/asyncapi.json', serve);
    attachFetch(app, '/docs', serve);
    listen = await new Promise<unknown>((resolve) => app.listen('127.0.0.1', 0, resolve));
    base = `http://127.0.0.1:${uws.us_socket_local_port(listen as never)}`;
  });
  afterAll(() => uws.us_listen_socket_close(listen as never));

  it('serves the document and the page with their headers', async () => {
    const document = await fetch(`${base}/asyncapi.json`);
    expect(document.status).toBe(200);
    expect(document.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await document.json()).toMatchObject({ asyncapi: '3.0.0', info: { title: 'Chat' } });
    const page = await fetch(`${base}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('<h1>Chat</h1>');
  });
});

describe('on Hono', () => {
  const app = new Hono();
  app.get('/asyncapi.json', async (c) => (await docs(c.req.raw)) ?? c.notFound());
  app.get('/docs', async (c) => (await docs(c.req.raw)) ?? c.notFound());

  it('serves the document and the page', async () => {
    const document = await app.request('/asyncapi.json');
    expect(document.status).toBe(200);
    expect(await document.json()).toMatchObject({ asyncapi: '3.0.0' });
    const page = await app.request('/docs');
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await page.text()).toContain('<h1>Chat</h1>');
    expect((await app.request('/elsewhere')).status).toBe(404);
  });
});
