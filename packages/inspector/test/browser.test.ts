/**
 * The inspector page in Debian's Chromium (`/usr/bin/chromium`, driven by playwright-core), on a
 * real server on uWS and on Hono, with real clients (`@herald/client` over `ws`): sessions appear
 * and vanish as clients connect and disconnect, a session's frames are tailed live, the
 * unsubscribe action ends one subscription, and the disconnect action ends a session, whose
 * client sees close code 4410 and does not reconnect.
 *
 * The screenshot lands in `test/artifacts/` (see `chromium.ts`).
 */
import { eventually } from '@herald/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Chromium, launchChromium, screenshot, sessionRow as row, signedIn, WAIT } from './chromium.ts';
import { type Adapter, chatClient, serveInspected, type InspectedServer } from './servers.ts';

let chromium: Chromium;

beforeAll(async () => {
  chromium = await launchChromium();
});

afterAll(async () => {
  await chromium?.close();
});

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
    const page = await signedIn(chromium.context, server.port, 'not-the-inspector-token');
    await page.locator('.notice', { hasText: 'The token was refused.' }).waitFor(WAIT);
    expect(await page.locator('#sign-in').isVisible()).toBe(true);
    expect(await page.locator('inspector-sessions tr').count()).toBe(0);
    await page.close();
  });

  it('shows sessions as clients connect and disconnect, tails one, unsubscribes one from a topic and disconnects it (4410)', async () => {
    const page = await signedIn(chromium.context, server.port);
    await page.locator('#state', { hasText: 'live' }).waitFor(WAIT);
    await page.locator('inspector-sessions tr.empty').waitFor(WAIT);

    const alice = chatClient(server.port, 'alice');
    const bob = chatClient(server.port, 'bob');
    await alice.subscribe('room/lobby', () => {}).ready;
    await bob.request('chat.Send', { room: 'lobby', text: 'hello' });
    await row(page, 'alice').waitFor(WAIT);
    await row(page, 'bob').waitFor(WAIT);
    await row(page, 'alice').locator('.topic', { hasText: 'room/lobby' }).waitFor(WAIT);
    await page.locator('inspector-topics tr[data-topic="room/lobby"]').waitFor(WAIT);
    await page.locator('inspector-requests tr[data-type="chat.Send"]', { hasText: '200 × 1' }).waitFor(WAIT);
    // The chat lets sessions subscribe to room/* only: a refusal shows with its topic and user.
    await expect(bob.subscribe('lobby', () => {}).ready).rejects.toThrow();
    await page.locator('inspector-events table.refusals tr', { hasText: 'subscribe lobby' }).and(page.locator('tr', { hasText: 'bob' })).waitFor(WAIT);

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

    // Unsubscribing her from a topic leaves the session open, without the topic.
    await row(page, 'alice').locator('.topic', { hasText: 'room/lobby' }).locator('button.unsubscribe').click();
    await row(page, 'alice').locator('.topic', { hasText: 'room/lobby' }).waitFor({ state: 'detached', ...WAIT });
    await page.locator('inspector-session li.frame.out', { hasText: 'herald.Unsubscribed' }).waitFor(WAIT);
    expect(alice.state).toBe('open');

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
