/**
 * A reader that stops reading for 10 s (longer on a slow machine) while ~8.5 MB are published to
 * its room at ~1 MB/s: the server's send buffers stay under the high-water mark (plus one frame),
 * and once the reader reads again it receives every topic offset and every private
 * notification, once and in order. The volume is fixed, not what fits in the time.
 */
import { connect, withType } from '@herald/testing';
import type { NotificationMessage } from '@herald/core';
import { afterAll, expect, it } from 'vitest';
import { start, type Running } from './server.ts';

const STALL_MS = 10_000;
/** Topic messages published while the reader stalls: 8.5 MB, past 32 × the high-water mark. */
const PUBLISHED = 8500;
const HIGH_WATER_MARK = 256 * 1024;
const TEXT = 'x'.repeat(1000);

let running: Running | undefined;
afterAll(() => running?.server.close());

it('keeps a reader that stops for 10 s within a bounded buffer and loses nothing', { timeout: 120_000 }, async () => {
  // Keep-alive would close the stalled reader if the stall outlasted ping interval + timeout on a slow machine.
  running = await start({ highWaterMark: HIGH_WATER_MARK, limits: { pingIntervalMs: 120_000 } });
  const { herald } = running;
  const reader = await connect(running.url, { token: 'user:reader', timeoutMs: 15_000 });
  await reader.request('chat.Join', { room: 'firehose' });
  const tcp = (reader.socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  tcp.pause();

  let published = 0;
  let whispers = 0;
  let maxBuffered = 0;
  const rssBefore = process.memoryUsage().rss;
  let maxRss = rssBefore;
  const started = Date.now();
  while (published < PUBLISHED || Date.now() - started < STALL_MS) {
    for (let i = 0; i < 10 && published < PUBLISHED; i++) {
      await herald.publish('room/firehose', 'chat.Message', { room: 'firehose', text: TEXT, from: 'load' });
      published++;
    }
    if (published % 100 === 0 && whispers < published / 100) {
      await herald.sendToUser('reader', 'chat.Whispered', { from: 'load', text: `w${++whispers}` });
    }
    maxBuffered = Math.max(maxBuffered, herald.stats.bufferedBytes);
    maxRss = Math.max(maxRss, process.memoryUsage().rss);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const stalledMs = Date.now() - started;
  expect(reader.closeInfo).toBeUndefined();
  tcp.resume();

  const deadline = Date.now() + 60_000;
  const count = (type: string) => reader.log.filter(withType(type)).length;
  while ((count('chat.Message') < published || count('chat.Whispered') < whispers) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const offsets = reader.log.filter(withType('chat.Message')).map((m) => (m as NotificationMessage).offset);
  const seqs = reader.log.filter(withType('chat.Whispered')).map((m) => (m as NotificationMessage).seq);
  const lost = published - new Set(offsets).size;
  const duplicated = offsets.length - new Set(offsets).size;
  console.log(
    `slow reader: published ${published} topic messages (${((published * TEXT.length) / 1e6).toFixed(1)} MB) and ${whispers} private ones in ${(stalledMs / 1000).toFixed(1)} s; ` +
      `max server send buffers ${(maxBuffered / 1024).toFixed(0)} KiB (high-water mark ${HIGH_WATER_MARK / 1024} KiB); ` +
      `RSS growth ${((maxRss - rssBefore) / 1e6).toFixed(1)} MB; lost ${lost}, duplicated ${duplicated}`,
  );
  expect(offsets).toEqual(Array.from({ length: published }, (_, i) => i + 1));
  expect(seqs).toEqual(Array.from({ length: whispers }, (_, i) => i + 1));
  expect(reader.log.filter(withType('herald.TopicReset'))).toEqual([]);
  expect(maxBuffered).toBeLessThanOrEqual(HIGH_WATER_MARK + 64 * 1024);
  reader.close();
});
