/**
 * Who may see a chat room. Rooms are public, except two kinds whose members follow from the
 * identity: `agents` (every agent, of any skill) and `dm-<a>-<b>` (users `a` and `b` only; any other `dm-` name has no members).
 * Joining, sending and subscribing (as a resume does) all ask the same question.
 */
import { HeraldError, type Principal } from '@herald/core';
import { identityOf } from './identity.ts';

const DIRECT_ROOM = /^dm-([a-z0-9]+)-([a-z0-9]+)$/;

/** The topic a room's messages are published on. */
export const roomTopic = (room: string): `room/${string}` => `room/${room}`;

export function maySee(room: string, principal: Principal | null): boolean {
  if (principal === null) return false;
  if (room === 'agents') return identityOf(principal).agentOf.length > 0;
  if (!room.startsWith('dm-')) return true;
  const direct = DIRECT_ROOM.exec(room);
  return direct !== null && (principal.userId === direct[1] || principal.userId === direct[2]);
}

/** Throws the demo's 403 `not_a_member` for a room the user may not see. */
export function assertMaySee(room: string, principal: Principal): void {
  if (!maySee(room, principal)) throw new HeraldError(403, 'not_a_member', `room ${room} is private`);
}
