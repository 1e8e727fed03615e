/** Opens a backend leg with `ws`: open, refused (the backend's HTTP answer), or failed. */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { Backend } from './backends.ts';

export type Dialed =
  /** `takeEarly`: stops holding frames for the caller and hands over those that arrived before it listened (the Welcome). */
  | {
      readonly kind: 'open';
      readonly backend: WebSocket;
      readonly target: Backend;
      readonly takeEarly: () => readonly Buffer[];
      /** The first frame the leg got (its Welcome, or a refusal's Goodbye), before `takeEarly`; undefined if it closed or said nothing within `timeoutMs`. */
      readonly firstFrame: (timeoutMs: number) => Promise<Buffer | undefined>;
    }
  | { readonly kind: 'refused'; readonly status: number; readonly headers: Readonly<Record<string, string | undefined>>; readonly body: string }
  | { readonly kind: 'failed'; readonly error: string };

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

/**
 * The `net.Socket` under a `ws` client, which `ws` keeps in `_socket` without a public accessor.
 * The gateway only corks and uncorks it, to write a tick's frames in one system call.
 */
export function socketOfInternal(backend: WebSocket): Socket | undefined {
  return (backend as unknown as { _socket?: Socket | null })._socket ?? undefined;
}

/** The most of a refusal's body read. */
const MAX_BODY = 16 * 1024;

export function dialBackend(
  target: Backend,
  headers: Readonly<Record<string, string>>,
  protocols: readonly string[],
  options: { readonly timeoutMs: number; readonly maxPayload: number },
): Promise<Dialed> {
  return new Promise((resolve) => {
    const backend = new WebSocket(target.url, [...protocols], {
      headers,
      perMessageDeflate: false,
      // A backend leg carries no browser script's bytes, which masking exists to scramble for
      // caching proxies (RFC 6455 §10.3): a zero key, which ws then skips applying, saves a copy
      // of every frame. The node's frames are relayed as they are, so the client checks their UTF-8.
      generateMask: zeroMask,
      skipUTF8Validation: true,
      maxPayload: options.maxPayload,
      followRedirects: false,
      handshakeTimeout: options.timeoutMs,
    });
    // Let go once taken: the dial's listeners stay on the leg for its whole life, and with them
    // whatever their closures still reach (the Welcome among the early frames).
    let early: Buffer[] = [];
    const onEarly = (data: Buffer): void => {
      early.push(data);
    };
    backend.on('message', onEarly);
    const takeEarly = (): readonly Buffer[] => {
      backend.off('message', onEarly);
      const taken = early;
      early = [];
      return taken;
    };
    const firstFrame = (timeoutMs: number): Promise<Buffer | undefined> => {
      if (early[0] !== undefined) return Promise.resolve(early[0]);
      return new Promise((resolveFirst) => {
        const done = (frame: Buffer | undefined): void => {
          clearTimeout(timer);
          backend.off('message', done);
          backend.off('close', onClose);
          resolveFirst(frame);
        };
        const onClose = (): void => done(undefined);
        const timer = setTimeout(onClose, timeoutMs);
        backend.on('message', done);
        backend.on('close', onClose);
      });
    };
    backend.once('open', () => {
      backend.removeAllListeners('error');
      resolve({ kind: 'open', backend, target, takeEarly, firstFrame });
    });
    backend.once('unexpected-response', (request, response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let length = 0;
      response.on('data', (chunk: Buffer) => {
        if (length < MAX_BODY) chunks.push(chunk);
        length += chunk.length;
      });
      response.once('end', () => {
        request.destroy();
        const flat: Record<string, string | undefined> = {};
        for (const [name, value] of Object.entries(response.headers)) flat[name] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ kind: 'refused', status: response.statusCode ?? 502, headers: flat, body: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY) });
      });
      response.once('error', (error) => resolve({ kind: 'failed', error: error.message }));
    });
    backend.on('error', (error) => resolve({ kind: 'failed', error: error.message }));
  });
}
