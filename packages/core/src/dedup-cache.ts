import { utf8Length } from './codec.ts';
import type { RequestSpan } from './meter.ts';

/**
 * Recent request ids of a session with the frame that answered each, so that a retried
 * request is answered from here instead of running its handler twice.
 *
 * Two generations of `capacity` ids each: ids go into the current one; when it is full it
 * becomes the previous one and the one before is dropped whole. So the last `capacity` ids
 * are always remembered (and at most twice that), the hot path does one lookup and one insert
 * with no per-request eviction, and `forget` can drop any id without upsetting an order.
 * Answers are bounded in bytes too: past `maxBytes`, the previous generation goes early.
 *
 * What this cache costs is keeping answers alive in the JS heap: long enough, they outlive
 * young-generation GC (with `dedupWindow: 0` the uWS request/response benchmark ran about a
 * third faster). So a client confirms the answers it received (`resp`: a count of responses
 * per connection), and from then on that connection's answers wait for their confirmation in
 * its `SendLog`, as bytes outside the heap, instead of here. A request that finishes at once
 * never enters the cache; one that runs longer (async handler, validation or store) does, so
 * that a retry meanwhile waits for its answer.
 */
export interface DedupEntry {
  readonly id: string;
  readonly type: string;
  /** The encoded response, or undefined while the handler is still running. */
  frame: string | undefined;
  /** @internal The generation holding it (it is in the cache while that is `current` or `previous`). */
  home: Map<string, DedupEntry> | null;
  /** @internal `performance.now()` when the request arrived, when the server is metered or traced (else 0). */
  startedAt: number;
  /** @internal The request's span, when the server has a tracer. */
  span: RequestSpan | undefined;
}

/** An entry for a request, not yet remembered by any cache. */
export function dedupEntry(id: string, type: string): DedupEntry {
  return { id, type, frame: undefined, home: null, startedAt: 0, span: undefined };
}

/** Bytes of cached answers per session when nothing else is configured. */
export const DEFAULT_DEDUP_BYTES: number = 1024 * 1024;

export class DedupCache {
  private current = new Map<string, DedupEntry>();
  private previous: Map<string, DedupEntry> | null = null;
  private currentBytes = 0;
  private previousBytes = 0;

  constructor(
    private readonly capacity: number,
    private readonly maxBytes: number = DEFAULT_DEDUP_BYTES,
  ) {}

  get(id: string): DedupEntry | undefined {
    return this.current.get(id) ?? this.previous?.get(id);
  }

  /** Remembers an entry (running, or answered); starts a new generation when the current one is full. */
  track(entry: DedupEntry): void {
    if (entry.home !== null || this.capacity === 0) return;
    if (this.current.size >= this.capacity) this.rotate();
    this.current.set(entry.id, entry);
    entry.home = this.current;
    if (entry.frame !== undefined) this.count(entry.frame.length);
  }

  /**
   * Stores the answer of a request, remembering the entry if it is not yet (one whose
   * generation was dropped meanwhile stays forgotten); drops the oldest answers past the budget.
   */
  finish(entry: DedupEntry, frame: string): void {
    // An answer sent again (a retry) replaces itself: only the difference counts.
    const added = frame.length - (entry.frame?.length ?? 0);
    entry.frame = frame;
    if (entry.home === null) this.track(entry);
    else if (entry.home === this.current) this.count(added);
    else if (entry.home === this.previous) {
      this.previousBytes += added;
      this.count(0);
    }
  }

  private count(bytes: number): void {
    this.currentBytes += bytes;
    if (this.currentBytes + this.previousBytes <= this.maxBytes) return;
    this.dropPrevious();
    // The current generation alone is over budget: it becomes the previous one, and goes next time.
    if (this.currentBytes > this.maxBytes / 2 && this.current.size > 1) this.rotate();
  }

  /** Forgets a request that was never answered, so that a retry runs the checks again. */
  forget(id: string): void {
    for (const generation of [this.current, this.previous]) {
      const entry = generation?.get(id);
      if (entry === undefined || entry.frame !== undefined) continue;
      generation?.delete(id);
      entry.home = null;
    }
  }

  /** Forgets an entry (its answer is kept elsewhere now, or was confirmed). */
  drop(entry: DedupEntry): void {
    const home = entry.home;
    if (home === null) return;
    entry.home = null;
    const bytes = entry.frame?.length ?? 0;
    if (home === this.current) this.currentBytes -= bytes;
    else if (home === this.previous) this.previousBytes -= bytes;
    else return;
    home.delete(entry.id);
  }

  private rotate(): void {
    const dropped = this.previous;
    this.previous = this.current;
    this.previousBytes = this.currentBytes;
    this.current = new Map();
    this.currentBytes = 0;
    if (dropped !== null) this.carryRunning(dropped);
  }

  private dropPrevious(): void {
    const dropped = this.previous;
    this.previous = null;
    this.previousBytes = 0;
    if (dropped !== null) this.carryRunning(dropped);
  }

  /**
   * Requests still running in a generation being dropped move to the current one, up to half
   * of it (so rotations stay rare): answers added after them, such as those a closed
   * connection hands back, must not make a retry miss them and run them twice.
   */
  private carryRunning(dropped: Map<string, DedupEntry>): void {
    let room = this.capacity >> 1;
    for (const entry of dropped.values()) {
      if (room === 0) return;
      if (entry.frame !== undefined || entry.home !== dropped) continue;
      this.current.set(entry.id, entry);
      entry.home = this.current;
      room--;
    }
  }

  get size(): number {
    return this.current.size + (this.previous?.size ?? 0);
  }

  /** Answered entries remembered (not the running ones); walks them, so not for the hot path. */
  get answers(): number {
    let count = 0;
    for (const generation of [this.current, this.previous]) for (const entry of generation?.values() ?? []) if (entry.frame !== undefined) count++;
    return count;
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const EMPTY_BYTES = new Uint8Array(0);
const EMPTY_POSITIONS = new Float64Array(0);
const EMPTY_OFFSETS = new Int32Array(0);
const EMPTY_FLAGS = new Uint8Array(0);
/** A send log's byte buffer above this is freed at the sweep whenever the log is empty. */
const LARGE_BYTES = 64 * 1024;
/** The reqId and type at the head of every frame `encodeResponse` builds. */
const RESPONSE_HEAD = /^\{"kind":"resp","reqId":"([^"]*)","type":"([^"]*)"/;

/** What a send log needs of its connection. */
export interface SendLogOwner {
  /** An answer leaves the log unconfirmed, as JSON text. */
  spilled(frame: string): void;
  /** On a connection of a binary encoding: what makes a packed answer JSON text again. */
  readonly encoder: { text(packed: Uint8Array): string } | undefined;
}

/**
 * The answers written to one connection that its client has not confirmed yet, in the order
 * sent, each with its position among the connection's responses. Kept as UTF-8 bytes in one
 * growing buffer outside the JS heap, so that the round trip they wait costs the garbage
 * collector nothing. Bounded by `maxRecords` and `maxBytes`: past either, the oldest answers
 * go back to the session's `DedupCache` (`SendLogOwner.spilled`), as do all of them when the
 * connection ends. On a connection of a binary encoding, answers packed from their bodies are
 * kept as sent and made JSON text only if they spill, which is rare: most are confirmed.
 */
export class SendLog {
  private bytes = EMPTY_BYTES;
  private used = 0;
  private positions = EMPTY_POSITIONS;
  private offsets = EMPTY_OFFSETS;
  /** 1 where a record is packed (`pushPacked`), 0 where it is UTF-8 JSON text. */
  private packed = EMPTY_FLAGS;
  private first = 0;
  private last = 0;
  /** Something was pushed since the last `trim`. */
  private busy = false;

  constructor(
    private readonly maxRecords: number,
    private readonly maxBytes: number,
    /** The connection: an object the log holds anyway, rather than closures made for every one. */
    private readonly owner: SendLogOwner,
  ) {}

  /** Keeps the answer sent at `position` until it is confirmed. */
  push(position: number, frame: string): void {
    if (this.maxRecords === 0) return this.owner.spilled(frame);
    this.reserveRecord();
    for (;;) {
      const { read, written } = encoder.encodeInto(frame, this.bytes.subarray(this.used));
      if (read === frame.length) return this.record(position, written, 0);
      // Larger than the whole budget: it cannot wait here.
      if (!this.makeByteRoom(utf8Length(frame))) return this.owner.spilled(frame);
    }
  }

  /** `push` for an answer the connection's encoder packed: kept as those bytes. */
  pushPacked(position: number, packed: Uint8Array): void {
    if (this.maxRecords === 0) return this.owner.spilled(this.unpack(packed));
    this.reserveRecord();
    if (this.used + packed.length > this.bytes.length && !this.makeByteRoom(packed.length)) return this.owner.spilled(this.unpack(packed));
    this.bytes.set(packed, this.used);
    this.record(position, packed.length, 1);
  }

  /** The JSON text of a packed record. */
  private unpack(packed: Uint8Array): string {
    const encoder = this.owner.encoder;
    return encoder === undefined ? decoder.decode(packed) : encoder.text(packed);
  }

  private reserveRecord(): void {
    this.busy = true;
    if (this.last - this.first >= this.maxRecords) this.spillOldest();
    if (this.last === this.positions.length) this.makeRecordRoom();
  }

  private record(position: number, length: number, packed: number): void {
    this.positions[this.last] = position;
    this.packed[this.last] = packed;
    this.offsets[this.last++] = this.used;
    this.used += length;
  }

  /** The client received the first `count` responses: their answers are let go. */
  confirm(count: number): void {
    while (this.first < this.last && (this.positions[this.first] as number) <= count) this.first++;
    if (this.first === this.last) this.first = this.last = this.used = 0;
  }

  /** The connection ended: every unconfirmed answer goes to the cache, for a retry after resume. */
  close(): void {
    while (this.first < this.last) this.spillOldest();
  }

  get size(): number {
    return this.last - this.first;
  }

  /**
   * Run by the sweep: frees the buffers of a log that stayed empty since the last call, so an
   * idle connection holds none, and a large byte buffer whenever the log is empty.
   */
  trim(): void {
    if (this.last === 0 && !this.busy) {
      this.bytes = EMPTY_BYTES;
      this.positions = EMPTY_POSITIONS;
      this.offsets = EMPTY_OFFSETS;
      this.packed = EMPTY_FLAGS;
    } else if (this.last === 0 && this.bytes.length > LARGE_BYTES) this.bytes = EMPTY_BYTES;
    this.busy = false;
  }

  private end(record: number): number {
    return record + 1 < this.last ? (this.offsets[record + 1] as number) : this.used;
  }

  private spillOldest(): void {
    const record = this.first++;
    const bytes = this.bytes.subarray(this.offsets[record], this.end(record));
    this.owner.spilled(this.packed[record] === 1 ? this.unpack(bytes) : decoder.decode(bytes));
    if (this.first === this.last) this.first = this.last = this.used = 0;
  }

  /** Moves the live records to the front of the arrays, growing them when more than half full. */
  private makeRecordRoom(): void {
    const live = this.last - this.first;
    if (live * 2 >= this.positions.length) {
      const positions = new Float64Array(Math.max(32, this.positions.length * 2));
      const offsets = new Int32Array(positions.length);
      const packed = new Uint8Array(positions.length);
      positions.set(this.positions.subarray(this.first, this.last));
      offsets.set(this.offsets.subarray(this.first, this.last));
      packed.set(this.packed.subarray(this.first, this.last));
      this.positions = positions;
      this.offsets = offsets;
      this.packed = packed;
    } else {
      this.positions.copyWithin(0, this.first, this.last);
      this.offsets.copyWithin(0, this.first, this.last);
      this.packed.copyWithin(0, this.first, this.last);
    }
    this.first = 0;
    this.last = live;
  }

  /** Makes room for `need` more bytes (compacting, growing, then spilling); false when it cannot. */
  private makeByteRoom(need: number): boolean {
    if (need > this.maxBytes) return false;
    for (;;) {
      const start = this.first < this.last ? (this.offsets[this.first] as number) : this.used;
      const live = this.used - start;
      if (live + need <= this.bytes.length) {
        if (start > 0) this.bytes.copyWithin(0, start, this.used);
      } else if (this.bytes.length < this.maxBytes) {
        const bytes = new Uint8Array(Math.min(this.maxBytes, Math.max(1024, this.bytes.length * 2, live + need)));
        bytes.set(this.bytes.subarray(start, this.used));
        this.bytes = bytes;
      } else {
        this.spillOldest();
        continue;
      }
      // The live bytes now start at 0.
      for (let i = this.first; i < this.last; i++) this.offsets[i] = (this.offsets[i] as number) - start;
      this.used = live;
      return true;
    }
  }
}

/** The reqId and type of a response frame, or undefined for a frame of another shape. */
export function responseHead(frame: string): { readonly id: string; readonly type: string } | undefined {
  const match = RESPONSE_HEAD.exec(frame);
  return match === null ? undefined : { id: match[1] as string, type: match[2] as string };
}
