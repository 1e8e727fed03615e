import { describe, expect, it } from 'vitest';
import { SessionPosition } from './session-position.ts';

const welcome = { kind: 'notification', type: 'herald.Welcome', body: { sessionId: 's1', authenticated: true } };
const subscribed = (body: object) => ({ kind: 'resp', reqId: '1', type: 'herald.Subscribe', code: 200, body });

describe('SessionPosition', () => {
  it('asks again for the delta format each topic was granted when it resumes on the client’s behalf, and keeps it across a reset', () => {
    const position = new SessionPosition();
    position.fromBackend(welcome);
    position.fromBackend(subscribed({ topic: 'doc/1', epoch: 'e1', offset: 4, delta: 'fossil' }));
    position.fromBackend(subscribed({ topic: 'room/1', epoch: 'e2', offset: 9 }));
    position.fromBackend({ kind: 'notification', type: 'herald.TopicReset', body: { topic: 'doc/1', epoch: 'e3', offset: 0 } });
    expect(position.resumeBody()).toEqual({ sessionId: 's1', seq: 0, topics: { 'doc/1': { epoch: 'e3', offset: 0, delta: 'fossil' }, 'room/1': { epoch: 'e2', offset: 9 } } });
    // A subscribe again without delta ends it.
    position.fromBackend(subscribed({ topic: 'doc/1', epoch: 'e3', offset: 2 }));
    expect(position.resumeBody()?.topics['doc/1']).toEqual({ epoch: 'e3', offset: 2 });
    position.fromBackend({ kind: 'resp', reqId: '2', type: 'herald.Resume', code: 200, body: { sessionId: 's1', recovered: true, topics: { 'doc/1': { epoch: 'e3', offset: 5, recovered: true, delta: 'fossil' } } } });
    expect(position.resumeBody()?.topics['doc/1']).toEqual({ epoch: 'e3', offset: 5, delta: 'fossil' });
  });
});
