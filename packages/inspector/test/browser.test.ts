/**
 * The inspector page in Debian's Chromium (`/usr/bin/chromium`, driven by playwright-core), on a
 * real server on uWS and on Hono, with real clients (`@herald/client` over `ws`): sessions appear
 * and vanish as clients connect and disconnect, a session's frames are tailed live, and the
 * disconnect action ends a session, whose client sees close code 4410 and does not reconnect.
 *
 * The screenshot lands in `test/artifacts/`; with `UPDATE_SCREENSHOTS=1` it is also copied to
 * `docs/`, where the README shows it.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type HeraldClient } from '@herald/client';
import { eventually } from '@herald/testing';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Adapter, chat, serveInspected, TOKEN, type InspectedServer } from './servers.ts';

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
const DOCS = fileURLToPath(new URL('../docs/', import.meta.url));
/** Generous: the machine may be loaded; each wait ends as soon as its condition holds. */
const WAIT = { timeout: 15_000 };

let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  profile = mkdtempSync(join(tmpdir(), 'herald-inspector-chromium-'));
  browser = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
});

afterAll(async () => {
  await browser?.close();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
});

async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (process.env['UPDATE_SCREENSHOTS'] === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(path, join(DOCS, `${name}.png`));
  }
}

function client(server: InspectedServer, user: string): HeraldClient<typeof chat> {
  return createClient<typeof chat>({ url: `ws://127.0.0.1:${server.port}/ws`, WebSocket: WebSocket as never, token: `user:${user}` });
}

async function signedIn(server: InspectedServer, token = TOKEN): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${server.port}/inspector`);
  await page.fill('#token', token);
  await page.click('#sign-in-button');
  return page;
}

const row = (page: Page, user: string) => page.locator(`inspector-sessions tr[data-user="${user}"]`);

describe.each<Adapter>(['uws', 'hono'])('the inspector on %s', (adapter) => {
  let server: InspectedServer;

  beforeAll(async () => {
    server = await serveInspected(adapter, { inspector: { actions: true } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('answers /healthz and /readyz beside it', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).json()).toMatchObject({ status: 'ok', ready: true });
  });

  it('asks again when the token is refused, and shows nothing', async () => {
    const page = await signedIn(server, 'not-the-inspector-token');
    await page.locator('.notice', { hasText: 'The token was refused.' }).waitFor(WAIT);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('inspector-sessions tr').count()).toBe(0);
    await page.close();
  });

  it('shows sessions as clients connect and disconnect, tails one, and disconnects one (4410)', async () => {
    const page = await signedIn(server);
    await page.locator('#state', { hasText: 'live' }).waitFor(WAIT);
    await page.locator('inspector-sessions tr.empty').waitFor(WAIT);

    const alice = client(server, 'alice');
    const bob = client(server, 'bob');
    await alice.subscribe('room/lobby', () => {}).ready;
    await bob.request('chat.Send', { room: 'lobby', text: 'hello' });
    await row(page, 'alice').waitFor(WAIT);
    await row(page, 'bob').waitFor(WAIT);
    await row(page, 'alice').locator('.topic', { hasText: 'room/lobby' }).waitFor(WAIT);
    await page.locator('inspector-topics tr[data-topic="room/lobby"]').waitFor(WAIT);
    await page.locator('inspector-requests tr[data-type="chat.Send"]', { hasText: '200 × 1' }).waitFor(WAIT);

    // A client that leaves for good (close code 1000) takes its session off the page.
    bob.close();
    await row(page, 'bob').waitFor({ state: 'detached', ...WAIT });

    await row(page, 'alice').locator('a.session-id').click();
    await page.locator('inspector-session .tail-status', { hasText: 'Live' }).waitFor(WAIT);
    await alice.request('chat.Send', { room: 'lobby', text: 'a secret' });
    await page.locator('inspector-session li.frame.in', { hasText: 'chat.Send' }).waitFor(WAIT);
    await page.locator('inspector-session li.frame.out', { hasText: 'chat.Message' }).first().waitFor(WAIT);
    expect(await page.locator('inspector-session').textContent()).not.toContain('a secret');
    if (adapter === 'uws') await screenshot(page, 'inspector');

    await row(page, 'alice').locator('button.disconnect').click();
    await eventually(() => expect(alice.state).toBe('closed'), 15_000);
    expect(alice.lastClose).toEqual({ code: 4410, reason: 'disconnected by an operator' });
    await row(page, 'alice').waitFor({ state: 'detached', ...WAIT });
    await page.locator('inspector-events table.closes td', { hasText: '4410' }).first().waitFor(WAIT);
    await page.locator('inspector-session .tail-status', { hasText: 'The session ended.' }).waitFor(WAIT);
    alice.close();
    await page.close();
  });
});
