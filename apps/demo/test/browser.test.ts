/**
 * The demo pages in a real browser: Debian's Chromium (`/usr/bin/chromium`, which `.ci/run`
 * installs) driven by playwright-core, against the demo server started in this process. The
 * pages load the browser build of `@herald/client` from the server, as a user's browser does.
 *
 * Screenshots of every page land in `test/artifacts/`; with `UPDATE_SCREENSHOTS=1` they are
 * also copied to `docs/screenshots/`, where the README shows them.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type DemoServer } from '../src/server.ts';
import { startNginx } from '@herald/testing/node';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL('../../../docs/screenshots/', import.meta.url));
const PAGES = ['playground', 'contact-center-agent', 'contact-center-consumer', 'docs'] as const;
const WAIT = { timeout: 5000 };

let demo: DemoServer;
let browser: BrowserContext;
let profile: string;
let base: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: the browser tests need Debian's Chromium (apt-get install -y --no-install-recommends chromium; .ci/run installs it)`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  demo = await startDemo({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${demo.port}`;
  profile = mkdtempSync(join(tmpdir(), 'herald-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 800 },
  });
});

afterAll(async () => {
  await browser?.close();
  await demo?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

async function screenshot(page: Page, name: (typeof PAGES)[number]): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  if (process.env['UPDATE_SCREENSHOTS'] === '1') {
    mkdirSync(SCREENSHOTS, { recursive: true });
    copyFileSync(path, join(SCREENSHOTS, `${name}.png`));
  }
}

async function connected(page: Page, token?: string): Promise<void> {
  if (token !== undefined) await page.fill('#token', token);
  await page.click('#connect');
  await page.locator('#status', { hasText: 'OPENED' }).waitFor(WAIT);
}

describe('the playground (/)', () => {
  it('connects over WebSocket, sends a request with Ctrl+Enter and shows the response, acks and keep-alives in the log', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await connected(page, 'demo-alice');
    expect(await page.textContent('#transport')).toBe('websocket');

    await page.locator('#type option[value="chat.Join"]').waitFor({ state: 'attached', ...WAIT });
    await page.selectOption('#type', 'chat.Join');
    await page.fill('#body', '{"room":"browser"}');
    await page.press('#body', 'Control+Enter');
    const response = page.locator('#log .entry.resp', { hasText: '"type":"chat.Join"' });
    await response.waitFor(WAIT);
    expect(await response.textContent()).toContain('"code":200');
    expect(await page.locator('#log .entry.req', { hasText: '"room":"browser"' }).count()).toBe(1);
    expect(await page.locator('#log .entry.req', { hasText: 'herald.Authenticate' }).textContent()).toContain('"token":"•••"');

    // A whisper to oneself comes back as a private notification, which the client acknowledges.
    await page.selectOption('#type', 'chat.Whisper');
    await page.fill('#body', '{"to":"alice","text":"a note to self"}');
    await page.press('#body', 'Control+Enter');
    await page.locator('#log .entry.notification', { hasText: 'chat.Whispered' }).waitFor(WAIT);
    const ack = page.locator('#log .entry.ack').first();
    await ack.waitFor(WAIT);
    await page.click('#ping');
    const pong = page.locator('#log .entry.pong').first();
    await pong.waitFor(WAIT);
    await screenshot(page, 'playground');

    await page.uncheck('#show-acks');
    await page.uncheck('#show-keepalive');
    expect(await ack.isVisible()).toBe(false);
    expect(await pong.isVisible()).toBe(false);
    await page.check('#show-acks');
    expect(await ack.isVisible()).toBe(true);

    await page.click('#clear');
    expect(await page.locator('#log .entry').count()).toBe(0);
    await page.click('#close');
    await page.locator('#status', { hasText: 'CLOSED' }).waitFor(WAIT);
    await page.close();
  });

  it('falls back to long-poll when the WebSocket does not get through', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.fill('#url', `ws://127.0.0.1:${demo.port}/no-websocket-here`);
    await connected(page, 'demo-bob');
    expect(await page.textContent('#transport')).toBe('long-poll');
    await page.locator('#type option[value="chat.Send"]').waitFor({ state: 'attached', ...WAIT });
    await page.selectOption('#type', 'chat.Send');
    await page.fill('#body', '{"room":"lp","text":"over http"}');
    await page.press('#body', 'Control+Enter');
    expect(await page.locator('#log .entry.resp', { hasText: '"type":"chat.Send"' }).textContent(WAIT)).toContain('"code":200');
    await page.close();
  });

  it('behind nginx without Upgrade support, falls back to long-poll within 3 s and completes a request', async () => {
    const proxy = await startNginx(demo.port, 'no-upgrade', { pages: true });
    try {
      const page = await browser.newPage();
      await page.goto(`http://127.0.0.1:${proxy.port}/`);
      await page.fill('#url', `ws://127.0.0.1:${proxy.port}/ws`);
      const started = Date.now();
      await connected(page, 'demo-carol');
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await page.textContent('#transport')).toBe('long-poll');
      await page.locator('#type option[value="chat.Send"]').waitFor({ state: 'attached', ...WAIT });
      await page.selectOption('#type', 'chat.Send');
      await page.fill('#body', '{"room":"proxied","text":"through a broken proxy"}');
      await page.press('#body', 'Control+Enter');
      expect(await page.locator('#log .entry.resp', { hasText: '"type":"chat.Send"' }).textContent(WAIT)).toContain('"code":200');
      await page.close();
    } finally {
      await proxy.stop();
    }
  });

  it('links to the API docs', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await page.click('#docs-link');
    await page.waitForURL(`${base}/docs`);
    expect(await page.textContent('body')).toContain('ams.aam.SubscribeExConversations');
    await screenshot(page, 'docs');
    await page.close();
  });
});

describe('the contact center (/contact-center)', () => {
  it('rings two agents, gives the conversation to the first to accept, shows the other the ring taken, and carries messages both ways with ✓', async () => {
    const [a1, a2, c1] = await Promise.all([browser.newPage(), browser.newPage(), browser.newPage()]);
    await Promise.all([
      a1.goto(`${base}/contact-center?role=agent&name=a1&skills=45`),
      a2.goto(`${base}/contact-center?role=agent&name=a2&skills=45`),
      c1.goto(`${base}/contact-center?role=consumer&name=c1&skill=45`),
    ]);
    await Promise.all([connected(a1), connected(a2), connected(c1)]);
    for (const agent of [a1, a2]) await agent.locator('#subscription', { hasText: 'sub_' }).waitFor(WAIT);
    // Presence: each agent sees both agents of the skill online, live; the consumer is told how many.
    for (const agent of [a1, a2]) await agent.locator('#agents-online', { hasText: 'skill 45: a1, a2' }).waitFor(WAIT);
    await c1.locator('#skill-agents', { hasText: 'online for skill 45' }).waitFor(WAIT);

    await c1.fill('#first-message', 'Hello, my order has not arrived');
    await c1.click('#open');
    await c1.locator('.conversation .conv-status', { hasText: 'Waiting for an agent' }).waitFor(WAIT);
    expect(await c1.locator('.message.mine').getAttribute('data-state')).toBe('delivered');

    const ringAt = (page: Page) => page.locator('#rings .ring').first();
    await ringAt(a1).locator('.ring-state', { hasText: 'WAITING' }).waitFor(WAIT);
    await ringAt(a2).locator('.ring-state', { hasText: 'WAITING' }).waitFor(WAIT);
    await ringAt(a1).locator('.accept').click();

    const conversation = a1.locator('#conversations .conversation');
    await conversation.locator('.message.theirs', { hasText: 'Hello, my order has not arrived' }).waitFor(WAIT);
    await ringAt(a1).locator('.ring-state', { hasText: 'ACCEPTED by you' }).waitFor(WAIT);
    await ringAt(a2).locator('.ring-state', { hasText: 'ACCEPTED by a1: taken' }).waitFor(WAIT);
    expect(await ringAt(a2).locator('.accept').isDisabled()).toBe(true);
    await c1.locator('.conversation .conv-status', { hasText: 'With agent a1' }).waitFor(WAIT);

    await conversation.locator('.message-text').fill('Let me check that for you');
    await conversation.locator('.message-text').press('Enter');
    await conversation.locator('.message.mine[data-state="delivered"]', { hasText: 'Let me check that for you' }).waitFor(WAIT);
    expect(await conversation.locator('.message.mine .tick').last().textContent()).toBe('✓');
    await c1.locator('.message.theirs', { hasText: 'Let me check that for you' }).waitFor(WAIT);

    await c1.locator('.conversation .message-text').fill('Thank you!');
    await c1.locator('.conversation .send').click();
    await c1.locator('.message.mine[data-state="delivered"]', { hasText: 'Thank you!' }).waitFor(WAIT);
    await conversation.locator('.message.theirs', { hasText: 'Thank you!' }).waitFor(WAIT);

    await screenshot(a1, 'contact-center-agent');
    await screenshot(c1, 'contact-center-consumer');
    await Promise.all([a1.close(), a2.close(), c1.close()]);
  });

  it('offers a chooser when no role is given', async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/contact-center`);
    expect(await page.isVisible('#chooser')).toBe(true);
    expect(await page.isVisible('#identity')).toBe(false);
    await page.close();
  });
});

describe('the README screenshots', () => {
  it('are committed for every page', () => {
    const missing = PAGES.filter((name) => !existsSync(join(SCREENSHOTS, `${name}.png`)));
    expect(missing, 'run UPDATE_SCREENSHOTS=1 pnpm vitest run --project demo apps/demo/test/browser.test.ts').toEqual([]);
  });
});
