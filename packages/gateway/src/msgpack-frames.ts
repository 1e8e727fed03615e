/**
 * What the gateway reads of a `herald.v1.msgpack` frame without decoding it: the envelope's
 * top-level scalars (`kind`, `type`, `topic`, `offset`, `seq`, `reqId`, `id`), peeked in
 * place, as `frames.ts` does for JSON. A body is skipped over, not decoded, and the peek stops
 * as soon as it has what the frame's kind needs; only `herald.*` frames are decoded whole.
 */
import type { WireCodec } from '@herald/core';
import { FrameSort, type FrameFormat, type RequestId, type Scan } from './frames.ts';

const enum Field {
  None,
  Kind,
  Type,
  Topic,
  Offset,
  Seq,
  ReqId,
  Id,
}

const FIELDS: readonly [Buffer, Field][] = [
  [Buffer.from('kind'), Field.Kind],
  [Buffer.from('type'), Field.Type],
  [Buffer.from('topic'), Field.Topic],
  [Buffer.from('offset'), Field.Offset],
  [Buffer.from('seq'), Field.Seq],
  [Buffer.from('reqId'), Field.ReqId],
  [Buffer.from('id'), Field.Id],
];
const NOTIFICATION = Buffer.from('notification');
const RESPONSE = Buffer.from('resp');
const REQUEST = Buffer.from('req');
const SYSTEM = Buffer.from('herald.');

/** What one peek found; reused, so peeking allocates nothing. String fields are byte ranges of the frame (start −1: absent). */
interface Peek {
  kindStart: number;
  kindEnd: number;
  typeStart: number;
  typeEnd: number;
  topicStart: number;
  topicEnd: number;
  idStart: number;
  idEnd: number;
  offset: number;
  seq: number;
}
const peek: Peek = { kindStart: -1, kindEnd: 0, typeStart: -1, typeEnd: 0, topicStart: -1, topicEnd: 0, idStart: -1, idEnd: 0, offset: -1, seq: -1 };

/** Where the string at `at` is: its bytes' start and end, or undefined when the value there is not a string. */
function stringAt(frame: Buffer, at: number): [number, number] | undefined {
  const byte = frame[at] as number;
  if (byte >= 0xa0 && byte <= 0xbf) return [at + 1, at + 1 + (byte & 0x1f)];
  if (byte === 0xd9) return [at + 2, at + 2 + frame.readUInt8(at + 1)];
  if (byte === 0xda) return [at + 3, at + 3 + frame.readUInt16BE(at + 1)];
  if (byte === 0xdb) return [at + 5, at + 5 + frame.readUInt32BE(at + 1)];
  return undefined;
}

/** The non-negative integer at `at` (msgpackr writes those past 2³² as float 64), or -1. */
function integerAt(frame: Buffer, at: number): number {
  const byte = frame[at] as number;
  if (byte <= 0x7f) return byte;
  if (byte === 0xcc) return frame.readUInt8(at + 1);
  if (byte === 0xcd) return frame.readUInt16BE(at + 1);
  if (byte === 0xce) return frame.readUInt32BE(at + 1);
  if (byte === 0xcf) return Number(frame.readBigUInt64BE(at + 1));
  if (byte === 0xcb) {
    const value = frame.readDoubleBE(at + 1);
    return Number.isSafeInteger(value) && value >= 0 ? value : -1;
  }
  return -1;
}

/**
 * Where the value at `at` ends (its nested values included), or -1 for bytes that are not
 * MessagePack. Iterative: `pending` counts the values still to skip, so depth costs nothing.
 * A header cut short throws a `RangeError`, which `peekFrame` takes as "not MessagePack".
 */
function skip(frame: Buffer, at: number): number {
  let pending = 1;
  while (pending > 0) {
    const byte = frame[at];
    if (byte === undefined) return -1;
    pending--;
    if (byte <= 0x7f || byte >= 0xe0 || byte === 0xc0 || byte === 0xc2 || byte === 0xc3) at += 1;
    else if (byte <= 0x8f) (pending += 2 * (byte & 0x0f)), (at += 1);
    else if (byte <= 0x9f) (pending += byte & 0x0f), (at += 1);
    else if (byte <= 0xbf) at += 1 + (byte & 0x1f);
    else if (byte === 0xdc) (pending += frame.readUInt16BE(at + 1)), (at += 3);
    else if (byte === 0xdd) (pending += frame.readUInt32BE(at + 1)), (at += 5);
    else if (byte === 0xde) (pending += 2 * frame.readUInt16BE(at + 1)), (at += 3);
    else if (byte === 0xdf) (pending += 2 * frame.readUInt32BE(at + 1)), (at += 5);
    else {
      at = sizedEnd(frame, at, byte);
      if (at < 0) return -1;
    }
  }
  return at <= frame.length ? at : -1;
}

/** Past a value whose header gives its size (bin, ext, numbers, str 8–32), or -1. */
function sizedEnd(frame: Buffer, at: number, byte: number): number {
  switch (byte) {
    case 0xc4:
    case 0xd9:
      return at + 2 + frame.readUInt8(at + 1);
    case 0xc5:
    case 0xda:
      return at + 3 + frame.readUInt16BE(at + 1);
    case 0xc6:
    case 0xdb:
      return at + 5 + frame.readUInt32BE(at + 1);
    case 0xc7:
      return at + 3 + frame.readUInt8(at + 1);
    case 0xc8:
      return at + 4 + frame.readUInt16BE(at + 1);
    case 0xc9:
      return at + 6 + frame.readUInt32BE(at + 1);
    case 0xcc:
    case 0xd0:
      return at + 2;
    case 0xcd:
    case 0xd1:
    case 0xd4:
      return at + 3;
    case 0xd5:
      return at + 4;
    case 0xca:
    case 0xce:
    case 0xd2:
      return at + 5;
    case 0xd6:
      return at + 6;
    case 0xcb:
    case 0xcf:
    case 0xd3:
      return at + 9;
    case 0xd7:
      return at + 10;
    case 0xd8:
      return at + 18;
    default:
      return -1; // 0xc1: never used
  }
}

function fieldOf(frame: Buffer, start: number, end: number): Field {
  for (const [name, field] of FIELDS) if (name.length === end - start && name.compare(frame, start, end) === 0) return field;
  return Field.None;
}

function is(frame: Buffer, start: number, end: number, value: Buffer): boolean {
  return start >= 0 && end - start === value.length && value.compare(frame, start, end) === 0;
}

/** Enough is known of a frame: its kind, its type, and what that kind of frame is tracked by. */
function complete(frame: Buffer): boolean {
  if (peek.kindStart < 0 || peek.typeStart < 0) return false;
  if (is(frame, peek.kindStart, peek.kindEnd, NOTIFICATION)) return (peek.topicStart >= 0 && peek.offset >= 0) || peek.seq >= 0;
  return peek.idStart >= 0;
}

/** Fills `peek` from the frame's top-level map; false when the frame is not a MessagePack map. */
function peekFrame(frame: Buffer): boolean {
  try {
    return peekMap(frame);
  } catch {
    return false; // a header cut short: not MessagePack
  }
}

function peekMap(frame: Buffer): boolean {
  peek.kindStart = peek.typeStart = peek.topicStart = peek.idStart = peek.offset = peek.seq = -1;
  const head = frame[0];
  if (head === undefined) return false;
  let entries: number;
  let at: number;
  if (head >= 0x80 && head <= 0x8f) (entries = head & 0x0f), (at = 1);
  else if (head === 0xde) (entries = frame.readUInt16BE(1)), (at = 3);
  else if (head === 0xdf) (entries = frame.readUInt32BE(1)), (at = 5);
  else return false;
  for (let i = 0; i < entries && at < frame.length; i++) {
    const key = stringAt(frame, at);
    if (key === undefined) return false;
    at = key[1];
    const field = fieldOf(frame, key[0], key[1]);
    if (field === Field.Offset || field === Field.Seq) {
      const value = integerAt(frame, at);
      if (field === Field.Offset) peek.offset = value;
      else peek.seq = value;
    } else if (field !== Field.None) {
      const value = stringAt(frame, at);
      if (value !== undefined && value[1] <= frame.length) {
        if (field === Field.Kind) [peek.kindStart, peek.kindEnd] = value;
        else if (field === Field.Type) [peek.typeStart, peek.typeEnd] = value;
        else if (field === Field.Topic) [peek.topicStart, peek.topicEnd] = value;
        else [peek.idStart, peek.idEnd] = value;
      }
    }
    if (complete(frame)) return true;
    at = skip(frame, at);
    if (at < 0) return false;
  }
  return true;
}

function isSystemType(frame: Buffer): boolean {
  return peek.typeStart >= 0 && peek.typeEnd - peek.typeStart >= SYSTEM.length && SYSTEM.compare(frame, peek.typeStart, peek.typeStart + SYSTEM.length) === 0;
}

/** The frames of a `herald.v1.msgpack` session, read with its codec. */
export function msgpackFrames(codec: WireCodec): FrameFormat {
  const parse = (frame: Buffer): Record<string, unknown> | undefined => {
    try {
      const value: unknown = codec.decode(frame);
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const isRequest = (frame: Buffer): boolean => peekFrame(frame) && is(frame, peek.kindStart, peek.kindEnd, REQUEST);
  return {
    binary: true,
    scanBackend(frame: Buffer, scan: Scan): void {
      scan.sort = FrameSort.Other;
      scan.response = false;
      scan.reqIdEnd = 0;
      if (!peekFrame(frame)) return;
      if (is(frame, peek.kindStart, peek.kindEnd, NOTIFICATION)) {
        if (isSystemType(frame)) scan.sort = FrameSort.System;
        else if (peek.topicStart >= 0 && peek.offset >= 0) {
          scan.sort = FrameSort.Topic;
          scan.topicStart = peek.topicStart;
          scan.topicEnd = peek.topicEnd;
          scan.position = peek.offset;
        } else if (peek.seq >= 0) {
          scan.sort = FrameSort.Private;
          scan.position = peek.seq;
        }
      } else if (is(frame, peek.kindStart, peek.kindEnd, RESPONSE) && peek.idStart >= 0) {
        scan.reqIdStart = peek.idStart;
        scan.reqIdEnd = peek.idEnd;
        if (isSystemType(frame)) scan.sort = FrameSort.System;
        else scan.response = true;
      }
    },
    isClientRequest: isRequest,
    requestId(frame: Buffer): RequestId | undefined {
      if (!isRequest(frame) || peek.idStart < 0) return undefined;
      return { source: frame, start: peek.idStart, end: peek.idEnd };
    },
    isSystemRequest: (frame: Buffer): boolean => isRequest(frame) && isSystemType(frame),
    parse,
    encode(message: unknown): Buffer {
      const bytes = codec.encode(message);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
  };
}
