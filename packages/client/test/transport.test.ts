/**
 * The WebSocket transport's own bookkeeping, against a scripted WebSocket (the real ones are
 * exercised end to end in client.test.ts; here the point is an ordering real sockets produce
 * only now and then: a frame delivered after this side closed the socket).
 */
import { describe, expect, it } from 'vitest';
import { webSocketTransport, type WebSocketLike } from '../src/index.ts';

class ScriptedWebSocket implements WebSocketLike {
  static last: ScriptedWebSocket | undefined;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: string[] = [];
  constructor() {
    ScriptedWebSocket.last = this;
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {}
}

describe('webSocketTransport', () => {
  it('delivers nothing more once this side has closed, though the socket still hands over frames in flight', () => {
    const received: Array<string | object> = [];
    const closes: number[] = [];
    const connection = webSocketTransport({ url: 'ws://127.0.0.1:1/', WebSocket: ScriptedWebSocket })({
      onOpen: () => {},
      onMessage: (text) => received.push(text),
      onClose: (code) => closes.push(code),
    });
    const socket = ScriptedWebSocket.last as ScriptedWebSocket;
    socket.onmessage?.({ data: '{"kind":"ping"}' });
    connection.close(4408, 'server silent');
    socket.onmessage?.({ data: '{"kind":"notification","type":"late","seq":7}' });
    socket.onclose?.({ code: 1006, reason: '' });
    expect(received).toEqual(['{"kind":"ping"}']);
    expect(closes).toEqual([4408]);
  });
});
