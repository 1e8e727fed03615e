/**
 * Reads what the gateway must know from a frame's bytes without decoding it. Herald servers
 * write every frame with a fixed field order (core's `codec.ts`), so a topic notification's
 * topic and offset, a private notification's seq and a response's type sit at known places;
 * only `herald.*` frames, which are rare, are parsed as JSON.
 */

const QUOTE = 0x22;
const NOTIFICATION = Buffer.from('{"kind":"notification","type":"');
const RESPONSE = Buffer.from('{"kind":"resp","reqId":"');
const REQUEST = Buffer.from('"kind":"req"');
const TOPIC = Buffer.from(',"topic":"');
const OFFSET = Buffer.from('","offset":');
const SEQ = Buffer.from(',"seq":');
const TYPE = Buffer.from('","type":"');
const SYSTEM = Buffer.from('herald.');
const QUOTED_SYSTEM = Buffer.from('"herald.');
const BACKSLASH = 0x5c;
/** How `@herald/client` starts a request, with or without its `"resp":N,` confirmation. */
const REQUEST_START = Buffer.from('{"kind":"req",');
const RESP_FIELD = Buffer.from('"resp":');
const ID_FIELD = Buffer.from('"id":"');

/** What a backend frame is, as far as the gateway cares. */
export const FrameSort = {
  /** Relayed as it is, nothing to track (application responses, pings, …). */
  Other: 0,
  Topic: 1,
  Private: 2,
  /** A `herald.*` notification or response: parse it (`system`). */
  System: 3,
} as const;
export type FrameSort = (typeof FrameSort)[keyof typeof FrameSort];

/** Where the last `scan` found things; reused, so scanning allocates nothing. */
export interface Scan {
  sort: FrameSort;
  /** Topic: the topic name's byte range in the frame. */
  topicStart: number;
  topicEnd: number;
  /** Topic: its offset. Private: its seq. */
  position: number;
  /** An application response (`resp` not of a `herald.*` type). */
  response: boolean;
  /** A response (application or system): its `reqId`'s byte range (`reqIdEnd` 0: not a response). */
  reqIdStart: number;
  reqIdEnd: number;
}

function startsWith(frame: Uint8Array, prefix: Uint8Array, at = 0): boolean {
  if (frame.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (frame[at + i] !== prefix[i]) return false;
  return true;
}

function readInteger(frame: Uint8Array, at: number): number {
  let value = 0;
  let i = at;
  for (; i < frame.length; i++) {
    const digit = (frame[i] as number) - 0x30;
    if (digit < 0 || digit > 9) break;
    value = value * 10 + digit;
  }
  return i === at ? -1 : value;
}

function quoteAfter(frame: Buffer, at: number): number {
  return frame.indexOf(QUOTE, at);
}

function hasByte(frame: Uint8Array, byte: number, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (frame[i] === byte) return true;
  return false;
}

/** Classifies a frame from a backend into `scan`. */
export function scanBackendFrame(frame: Buffer, scan: Scan): void {
  scan.sort = FrameSort.Other;
  scan.response = false;
  scan.reqIdEnd = 0;
  if (startsWith(frame, NOTIFICATION)) {
    const typeStart = NOTIFICATION.length;
    if (startsWith(frame, SYSTEM, typeStart)) {
      scan.sort = FrameSort.System;
      return;
    }
    const typeEnd = quoteAfter(frame, typeStart);
    if (typeEnd < 0) return;
    if (startsWith(frame, TOPIC, typeEnd + 1)) {
      const topicStart = typeEnd + 1 + TOPIC.length;
      const topicEnd = quoteAfter(frame, topicStart);
      if (topicEnd < 0 || !startsWith(frame, OFFSET, topicEnd)) return;
      const offset = readInteger(frame, topicEnd + OFFSET.length);
      if (offset < 0) return;
      scan.sort = FrameSort.Topic;
      scan.topicStart = topicStart;
      scan.topicEnd = topicEnd;
      scan.position = offset;
    } else if (startsWith(frame, SEQ, typeEnd + 1)) {
      const seq = readInteger(frame, typeEnd + 1 + SEQ.length);
      if (seq < 0) return;
      scan.sort = FrameSort.Private;
      scan.position = seq;
    }
    return;
  }
  if (startsWith(frame, RESPONSE)) {
    const idEnd = quoteAfter(frame, RESPONSE.length);
    if (idEnd < 0 || !startsWith(frame, TYPE, idEnd)) return;
    scan.reqIdStart = RESPONSE.length;
    scan.reqIdEnd = idEnd;
    if (startsWith(frame, SYSTEM, idEnd + TYPE.length)) scan.sort = FrameSort.System;
    else scan.response = true;
  }
}

const KIND_FIRST = Buffer.from('{"kind":"');

/** True for a client frame that is a request (whatever the order of its fields; `kind` first, as `@herald/client` writes it, is read in place). */
export function isClientRequest(frame: Buffer): boolean {
  if (startsWith(frame, REQUEST_START)) return true;
  if (startsWith(frame, KIND_FIRST)) return false;
  return frame.indexOf(REQUEST) >= 0;
}

/** Where a request's id sits in its frame (`source[start, end)`), as `requestId` finds it. */
export interface RequestId {
  /** The frame itself when the id was read in place, else the id alone. */
  readonly source: Buffer;
  readonly start: number;
  readonly end: number;
}

/** Where the id of a request in `@herald/client`'s shape starts (`{"kind":"req",` then `"resp":N,` or not, then `"id":"`), or -1. */
function idStartOf(frame: Buffer): number {
  if (!startsWith(frame, REQUEST_START)) return -1;
  let at = REQUEST_START.length;
  if (startsWith(frame, RESP_FIELD, at)) {
    at += RESP_FIELD.length;
    while (at < frame.length && (frame[at] as number) >= 0x30 && (frame[at] as number) <= 0x39) at++;
    if (frame[at] === 0x2c) at++;
  }
  return startsWith(frame, ID_FIELD, at) ? at + ID_FIELD.length : -1;
}

/**
 * A client request's id as bytes, as a Herald server writes it back in `reqId` (ids are
 * `[A-Za-z0-9_.:-]`, PROTOCOL.md §2), or undefined when the frame has none. Read in place for
 * `@herald/client`'s frames; any other shape, or an id written with escapes, is parsed.
 */
export function requestId(frame: Buffer): RequestId | undefined {
  const start = idStartOf(frame);
  if (start >= 0) {
    const end = quoteAfter(frame, start);
    if (end > start && !hasByte(frame, BACKSLASH, start, end)) return { source: frame, start, end };
  }
  const id = parseFrame(frame)?.['id'];
  if (typeof id !== 'string') return undefined;
  const source = Buffer.from(id);
  return { source, start: 0, end: source.length };
}

/** True for a client request of a `herald.*` type the gateway reads (Authenticate, Resume); the type after the id is read in place. */
export function isSystemRequest(frame: Buffer): boolean {
  const start = idStartOf(frame);
  const end = start < 0 ? -1 : quoteAfter(frame, start);
  if (end >= 0 && startsWith(frame, TYPE, end)) return startsWith(frame, SYSTEM, end + TYPE.length);
  return frame.indexOf(QUOTED_SYSTEM) >= 0;
}

/** A `herald.*` frame as JSON, or undefined when it is not an object. */
export function parseFrame(frame: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(frame.toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** How a session's frames are read and written: `jsonFrames` for `herald.v1`, `msgpackFrames` for `herald.v1.msgpack`. */
export interface FrameFormat {
  /** Its frames are binary. */
  readonly binary: boolean;
  /** Classifies a frame from a backend into `scan`. */
  scanBackend(frame: Buffer, scan: Scan): void;
  isClientRequest(frame: Buffer): boolean;
  /** A client request's id as bytes, as its response's `reqId` will be. */
  requestId(frame: Buffer): RequestId | undefined;
  /** True for a client request of a `herald.*` type. */
  isSystemRequest(frame: Buffer): boolean;
  /** A frame decoded, or undefined when it is not an object. */
  parse(frame: Buffer): Record<string, unknown> | undefined;
  /** An envelope the gateway writes itself (a Goodbye, its resume on the client's behalf). */
  encode(message: unknown): Buffer | string;
}

export const jsonFrames: FrameFormat = {
  binary: false,
  scanBackend: scanBackendFrame,
  isClientRequest,
  requestId,
  isSystemRequest,
  parse: parseFrame,
  encode: (message) => JSON.stringify(message),
};
