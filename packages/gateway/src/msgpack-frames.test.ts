import { encodeDeltaNotification, encodePrivateNotification, encodeResponse, encodeSystemNotification, encodeTopicNotification, PING_FRAME } from '../../core/src/codec.ts';
import { msgpack } from '@herald/core/msgpack';
import { describe, expect, it } from 'vitest';
import { FrameSort, type Scan } from './frames.ts';
import { msgpackFrames } from './msgpack-frames.ts';

const codec = msgpack();
const frames = msgpackFrames(codec);
const scan = (): Scan => ({ sort: FrameSort.Other, topicStart: 0, topicEnd: 0, position: 0, response: false, reqIdStart: 0, reqIdEnd: 0 });
/** A frame as a Herald server sends it in `herald.v1.msgpack`: its envelope, packed. */
const packed = (value: unknown): Buffer => {
  const bytes = codec.encode(typeof value === 'string' ? JSON.parse(value) : value);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};
const scanned = (frame: Buffer): Scan => {
  const found = scan();
  frames.scanBackend(frame, found);
  return found;
};

describe('msgpackFrames: backend frames', () => {
  it("finds a topic notification's topic and offset, a delta's too, past a body that mentions them", () => {
    const frame = packed(encodeTopicNotification('chat.Posted', 'room/42', 1319, '{"offset":7,"topic":"x"}'));
    expect(scanned(frame)).toMatchObject({ sort: FrameSort.Topic, position: 1319 });
    expect(frame.toString('utf8', scanned(frame).topicStart, scanned(frame).topicEnd)).toBe('room/42');
    expect(scanned(packed(encodeDeltaNotification('doc.State', 'doc/7', 205, 'NVYKVEAwLDE6NE5A')))).toMatchObject({ sort: FrameSort.Topic, position: 205 });
    // Offsets past 2³² (msgpackr writes them as uint 64 or float 64).
    expect(scanned(packed({ kind: 'notification', type: 'a.B', topic: 't', offset: 2 ** 40, body: {} }))).toMatchObject({ sort: FrameSort.Topic, position: 2 ** 40 });
  });

  it('reads the fields in any order, skipping every kind of value before them', () => {
    const body = { n: [1, -1, 300, -300, 70_000, -70_000, 2 ** 33, -(2 ** 33), 1.5, null, true, false], s: 'x'.repeat(40), long: 'y'.repeat(300), nested: { a: { b: [{}] } }, bin: new Uint8Array(300) };
    const frame = packed({ body, seq: 58, type: 'chat.Direct', kind: 'notification' });
    expect(scanned(frame)).toMatchObject({ sort: FrameSort.Private, position: 58 });
  });

  it('tells system frames and application responses apart, with their reqId', () => {
    expect(scanned(packed(encodeSystemNotification('herald.Welcome', { sessionId: 'x' }))).sort).toBe(FrameSort.System);
    expect(scanned(packed(encodeResponse('7', 'herald.Resume', 200, '{}')))).toMatchObject({ sort: FrameSort.System, response: false });
    const frame = packed(encodeResponse('a-1:b', 'chat.Send', 200, '{"offset":3}'));
    const found = scanned(frame);
    expect(found).toMatchObject({ sort: FrameSort.Other, response: true });
    expect(frame.toString('utf8', found.reqIdStart, found.reqIdEnd)).toBe('a-1:b');
    expect(scanned(packed(PING_FRAME))).toMatchObject({ sort: FrameSort.Other, response: false, reqIdEnd: 0 });
    expect(scanned(packed(encodePrivateNotification('chat.Direct', 3, '{}'))).reqIdEnd).toBe(0);
  });

  it('takes bytes that are not a MessagePack map, or are cut short, as a frame to relay untouched', () => {
    const whole = packed(encodeTopicNotification('chat.Posted', 'room/42', 9, '{"text":"' + 'z'.repeat(300) + '"}'));
    for (const frame of [Buffer.alloc(0), Buffer.from([0x93, 1, 2, 3]), Buffer.from('{"kind":"notification"}'), Buffer.from([0xc1]), Buffer.from([0xde, 0x00])]) {
      expect(scanned(frame).sort).toBe(FrameSort.Other);
    }
    // Every prefix of a frame is read without throwing; one cut before its offset is not a topic frame.
    for (let end = 0; end < whole.length; end++) {
      const found = scanned(whole.subarray(0, end));
      if (found.sort === FrameSort.Topic) expect(found.position).toBe(9);
    }
    expect(scanned(whole.subarray(0, 20)).sort).toBe(FrameSort.Other);
  });
});

describe('msgpackFrames: client frames', () => {
  const request = (value: object) => packed(value);

  it("reads a request's id in place, and whether it is a herald.* one", () => {
    const frame = request({ kind: 'req', resp: 4, id: 'r-17', type: 'chat.Send', body: { id: 'x', kind: 'y' } });
    expect(frames.isClientRequest(frame)).toBe(true);
    const id = frames.requestId(frame);
    expect(id?.source.toString('utf8', id.start, id.end)).toBe('r-17');
    expect(frames.isSystemRequest(frame)).toBe(false);
    expect(frames.isSystemRequest(request({ kind: 'req', id: '9', type: 'herald.Resume', body: { seq: 3 } }))).toBe(true);
    expect(frames.isSystemRequest(request({ type: 'herald.Authenticate', body: {}, id: '9', kind: 'req' }))).toBe(true);
  });

  it('does not take acks or garbage for requests', () => {
    expect(frames.isClientRequest(request({ kind: 'ack', seq: 3 }))).toBe(false);
    expect(frames.isClientRequest(Buffer.from([0xff, 0x00]))).toBe(false);
    expect(frames.requestId(request({ kind: 'req', type: 'a.B' }))).toBeUndefined();
  });

  it('writes and reads envelopes in the codec', () => {
    const written = frames.encode({ kind: 'req', id: 'g', type: 'herald.Resume', body: { sessionId: 's', seq: 2, topics: {} } });
    expect(typeof written).not.toBe('string');
    expect(frames.parse(written as Buffer)).toEqual({ kind: 'req', id: 'g', type: 'herald.Resume', body: { sessionId: 's', seq: 2, topics: {} } });
    expect(frames.parse(Buffer.from([0x93, 1, 2, 3]))).toBeUndefined();
  });
});
