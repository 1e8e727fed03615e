/**
 * What a native client sees when its upgrade is refused: the HTTP status, headers and JSON
 * body. Browsers never see these (they get a close code instead), so this needs `ws`, which
 * exposes the response of a failed handshake.
 */
import { PROTOCOL_NAME } from '@herald/core';

export interface Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: unknown;
}

/**
 * Attempts an upgrade expected to be refused, and resolves to the refusal.
 *
 * @example
 * const refusal = await upgradeRefusal(url, { headers: { authorization: 'Bearer wrong' } });
 * expect(refusal).toMatchObject({ status: 401, body: { error: 'invalid_token' } });
 */
export async function upgradeRefusal(url: string, options: { headers?: Record<string, string>; protocols?: string[] } = {}): Promise<Refusal> {
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(url, options.protocols ?? [PROTOCOL_NAME], { headers: options.headers ?? {} });
  return new Promise((resolve, reject) => {
    ws.on('open', () => {
      ws.terminate();
      reject(new Error(`upgradeRefusal: ${url} accepted the upgrade`));
    });
    ws.on('error', () => {});
    ws.on('unexpected-response', (_request, response) => {
      let text = '';
      response.on('data', (chunk: Uint8Array) => (text += new TextDecoder().decode(chunk)));
      response.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: the suite reports the raw text
        }
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
  });
}
