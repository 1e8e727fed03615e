/**
 * What a client does with a delta topic's notifications (PROTOCOL.md, Delta topics): each full
 * body is the next base, each delta applies to the body at the offset before it. The suite
 * checks with it that every body a delta stands for is the one published.
 */
import { base64ToBytes, type NotificationMessage } from '@herald/core';
import { fossilDelta } from '@herald/core/fossil-delta';

const fossil = fossilDelta();
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** A topic's notifications in `log`, each with the body it stands for and whether it came as a delta; throws on a delta without its base. */
export function deltaBodies(log: readonly unknown[], topic: string): Array<{ offset: number; delta: boolean; body: unknown }> {
  let base: { offset: number; text: string } | undefined;
  return (log as NotificationMessage[])
    .filter((message) => message.kind === 'notification' && message.topic === topic)
    .map((message) => {
      const offset = message.offset as number;
      let text: string;
      if (message.delta === undefined) text = JSON.stringify(message.body);
      else {
        if (base === undefined || base.offset !== offset - 1) throw new Error(`${topic}: a delta at offset ${offset} without the publication at ${offset - 1}`);
        if ('body' in message) throw new Error(`${topic}: offset ${offset} carries both body and delta`);
        const delta = typeof message.delta === 'string' ? base64ToBytes(message.delta) : message.delta;
        text = strictUtf8.decode(fossil.apply(utf8.encode(base.text), delta));
      }
      base = { offset, text };
      return { offset, delta: message.delta !== undefined, body: JSON.parse(text) as unknown };
    });
}
