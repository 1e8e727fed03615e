/** `autoTransport`'s default long-poll URL, from absolute and (in a browser) relative WebSocket URLs. */
import { afterEach, expect, it, vi } from 'vitest';
import { defaultLongPollUrl } from '../src/index.ts';

afterEach(() => vi.unstubAllGlobals());

it('puts long-poll on the WebSocket URL origin, over TLS when the WebSocket is', () => {
  expect(defaultLongPollUrl('ws://127.0.0.1:9090/ws')).toBe('http://127.0.0.1:9090/lp');
  expect(defaultLongPollUrl('wss://example.com/socket')).toBe('https://example.com/lp');
  expect(defaultLongPollUrl('https://example.com/ws')).toBe('https://example.com/lp');
});

it('resolves a relative WebSocket URL against the page, as a browser WebSocket does', () => {
  vi.stubGlobal('location', { href: 'https://app.example/chat/' });
  expect(defaultLongPollUrl('/ws')).toBe('https://app.example/lp');
  vi.stubGlobal('location', { href: 'http://localhost:5173/' });
  expect(defaultLongPollUrl('/ws')).toBe('http://localhost:5173/lp');
});
