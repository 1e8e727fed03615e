import { encodeDeltaNotification, encodePrivateNotification, encodeResponse, encodeSystemNotification, encodeTopicNotification, PING_FRAME } from '../../core/src/codec.ts';
import { describe, expect, it } from 'vitest';
import { FrameSort, isClientRequest, isSystemRequest, requestId, scanBackendFrame, type Scan } from './frames.ts';

const scan = (): Scan => ({ sort: FrameSort.Other, topicStart: 0, topicEnd: 0, position: 0, response: false, reqIdStart: 0, reqIdEnd: 0 });

/** Frames as `@herald/core` encodes them: the scanner depends on that field order. */
describe('scanBackendFrame', () => {
  it('finds a topic notification\'s topic and offset', () => {
    const frame = Buffer.from(encodeTopicNotification('chat.Posted', 'room/42', 1319, '{"text":"\\"offset\\":7"}'));
    const found = scan();
    scanBackendFrame(frame, found);
    expect(found).toMatchObject({ sort: FrameSort.Topic, position: 1319 });
    expect(frame.toString('utf8', found.topicStart, found.topicEnd)).toBe('room/42');
  });

  it("finds a delta notification's topic and offset (PROTOCOL.md, Delta topics)", () => {
    const frame = Buffer.from(encodeDeltaNotification('doc.State', 'doc/7', 205, 'NVYKVEAwLDE6NE5A'));
    const found = scan();
    scanBackendFrame(frame, found);
    expect(found).toMatchObject({ sort: FrameSort.Topic, position: 205 });
    expect(frame.toString('utf8', found.topicStart, found.topicEnd)).toBe('doc/7');
  });

  it("finds a private notification's seq", () => {
    const found = scan();
    scanBackendFrame(Buffer.from(encodePrivateNotification('chat.Direct', 58, '{"n":1}')), found);
    expect(found).toMatchObject({ sort: FrameSort.Private, position: 58 });
  });

  it('tells system frames and application responses apart', () => {
    const found = scan();
    scanBackendFrame(Buffer.from(encodeSystemNotification('herald.Welcome', { sessionId: 'x' })), found);
    expect(found.sort).toBe(FrameSort.System);
    scanBackendFrame(Buffer.from(encodeResponse('7', 'herald.Resume', 200, '{}')), found);
    expect(found).toMatchObject({ sort: FrameSort.System, response: false });
    scanBackendFrame(Buffer.from(encodeResponse('8', 'chat.Send', 200, '{"offset":3}')), found);
    expect(found).toMatchObject({ sort: FrameSort.Other, response: true });
    scanBackendFrame(Buffer.from(PING_FRAME), found);
    expect(found).toMatchObject({ sort: FrameSort.Other, response: false });
  });

  it("finds a response's reqId", () => {
    const found = scan();
    const frame = Buffer.from(encodeResponse('a-1:b', 'chat.Send', 200, '{}'));
    scanBackendFrame(frame, found);
    expect(found.response).toBe(true);
    expect(frame.toString('utf8', found.reqIdStart, found.reqIdEnd)).toBe('a-1:b');
    scanBackendFrame(Buffer.from(encodeResponse('9', 'herald.Subscribe', 200, '{}')), found);
    expect(found).toMatchObject({ sort: FrameSort.System, reqIdStart: 24, reqIdEnd: 25 });
    scanBackendFrame(Buffer.from(encodePrivateNotification('chat.Direct', 3, '{}')), found);
    expect(found.reqIdEnd).toBe(0);
  });

  it('takes a frame in another shape as one to relay untouched', () => {
    const found = scan();
    scanBackendFrame(Buffer.from('{"type":"x","kind":"notification","seq":3}'), found);
    expect(found.sort).toBe(FrameSort.Other);
  });
});

describe('isSystemRequest', () => {
  it('reads the type after the id in place, and searches other shapes', () => {
    expect(isSystemRequest(Buffer.from('{"kind":"req","resp":3,"id":"9","type":"herald.Resume","body":{}}'))).toBe(true);
    expect(isSystemRequest(Buffer.from('{"kind":"req","id":"9","type":"chat.Send","body":{"text":"\\"herald.x"}}'))).toBe(false);
    expect(isSystemRequest(Buffer.from('{"type":"herald.Subscribe","id":"9","kind":"req"}'))).toBe(true);
  });
});

describe('isClientRequest', () => {
  it('sees a request whatever the order of its fields', () => {
    expect(isClientRequest(Buffer.from('{"kind":"req","id":"1","type":"a.B"}'))).toBe(true);
    expect(isClientRequest(Buffer.from('{"id":"1","type":"a.B","kind":"req"}'))).toBe(true);
    expect(isClientRequest(Buffer.from('{"kind":"ack","seq":3}'))).toBe(false);
  });
});

describe('requestId', () => {
  const id = (text: string) => {
    const found = requestId(Buffer.from(text));
    return found?.source.toString('utf8', found.start, found.end);
  };

  it("reads @herald/client's requests in place, with or without their confirmation", () => {
    expect(id('{"kind":"req","id":"17","type":"a.B","body":{"id":"x"}}')).toBe('17');
    expect(id('{"kind":"req","resp":42,"id":"18","type":"a.B"}')).toBe('18');
  });

  it('reads any other shape, and ids written with escapes, as a Herald server writes them back', () => {
    expect(id('{"type":"a.B","id":"7","kind":"req"}')).toBe('7');
    expect(id('{"kind":"req","id":"\\u0061","type":"a.B"}')).toBe('a');
    expect(id('{"kind":"req","type":"a.B"}')).toBeUndefined();
  });
});
