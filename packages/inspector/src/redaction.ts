/**
 * What the inspector shows of a frame: its envelope, with the body replaced by its size unless
 * bodies are shown. A token (`herald.Authenticate`) is never shown, bodies or not.
 */
import { SystemType, utf8Length } from '@herald/core';

/** System messages whose bodies are protocol bookkeeping (topics, offsets, close codes), not application data. */
const PROTOCOL_BODIES: ReadonlySet<string> = new Set([
  SystemType.Resume,
  SystemType.Subscribe,
  SystemType.Subscribed,
  SystemType.Unsubscribe,
  SystemType.Unsubscribed,
  SystemType.TopicReset,
  SystemType.Goodbye,
  SystemType.Error,
]);

/** The placeholder of a hidden body. */
export interface RedactedBody {
  readonly redacted: true;
  readonly bytes: number;
}

function redactToken(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('token' in body)) return body;
  return { ...body, token: '•••' };
}

/**
 * A frame as the inspector shows it. Bodies of application messages and of the system messages
 * that carry application data are replaced by `{ redacted: true, bytes }` unless `showBodies`;
 * error answers keep their `error` reason. A frame that is not JSON is shown by its size only.
 */
export function redactFrame(frame: string, showBodies: boolean): Record<string, unknown> {
  let envelope: unknown;
  try {
    envelope = JSON.parse(frame);
  } catch {
    return { unparsed: true, bytes: utf8Length(frame) };
  }
  if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope)) return { unparsed: true, bytes: utf8Length(frame) };
  const shown: Record<string, unknown> = { ...(envelope as Record<string, unknown>) };
  if (!('body' in shown)) return shown;
  const type = typeof shown['type'] === 'string' ? shown['type'] : '';
  if (type === SystemType.Authenticate) {
    shown['body'] = redactToken(shown['body']);
    return shown;
  }
  if (showBodies || PROTOCOL_BODIES.has(type)) return shown;
  const body = shown['body'];
  const code = shown['code'];
  if (typeof code === 'number' && code >= 400 && typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string') {
    shown['body'] = { error: (body as { error: string }).error };
    return shown;
  }
  if (type === SystemType.Welcome && typeof body === 'object' && body !== null) {
    const { sessionId, protocol, authenticated } = body as Record<string, unknown>;
    shown['body'] = { sessionId, protocol, authenticated };
    return shown;
  }
  const redacted: RedactedBody = { redacted: true, bytes: utf8Length(JSON.stringify(body)) };
  shown['body'] = redacted;
  return shown;
}
