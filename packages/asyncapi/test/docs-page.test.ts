import { CloseCode, ErrorReason, SystemType, defineContract } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { DOCS_CONTENT_SECURITY_POLICY, docsPage } from '../src/index.ts';
import { chat } from './fixtures/chat-contract.ts';
import { contactCenter, ringStates } from './fixtures/contact-center-contract.ts';
import { visibleText } from './visible-text.ts';

const options = { title: 'Agent API', version: '2.0.0', url: 'wss://api.example.com/ws', description: 'For agent consoles.' };

describe('docsPage', () => {
  const page = docsPage(contactCenter, options);
  const text = visibleText(page);

  it('is one self-contained document: no script, no external asset, a strict CSP', () => {
    expect(page.startsWith('<!doctype html>')).toBe(true);
    expect(page).not.toMatch(/<script|<link|<img|<iframe|\ssrc=|@import|url\(/i);
    expect(page).not.toMatch(/href="(https?:)?\/\//);
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="${DOCS_CONTENT_SECURITY_POLICY.replaceAll("'", '&#39;')}">`);
  });

  it('has the overview and how to connect: URL, subprotocol, auth, long-poll', () => {
    expect(text).toContain('Agent API');
    expect(text).toContain('Version 2.0.0');
    expect(text).toContain('For agent consoles.');
    expect(text).toContain('Open a WebSocket to wss://api.example.com/ws offering the subprotocol herald.v1 in Sec-WebSocket-Protocol');
    expect(text).toContain('Authorization: Bearer <token>');
    expect(text).toContain('herald.Authenticate {token}');
    expect(text).toContain('POST /lp/send');
    expect(docsPage(contactCenter, { ...options, longPollPath: false })).not.toContain('Long-poll fallback');
  });

  it('documents every request with property tables: types, required marks and constraints', () => {
    expect(page).toContain('id="request-ams.aam.SubscribeExConversations"');
    expect(text).toContain('Subscribe to the conversations of a brand matching the filters');
    expect(text).toMatch(/brandId string required 1–64 characters The brand \(account\) id/);
    expect(text).toMatch(/agentIds array of string optional 1–50 items each item: at least 1 character Only conversations of these agents/);
    expect(text).toMatch(/convState array of "OPEN" \| "CLOSE" required at least 1 item/);
    expect(text).toMatch(/skills array of string optional at most 20 items each item: pattern \^\[0-9\]\+\$/);
    expect(text).toMatch(/minLastUpdatedTime integer optional 0 ≤ value Epoch milliseconds/);
    expect(text).toMatch(/Response body \(code 200\) Field Type Required Constraints Description subscriptionId string required/i);
  });

  it('shows example envelopes generated from the schemas', () => {
    expect(text).toContain('"type": "ams.aam.SubscribeExConversations"');
    expect(text).toContain('"body": { "subscriptionId": "example" }');
    expect(text).toContain('"convState": ["OPEN"]');
    expect(text).toContain('"ringState": "WAITING"');
  });

  it('documents every notification', () => {
    expect(page).toContain('id="notification-ams.routing.RingUpdated"');
    expect(text).toContain(`ringState ${ringStates.map((state) => `"${state}"`).join(' | ')} required`);
    expect(text).toMatch(/ringId string \(uuid\) required/);
  });

  it('lists the system messages, the close codes and the error codes', () => {
    for (const type of Object.values(SystemType)) expect(text, type).toContain(type);
    expect(text).toContain('ping / pong / ack');
    for (const code of Object.values(CloseCode)) expect(page, String(code)).toContain(`<code>${code}</code>`);
    expect(text).toMatch(/4401 Unauthorized .* reauthenticate/);
    for (const error of Object.values(ErrorReason)) expect(page, error).toContain(`<code>${error}</code>`);
  });

  it('renders recursive schemas without looping', () => {
    const chatText = visibleText(docsPage(chat, options));
    expect(chatText).toContain('posts[].replies array of object (recursive) required');
    expect(chatText).toMatch(/limit integer optional 1 ≤ value ≤ 100 default 20/);
  });

  it('escapes everything that comes from the contract or the options', () => {
    const hostile = defineContract({
      requests: {
        'evil.Request': {
          description: '<script>alert(1)</script>',
          request: z.object({
            '<img src=x onerror=alert(2)>': z.string().describe('<b onmouseover="alert(3)">bold</b>'),
            mode: z.enum(['"><script>alert(4)</script>']),
            note: z.string().regex(/^<\/code><script>alert\(5\)<\/script>$/),
          }),
          response: z.object({}).describe("'><script>alert(6)</script>"),
        },
      },
      notifications: { 'evil.Notification': { description: '</p><iframe src="javascript:alert(7)">', body: z.object({ x: z.string().default('</pre><script>alert(8)</script>') }) } },
    });
    const evil = docsPage(hostile, { ...options, title: '<script>alert(9)</script>', description: '<svg onload=alert(10)>', version: '"><script>' });
    expect(evil).not.toMatch(/<script|<img|<iframe|<svg|<b /i);
    expect(evil).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(evil).toContain('&lt;img src=x onerror=alert(2)&gt;');
    expect(evil).toContain('&lt;b onmouseover=&quot;alert(3)&quot;&gt;bold&lt;/b&gt;');
    const evilText = visibleText(evil);
    for (const n of [1, 2, 3, 4, 6, 7, 8, 9, 10]) expect(evilText, `payload ${n}`).toContain(`alert(${n})`);
    expect(evilText).toContain('pattern ^<\\/code><script>alert\\(5\\)<\\/script>$');
  });
});
