/**
 * Client→server WebSocket frames built once and masked with a fixed key (RFC 6455 requires
 * masking from clients; a fixed key costs the server the same unmasking work). A template has
 * one fixed-width numeric field (a request id, an ack seq) that is written already masked, so
 * sending a request is a buffer copy plus a few byte stores.
 */
export const MASK_KEY = Buffer.from([0x5a, 0x1c, 0xe3, 0x97]);

/** Header of a masked client frame for `length` payload bytes. */
function header(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, 0x80 | length, ...MASK_KEY]);
  if (length < 65536) return Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 0xff, ...MASK_KEY]);
  const head = Buffer.alloc(14);
  head[0] = 0x80 | opcode;
  head[1] = 0x80 | 127;
  head.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  head.writeUInt32BE(length >>> 0, 6);
  MASK_KEY.copy(head, 10);
  return head;
}

/** A complete masked frame (text by default). */
export function maskedFrame(payload: string | Buffer, opcode = 1): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = header(opcode, data.length);
  const out = Buffer.allocUnsafe(head.length + data.length);
  head.copy(out, 0);
  for (let i = 0; i < data.length; i++) out[head.length + i] = (data[i] as number) ^ (MASK_KEY[i & 3] as number);
  return out;
}

/** The close frame a client sends to end a session cleanly (1000). */
export const CLOSE_FRAME = maskedFrame(Buffer.from([0x03, 0xe8]), 8);

const ZERO = 0x30;
const SPACE = 0x20;

/** A fixed-width numeric field of a template: `mark` × `width` in the payload. */
interface Field {
  readonly at: number;
  readonly width: number;
  readonly pad: Pad;
  readonly masks: number[];
}

/** `zero`/`space`: ASCII digits (see `FrameTemplate`); `u32`: a MessagePack uint32's 4 bytes. */
type Pad = 'zero' | 'space' | 'u32';

/** The placeholder of a `u32` field: MessagePack's uint32 of 0xffffffff, whose 4 bytes are rewritten. */
export const U32_PLACEHOLDER = 0xffffffff;

/**
 * A masked frame with fixed-width numeric fields at placeholders: `#` × width (the first field)
 * and optionally `@` × width (the second). `pad: 'zero'` writes `00000042` (for string ids);
 * `pad: 'space'` writes `42      ` (a JSON number followed by whitespace, valid JSON); `pad:
 * 'u32'` rewrites the bytes of a MessagePack uint32 `U32_PLACEHOLDER` (a binary payload).
 */
export class FrameTemplate {
  readonly frame: Buffer;
  readonly length: number;
  /** Bytes of the payload alone (the frame without its WebSocket header). */
  readonly payloadLength: number;
  private readonly fields: Field[];

  constructor(payload: string | Buffer, width = 8, pad: 'zero' | 'space' = 'zero', second?: { readonly width: number; readonly pad: Pad }) {
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    this.frame = maskedFrame(bytes, typeof payload === 'string' ? 1 : 2);
    this.length = this.frame.length;
    this.payloadLength = bytes.length;
    const start = this.length - bytes.length;
    const field = (mark: string, width: number, pad: Pad): Field => {
      const placeholder = pad === 'u32' ? Buffer.from([0xce, 0xff, 0xff, 0xff, 0xff]) : Buffer.from(mark.repeat(width));
      const found = bytes.indexOf(placeholder);
      if (found < 0) throw new Error(`no placeholder ${placeholder.toString('hex')} in ${bytes.toString('hex')}`);
      const byteIndex = pad === 'u32' ? found + 1 : found;
      return { at: start + byteIndex, width, pad, masks: Array.from({ length: width }, (_, j) => MASK_KEY[(byteIndex + j) & 3] as number) };
    };
    this.fields = [field('#', width, pad), ...(second === undefined ? [] : [field('@', second.width, second.pad)])];
  }

  /** Writes the frame with field values `n` (and `m`) at `offset` of `out`; returns the offset after it. */
  write(out: Buffer, offset: number, n: number, m = 0): number {
    this.frame.copy(out, offset);
    const fields = this.fields;
    writeField(out, offset, fields[0] as Field, n);
    if (fields.length > 1) writeField(out, offset, fields[1] as Field, m);
    return offset + this.length;
  }

  /** `count` frames with values `first`, `first + 1`, … (and `m` in each) in one buffer (one write). */
  batch(first: number, count: number, m = 0): Buffer {
    const out = Buffer.allocUnsafe(this.length * count);
    let offset = 0;
    for (let i = 0; i < count; i++) offset = this.write(out, offset, first + i, m);
    return out;
  }
}

function writeField(out: Buffer, offset: number, field: Field, n: number): void {
  const at = offset + field.at;
  const { masks, width } = field;
  if (field.pad === 'u32') {
    for (let j = 3; j >= 0; j--) {
      out[at + j] = (n & 0xff) ^ (masks[j] as number);
      n = Math.floor(n / 256);
    }
  } else if (field.pad === 'zero') {
    for (let j = width - 1; j >= 0; j--) {
      out[at + j] = (ZERO + (n % 10)) ^ (masks[j] as number);
      n = Math.floor(n / 10);
    }
  } else {
    const digits = String(n);
    for (let j = 0; j < width; j++) out[at + j] = (j < digits.length ? digits.charCodeAt(j) : SPACE) ^ (masks[j] as number);
  }
}
