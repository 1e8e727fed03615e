/**
 * Reads PROTOCOL.md's examples and compares them with what a server sends.
 *
 * An example the server produces (a server→client envelope, or an HTTP answer with a JSON body)
 * is marked on the line before its code block with the scenario that reproduces it,
 * `<!-- example: subscribe-live -->`, or, where no test can reproduce it, with
 * `<!-- example not reproduced: why -->`. Client→server envelopes (`req`, `ack`) need no marker:
 * the schema test in @herald/core checks them.
 */
import { readFileSync } from 'node:fs';

export interface SpecExample {
  /** 1-based line of the code block's opening fence. */
  readonly line: number;
  readonly heading: string;
  /** What the example shows: an envelope, or `{status, headers, body}` for an HTTP answer. */
  readonly shows: unknown;
  readonly scenario: string | undefined;
  readonly notReproduced: string | undefined;
}

/** `{...}` in an example stands for any object (the long-poll open elides the Welcome body). */
const ELIDED = '{...}';
const ANY_OBJECT = '<any object>';

function httpAnswer(text: string): { status: number; headers: Record<string, string>; body: unknown } | undefined {
  const lines = text.split('\n');
  const start = lines.findIndex((line) => /^HTTP\/1\.1 \d{3}/.test(line));
  const bodyLine = lines.slice(start + 1).find((line) => line.startsWith('{'));
  if (start < 0 || bodyLine === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number((lines[start] as string).split(' ')[1]), headers, body: JSON.parse(bodyLine.replaceAll(ELIDED, JSON.stringify(ANY_OBJECT))) };
}

/** Every server→client example of the document, with its marker. */
export function readSpecExamples(url: URL): SpecExample[] {
  const lines = readFileSync(url, 'utf8').split('\n');
  const examples: SpecExample[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith('#')) heading = line.replace(/^#+ /, '');
    const fence = /^```(json|jsonc|http)$/.exec(line);
    if (fence === null) continue;
    const fenceAt = i;
    const end = lines.indexOf('```', i + 1);
    const text = lines.slice(i + 1, end).filter((l) => !l.startsWith('//')).join('\n');
    i = end;
    let shows: unknown;
    if (fence[1] === 'http') shows = httpAnswer(text);
    else {
      const envelope = JSON.parse(text) as { kind: string };
      shows = envelope.kind === 'req' || envelope.kind === 'ack' ? undefined : envelope;
    }
    if (shows === undefined) continue;
    const marker = /^<!-- example(?:: ([a-z0-9-]+)| not reproduced: (.+)) -->$/.exec(lines[fenceAt - 1] ?? '');
    examples.push({ line: fenceAt + 1, heading, shows, scenario: marker?.[1], notReproduced: marker?.[2] });
  }
  return examples;
}

/**
 * The fields whose values differ on every run, and only those: each must be present with a
 * value of the same type, but its value is not compared.
 */
export const VARIABLE_FIELDS: ReadonlyArray<{ readonly path: string; readonly why: string; readonly when?: (frame: any) => boolean }> = [
  { path: 'body.sessionId', why: 'a fresh random session id per session' },
  { path: 'body.sid', why: 'a fresh random long-poll connection id' },
  { path: 'body.epoch', why: "a topic's epoch is drawn at random when its stream starts" },
  { path: 'body.topics.*.epoch', why: 'the same, per topic of a resume answer' },
  { path: 'body.expiresAt', why: 'a timestamp' },
  { path: 'body.issues.*.message', why: "worded by the application's schema library" },
  { path: 'body.retryAfterMs', why: 'time until the rate limiter has a token again', when: (frame) => frame?.body?.error === 'rate_limited' },
  { path: 'body.retryAfterMs', why: 'the same, in an HTTP answer', when: (frame) => frame?.status === 429 },
  { path: 'headers.retry-after', why: 'the same, in seconds' },
  { path: 'headers.herald-session', why: 'the long-poll connection id' },
];

function isVariable(path: string, frame: unknown): boolean {
  return VARIABLE_FIELDS.some(
    (field) => new RegExp(`^${field.path.replaceAll('.', '\\.').replaceAll('*', '[^.]+')}$`).test(path) && (field.when === undefined || field.when(frame)),
  );
}

/**
 * The differences between what an example shows and what the server sent, one per line;
 * empty when they agree. The answer's headers need only include the example's.
 */
export function differences(shows: unknown, actual: unknown): string[] {
  const found: string[] = [];
  const walk = (expected: unknown, got: unknown, path: string): void => {
    const at = path === '' ? '(frame)' : path;
    if (isVariable(path, shows)) {
      if (typeof got !== typeof expected) found.push(`${at}: expected a ${typeof expected}, got ${JSON.stringify(got)}`);
      return;
    }
    if (expected === ANY_OBJECT) {
      if (typeof got !== 'object' || got === null) found.push(`${at}: expected an object, got ${JSON.stringify(got)}`);
      return;
    }
    if (typeof expected !== 'object' || expected === null || typeof got !== 'object' || got === null) {
      if (expected !== got) found.push(`${at}: the example shows ${JSON.stringify(expected)}, the server sent ${JSON.stringify(got)}`);
      return;
    }
    const keys = new Set([...Object.keys(expected), ...(path === 'headers' ? [] : Object.keys(got))]);
    for (const key of keys) {
      const child = path === '' ? key : `${path}.${key}`;
      if (!(key in got)) found.push(`${child}: in the example, not sent by the server`);
      else if (!(key in expected)) found.push(`${child}: sent by the server (${JSON.stringify((got as any)[key])}), not in the example`);
      else walk((expected as any)[key], (got as any)[key], child);
    }
  };
  walk(shows, actual, '');
  return found;
}
