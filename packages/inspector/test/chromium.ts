/**
 * Debian's Chromium (`/usr/bin/chromium`) through playwright-core, with a fresh profile, as the
 * demo's browser tests launch it; and the page's screenshots (`UPDATE_SCREENSHOTS=1` copies them
 * to `docs/`, where the README shows them).
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TOKEN } from './servers.ts';

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
export const WAIT = { timeout: 15_000 };

export interface Chromium {
  readonly context: BrowserContext;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Chromium> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium`);
  const profile = mkdtempSync(join(tmpdir(), 'herald-inspector-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport: { width: 1400, height: 900 } });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens the inspector of the server on `port` and signs in with `token`. */
export async function signedIn(context: BrowserContext, port: number, token = TOKEN): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/inspector`);
  await page.fill('#token', token);
  await page.click('#sign-in-button');
  return page;
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  if (process.env['UPDATE_SCREENSHOTS'] === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(path, join(DOCS, `${name}.png`));
  }
}

/** The row of a user's session on the page. */
export const sessionRow = (page: Page, user: string) => page.locator(`inspector-sessions tr[data-user="${user}"]`);
