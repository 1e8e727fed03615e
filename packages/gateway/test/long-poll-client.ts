/**
 * A long-poll client written from PROTOCOL.md's "Long-poll transport", as bare as the raw `ws`
 * clients of these tests: it opens, keeps one poll outstanding (acknowledging what the last
 * one brought), sends frames, and records every message and the close.
 */
export interface LongPollPeerClient {
  readonly sid: string;
  /** Every message, parsed, in order. */
  readonly messages: Record<string, unknown>[];
  /** The close the server reported in a poll, once it did. */
  closed: { code: number; reason: string } | undefined;
  /** Posts frames in one send. */
  send(...frames: unknown[]): Promise<void>;
  /** Stops polling (as a frozen or vanished client would); `resume` starts again. */
  pause(): void;
  resume(): void;
  /** DELETE: closes the connection on purpose. */
  close(): Promise<void>;
  /** Called with each message as it arrives. */
  onMessage: ((message: Record<string, unknown>) => void) | undefined;
  /** Called once the connection is closed (by the server, or a failed poll: 1006). */
  onClose: ((code: number) => void) | undefined;
}

export type OpenResult = { readonly ok: true; readonly client: LongPollPeerClient } | { readonly ok: false; readonly status: number; readonly body: unknown; readonly headers: Headers };

interface PollBody {
  readonly sid?: string;
  readonly from: number;
  readonly messages: readonly Record<string, unknown>[];
  readonly closed?: { readonly code: number; readonly reason: string };
}

/** Opens at `url` (the first of several: each later request goes to the next, round the list, as through a load balancer without stickiness). */
export async function openLongPoll(urls: string | readonly string[], headers: Record<string, string> = {}): Promise<OpenResult> {
  const list = typeof urls === 'string' ? [urls] : urls;
  let turn = 0;
  const next = (): string => list[++turn % list.length] as string;
  const url = list[0] as string;
  const opened = await fetch(url, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', ...headers } });
  if (opened.status !== 200) return { ok: false, status: opened.status, body: await opened.json().catch(() => undefined), headers: opened.headers };
  const first = (await opened.json()) as PollBody;
  const sid = first.sid as string;
  let cursor = 0;
  let paused = false;
  let stopped = false;
  let wake: (() => void) | undefined;
  const session = { 'herald-session': sid, ...(headers['authorization'] === undefined ? {} : { authorization: headers['authorization'] }) };
  const client: LongPollPeerClient = {
    sid,
    messages: [],
    closed: undefined,
    onMessage: undefined,
    onClose: undefined,
    async send(...frames) {
      const response = await fetch(`${next()}/send`, { method: 'POST', headers: { ...session, 'content-type': 'application/json' }, body: JSON.stringify(frames.map((frame) => JSON.stringify(frame))) });
      if (response.status !== 204) throw new Error(`send answered ${response.status}: ${await response.text()}`);
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      wake?.();
    },
    async close() {
      stopped = true;
      await fetch(next(), { method: 'DELETE', headers: session });
    },
  };
  const closeWith = (closed: { code: number; reason: string }): void => {
    if (client.closed !== undefined) return;
    client.closed = closed;
    client.onClose?.(closed.code);
  };
  const take = (body: PollBody): void => {
    // A poll brings everything not acknowledged from `from` on: skip what an earlier one brought.
    body.messages.forEach((message, i) => {
      if (body.from + i <= cursor) return;
      client.messages.push(message);
      client.onMessage?.(message);
    });
    cursor = Math.max(cursor, body.from + body.messages.length - 1);
    if (body.closed !== undefined) closeWith(body.closed);
  };
  take(first);
  void (async () => {
    while (!stopped && client.closed === undefined) {
      if (paused) await new Promise<void>((resolve) => (wake = resolve));
      try {
        const response = await fetch(`${next()}/poll?ack=${cursor}`, { headers: session });
        if (response.status !== 200) {
          closeWith({ code: 4000 + response.status, reason: await response.text() });
          return;
        }
        take((await response.json()) as PollBody);
      } catch (error) {
        if (!stopped) closeWith({ code: 1006, reason: String(error) });
        return;
      }
    }
  })();
  return { ok: true, client };
}
