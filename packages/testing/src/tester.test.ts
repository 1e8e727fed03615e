import type { Envelope } from '@herald/core';
import { describe, expect, it } from 'vitest';
import { createConformanceHerald } from './conformance/app.ts';
import { connectInProcess } from './in-process.ts';
import { and, not, or, withKind, withProperty, withType } from './matchers.ts';

const resp: Envelope = { kind: 'resp', reqId: '1', type: 'chat.Send', code: 200, body: { name: 'elad', tags: ['a'] } };
const note: Envelope = { kind: 'notification', type: 'chat.Message', topic: 'room/1', offset: 3, body: { name: 'elad' } };

describe('matchers', () => {
  it('match on kind, type and dotted properties, and compose', () => {
    expect(withKind('resp')(resp)).toBe(true);
    expect(withType('chat.Message')(resp)).toBe(false);
    expect(withProperty('body.name', 'elad')(note)).toBe(true);
    expect(withProperty('body.tags', ['a'])(resp)).toBe(true);
    expect(withProperty('body.missing.deeper', 1)(resp)).toBe(false);
    expect(and(withKind('notification'), withProperty('offset', 3))(note)).toBe(true);
    expect(or(withType('x'), (m) => m.kind === 'resp')(resp)).toBe(true);
    expect(not(withKind('resp'))(resp)).toBe(false);
  });

  it('describe themselves for failure messages', () => {
    expect(and(withType('chat.Message'), not(withProperty('body.name', 'bob'))).description).toBe('type chat.Message and not body.name = "bob"');
  });
});

describe('the in-process tester', () => {
  it('talks to a Herald server through its real upgrade and session code, without sockets', async () => {
    const herald = createConformanceHerald();
    const ann = await connectInProcess(herald, { token: 'user:ann' });
    expect(ann.welcome.authenticated).toBe(false);
    expect(await ann.request('conf.Echo', { text: 'hi' })).toMatchObject({ code: 200, body: { text: 'hi' } });
    expect(await ann.request('herald.Subscribe', { topic: 'conf/t' })).toMatchObject({ code: 200 });
    const bob = await connectInProcess(herald, { headers: { authorization: 'Bearer user:bob' } });
    expect(bob.welcome).toMatchObject({ authenticated: true, userId: 'bob' });
    await bob.request('conf.Publish', { topic: 'conf/t', count: 2 });
    expect(await ann.waitFor(withProperty('offset', 2))).toMatchObject({ type: 'conf.Published', body: { n: 2 } });
    await bob.request('conf.Notify', { to: 'ann', count: 1 });
    expect(await ann.waitFor(withType('conf.Private'))).toMatchObject({ seq: 1 });
    ann.send('{broken');
    expect(await ann.waitFor(withType('herald.Error'))).toMatchObject({ body: { error: 'invalid_json' } });
    await herald.close();
    expect((await ann.closed).code).toBe(4503);
  });

  it('explains a failed wait with what it expected and the last messages', async () => {
    const herald = createConformanceHerald();
    const tester = await connectInProcess(herald, { timeoutMs: 50 });
    await expect(tester.waitFor(and(withType('conf.Published'), withProperty('offset', 9)))).rejects.toThrow(
      /no type conf\.Published and offset = 9 within 50 ms; last received:\n {2}\{"kind":"notification","type":"herald\.Welcome"/,
    );
    await expect(tester.expectNothing(10)).resolves.toBeUndefined();
    await herald.close();
  });

  it('reports a refused native upgrade as a connection error', async () => {
    const herald = createConformanceHerald();
    await expect(connectInProcess(herald, { headers: { authorization: 'Bearer nope' } })).rejects.toThrow(/HTTP 401/);
    await herald.close();
  });
});
