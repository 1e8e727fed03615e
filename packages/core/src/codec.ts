/**
 * Reading client frames and writing server frames. Decoding never throws: every bad frame
 * becomes a `DecodeFailure` naming the documented answer. Encoding concatenates strings whose
 * pieces were validated against the patterns below, so no field needs escaping and a body is
 * stringified once however many sessions receive it.
 */
import { ErrorReason, Kind, Status } from './constants.ts';
import type { ClientMessage, ErrorBody } from './envelope.ts';
import type { WireCodec } from './wire-codec.ts';

/** Request ids: what a client may put in `id` (and the server echoes in `reqId`). */
export const ID_PATTERN: RegExp = /^[A-Za-z0-9_.:-]{1,64}$/;
/** Request and notification types. */
export const TYPE_PATTERN: RegExp = /^[A-Za-z0-9_.:$/-]{1,128}$/;
/** Topic names. */
export const TOPIC_PATTERN: RegExp = /^[A-Za-z0-9_.:@/=+$-]{1,200}$/;

/** The size and shape limits a decoder enforces. */
export interface CodecLimits {
  readonly maxMessageBytes: number;
  readonly maxDepth: number;
}

/** A frame that cannot be handled, with the answer PROTOCOL.md prescribes. */
export interface DecodeFailure {
  readonly ok: false;
  readonly status: number;
  readonly error: ErrorReason;
  readonly message: string;
  /** Set when the frame is a request whose id could be read, so the answer can be a response. */
  readonly reqId?: string;
  /** The request's `type`, when it was read and is valid: the response echoes it. */
  readonly reqType?: string;
}

/** A valid client frame. */
export interface DecodeSuccess {
  readonly ok: true;
  readonly message: ClientMessage;
}

export type DecodeResult = DecodeSuccess | DecodeFailure;

const UNPARSED_ID_SCAN_CHARS = 512;
const UNPARSED_ID = /"id"\s*:\s*"([A-Za-z0-9_.:-]{1,64})"/;
const UNPARSED_REQ = /"kind"\s*:\s*"req"/;
const UNPARSED_TYPE = /"type"\s*:\s*"([A-Za-z0-9_.:$/-]{1,128})"/;

/** The id of a request that is refused unparsed (too large, too deep), read from its first characters. */
export function unparsedRequestId(text: string): string | undefined {
  const head = text.slice(0, UNPARSED_ID_SCAN_CHARS);
  return UNPARSED_REQ.test(head) ? UNPARSED_ID.exec(head)?.[1] : undefined;
}

/** The type of an unparsed request, when its first characters show a valid one. */
export function unparsedRequestType(text: string): string | undefined {
  return UNPARSED_TYPE.exec(text.slice(0, UNPARSED_ID_SCAN_CHARS))?.[1];
}

function failure(status: number, error: ErrorReason, message: string, reqId?: string, reqType?: string): DecodeFailure {
  if (reqId === undefined) return { ok: false, status, error, message };
  return reqType === undefined ? { ok: false, status, error, message, reqId } : { ok: false, status, error, message, reqId, reqType };
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** UTF-8 length of a string, without allocating (a lone surrogate counts as U+FFFD: 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

function exceedsBytes(text: string, max: number): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return utf8Length(text) > max;
}

/**
 * Whether objects and arrays in JSON text nest deeper than `maxDepth`. Nesting cannot exceed
 * the number of opening brackets, which native `indexOf` counts fast; only a frame with more
 * of them than `maxDepth` gets the character-by-character scan outside strings.
 */
function nestingExceeds(text: string, maxDepth: number): boolean {
  let opening = 0;
  for (let i = text.indexOf('{'); i !== -1 && opening <= maxDepth; i = text.indexOf('{', i + 1)) opening++;
  for (let i = text.indexOf('['); i !== -1 && opening <= maxDepth; i = text.indexOf('[', i + 1)) opening++;
  return opening > maxDepth && deepestNestingExceeds(text, maxDepth);
}

function deepestNestingExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min;
}

/**
 * Decodes one text frame from a client.
 *
 * @example
 * const result = decodeClientFrame('{"kind":"req","id":"1","type":"chat.Send","body":{}}', limits);
 * if (!result.ok) reply(result.status, result.error, result.message, result.reqId);
 */
export function decodeClientFrame(text: string, limits: CodecLimits): DecodeResult {
  if (exceedsBytes(text, limits.maxMessageBytes)) {
    return failure(Status.PayloadTooLarge, ErrorReason.TooLarge, `frame exceeds maxMessageBytes (${limits.maxMessageBytes})`, unparsedRequestId(text));
  }
  if (nestingExceeds(text, limits.maxDepth)) {
    return failure(Status.BadRequest, ErrorReason.TooDeep, `nesting deeper than maxDepth (${limits.maxDepth})`, unparsedRequestId(text));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return failure(Status.BadRequest, ErrorReason.InvalidJson, 'frame is not valid JSON');
  }
  return validateClientMessage(value);
}

/** What a decoded binary frame breaks: values outside the JSON data model, or nesting past `maxDepth`. */
function dataModelBreach(value: unknown, maxDepth: number, depth: number): ErrorReason | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : ErrorReason.InvalidMsgpack;
  if (typeof value !== 'object') return ErrorReason.InvalidMsgpack;
  if (depth >= maxDepth) return ErrorReason.TooDeep;
  if (Array.isArray(value)) {
    for (const item of value) {
      const breach = dataModelBreach(item, maxDepth, depth + 1);
      if (breach !== undefined) return breach;
    }
    return undefined;
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return ErrorReason.InvalidMsgpack;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    // An absent field may be packed as nil's cousin `undefined` (msgpackr's fixext 0): read as absent.
    if (item === undefined) continue;
    const breach = dataModelBreach(item, maxDepth, depth + 1);
    if (breach !== undefined) return breach;
  }
  return undefined;
}

/**
 * Decodes one binary frame of a binary subprotocol: the same answers as a text frame of
 * `herald.v1`, with `invalid_msgpack` for bytes that are not one value of the JSON data model.
 * A frame refused unread (too large) has no readable id: it is answered with `herald.Error`.
 *
 * @example
 * const result = decodeBinaryFrame(bytes, msgpack(), limits);
 */
export function decodeBinaryFrame(bytes: Uint8Array, codec: WireCodec, limits: CodecLimits): DecodeResult {
  if (bytes.byteLength > limits.maxMessageBytes) {
    return failure(Status.PayloadTooLarge, ErrorReason.TooLarge, `frame exceeds maxMessageBytes (${limits.maxMessageBytes})`);
  }
  let value: unknown;
  try {
    value = codec.decode(bytes);
  } catch (error) {
    // Nesting deep enough to exhaust the decoder's stack is nesting past maxDepth (V8 and JSC say so alike).
    if (error instanceof RangeError && /call stack/i.test(error.message)) return failure(Status.BadRequest, ErrorReason.TooDeep, `nesting deeper than maxDepth (${limits.maxDepth})`);
    return failure(Status.BadRequest, ErrorReason.InvalidMsgpack, `frame is not one ${codec.protocol} value`);
  }
  const breach = dataModelBreach(value, limits.maxDepth, 0);
  if (breach === ErrorReason.TooDeep) return failure(Status.BadRequest, ErrorReason.TooDeep, `nesting deeper than maxDepth (${limits.maxDepth})`);
  if (breach !== undefined) return failure(Status.BadRequest, ErrorReason.InvalidMsgpack, 'frame holds a value outside the JSON data model (bin, ext, NaN, …)');
  return validateClientMessage(value);
}

/** W3C Trace Context `traceparent`, version 00: trace id and parent id not all zeros. */
export const TRACEPARENT_PATTERN: RegExp = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A request that carries a `traceparent`: kept apart so the common request stays one object literal. */
function tracedRequest(id: string, type: string, body: unknown, resp: unknown, traceparent: unknown): DecodeResult {
  if (typeof traceparent !== 'string' || !TRACEPARENT_PATTERN.test(traceparent)) {
    return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'req.traceparent must match ' + TRACEPARENT_PATTERN.source, id, type);
  }
  if (resp === undefined) return { ok: true, message: { kind: Kind.Request, id, type, body, traceparent } };
  if (!isCount(resp, 0)) return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'req.resp must be an integer >= 0', id, type);
  return { ok: true, message: { kind: Kind.Request, id, type, body, resp, traceparent } };
}

/** Checks a parsed value against the client side of the envelope schema. */
export function validateClientMessage(value: unknown): DecodeResult {
  if (!isObject(value)) return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'an envelope must be a JSON object');
  const kind = value['kind'];
  switch (kind) {
    case Kind.Request: {
      const id = value['id'];
      if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
        return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'req.id must match ' + ID_PATTERN.source);
      }
      const type = value['type'];
      if (typeof type !== 'string' || !TYPE_PATTERN.test(type)) {
        return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'req.type must match ' + TYPE_PATTERN.source, id);
      }
      const resp = value['resp'];
      const traceparent = value['traceparent'];
      if (traceparent !== undefined) return tracedRequest(id, type, value['body'], resp, traceparent);
      if (resp === undefined) return { ok: true, message: { kind, id, type, body: value['body'] } };
      if (!isCount(resp, 0)) return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'req.resp must be an integer >= 0', id, type);
      return { ok: true, message: { kind, id, type, body: value['body'], resp } };
    }
    case Kind.Ack: {
      const seq = value['seq'];
      if (!isCount(seq, 0)) return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'ack.seq must be an integer >= 0');
      const resp = value['resp'];
      if (resp === undefined) return { ok: true, message: { kind, seq } };
      if (!isCount(resp, 0)) return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'ack.resp must be an integer >= 0');
      return { ok: true, message: { kind, seq, resp } };
    }
    case Kind.Ping:
    case Kind.Pong:
      return { ok: true, message: { kind } };
    case Kind.Response:
    case Kind.Notification:
      return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, `kind "${kind}" is sent by servers only`);
    default:
      return failure(Status.BadRequest, ErrorReason.InvalidEnvelope, 'kind must be one of req, ack, ping, pong');
  }
}

/** `JSON.stringify` for bodies: `undefined` stays absent, anything unserialisable throws. */
export function encodeBody(body: unknown): string | undefined {
  return body === undefined ? undefined : JSON.stringify(body);
}

/** Frame of a response; `bodyJson` is already JSON text. */
export function encodeResponse(reqId: string, type: string, code: number, bodyJson: string | undefined): string {
  const head = '{"kind":"resp","reqId":"' + reqId + '","type":"' + type + '","code":' + code;
  return bodyJson === undefined ? head + '}' : head + ',"body":' + bodyJson + '}';
}

/** Frame of an error response. */
export function encodeErrorResponse(reqId: string, type: string, code: number, body: ErrorBody): string {
  return encodeResponse(reqId, type, code, JSON.stringify(body));
}

/** Frame of a topic notification: identical for every subscriber, so it is built once. */
export function encodeTopicNotification(type: string, topic: string, offset: number, bodyJson: string | undefined, conflated = false): string {
  const head = '{"kind":"notification","type":"' + type + '","topic":"' + topic + '","offset":' + offset + (conflated ? ',"conflated":true' : '');
  return bodyJson === undefined ? head + '}' : head + ',"body":' + bodyJson + '}';
}

/** Frame of a topic notification carrying a delta (base64) against the publication at `offset - 1`, in place of a body. */
export function encodeDeltaNotification(type: string, topic: string, offset: number, deltaBase64: string): string {
  return '{"kind":"notification","type":"' + type + '","topic":"' + topic + '","offset":' + offset + ',"delta":"' + deltaBase64 + '"}';
}

/** Frame of a private notification with this session's sequence number. */
export function encodePrivateNotification(type: string, seq: number, bodyJson: string | undefined): string {
  const head = '{"kind":"notification","type":"' + type + '","seq":' + seq;
  return bodyJson === undefined ? head + '}' : head + ',"body":' + bodyJson + '}';
}

/** Frame of a system notification (`herald.*`): neither offset nor seq. */
export function encodeSystemNotification(type: string, body: unknown): string {
  return '{"kind":"notification","type":"' + type + '","body":' + JSON.stringify(body) + '}';
}

export const PING_FRAME = '{"kind":"ping"}';
export const PONG_FRAME = '{"kind":"pong"}';

/** Throws a `TypeError` naming the argument when a server-side name breaks its pattern. */
export function assertName(pattern: RegExp, value: string, what: string): void {
  if (!pattern.test(value)) throw new TypeError(`${what} ${JSON.stringify(value)} must match ${pattern.source}`);
}
