import { describe, expect, it } from 'vitest';
import { redactFrame } from './redaction.ts';

describe('redactFrame', () => {
  it('replaces an application body by its size, and keeps the envelope', () => {
    expect(redactFrame('{"kind":"req","id":"1","type":"chat.Send","body":{"text":"hi"}}', false)).toEqual({
      kind: 'req',
      id: '1',
      type: 'chat.Send',
      body: { redacted: true, bytes: 13 },
    });
  });

  it('keeps the error reason of an error answer, and nothing else of it', () => {
    expect(redactFrame('{"kind":"resp","reqId":"1","type":"chat.Send","code":403,"body":{"error":"forbidden","message":"not in room 7 of alice"}}', false)).toMatchObject({
      body: { error: 'forbidden' },
    });
  });

  it('shows protocol bookkeeping (subscriptions, resumes, goodbyes) and the session id of a Welcome, not its user', () => {
    expect(redactFrame('{"kind":"notification","type":"herald.Goodbye","body":{"code":4410,"reason":"disconnected by an operator"}}', false)).toMatchObject({
      body: { code: 4410 },
    });
    expect(redactFrame('{"kind":"req","id":"2","type":"herald.Resume","body":{"sessionId":"s","seq":3}}', false)).toMatchObject({ body: { sessionId: 's', seq: 3 } });
    expect(redactFrame('{"kind":"notification","type":"herald.Welcome","body":{"sessionId":"s","protocol":"herald.v1","authenticated":true,"userId":"alice"}}', false)).toEqual({
      kind: 'notification',
      type: 'herald.Welcome',
      body: { sessionId: 's', protocol: 'herald.v1', authenticated: true },
    });
  });

  it('never shows a token, bodies or not', () => {
    for (const showBodies of [false, true]) {
      expect(redactFrame('{"kind":"req","id":"1","type":"herald.Authenticate","body":{"token":"eyJhbGciOi"}}', showBodies)).toMatchObject({ body: { token: '•••' } });
    }
  });

  it('shows bodies with showBodies, and the size alone of what is not a JSON object', () => {
    expect(redactFrame('{"kind":"req","id":"1","type":"chat.Send","body":{"text":"hi"}}', true)).toMatchObject({ body: { text: 'hi' } });
    expect(redactFrame('not json', true)).toEqual({ unparsed: true, bytes: 8 });
    expect(redactFrame('[1,2]', false)).toEqual({ unparsed: true, bytes: 5 });
  });
});
