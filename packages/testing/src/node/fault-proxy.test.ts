import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../eventually.ts';
import { startFaultProxy, type FaultProxy, type FaultProxyOptions } from './fault-proxy.ts';

interface Echo {
  readonly port: number;
  /** What happened to the server's end of each connection, in order. */
  readonly events: string[];
  close(): Promise<void>;
}

/** An echo server that records what its sockets see. */
async function startEcho(): Promise<Echo> {
  const events: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.pipe(socket);
    socket.on('end', () => events.push('end'));
    socket.on('error', (error: NodeJS.ErrnoException) => events.push(`error ${error.code}`));
    socket.on('close', () => {
      sockets.delete(socket);
      events.push('close');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    events,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

interface Client {
  readonly socket: Socket;
  /** Bytes received so far. */
  received(): Buffer;
  readonly events: string[];
  /** Resolves once `length` bytes arrived in all. */
  bytes(length: number, timeoutMs?: number): Promise<Buffer>;
}

async function open(port: number): Promise<Client> {
  const socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const chunks: Buffer[] = [];
  let length = 0;
  const events: string[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
  });
  socket.on('end', () => events.push('end'));
  socket.on('error', (error: NodeJS.ErrnoException) => events.push(`error ${error.code}`));
  socket.on('close', () => events.push('close'));
  const received = (): Buffer => Buffer.concat(chunks);
  return {
    socket,
    received,
    events,
    bytes: async (wanted, timeoutMs = 15_000) => {
      await eventually(() => expect(length).toBeGreaterThanOrEqual(wanted), timeoutMs);
      return received();
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let echo: Echo;
let proxy: FaultProxy;
const clients: Client[] = [];

async function setUp(options: Omit<FaultProxyOptions, 'upstream'> = {}): Promise<void> {
  echo = await startEcho();
  proxy = await startFaultProxy({ upstream: { port: echo.port }, ...options });
}

async function client(): Promise<Client> {
  const opened = await open(proxy.port);
  clients.push(opened);
  await eventually(() => expect(proxy.links).toBe(clients.length));
  return opened;
}

async function roundTripMs(opened: Client, text: string): Promise<number> {
  const before = opened.received().length;
  const started = performance.now();
  opened.socket.write(text);
  await opened.bytes(before + text.length);
  return performance.now() - started;
}

afterEach(async () => {
  for (const opened of clients.splice(0)) opened.socket.destroy();
  await proxy?.close();
  await echo?.close();
});

describe('startFaultProxy', () => {
  it('listens on loopback and passes bytes through untouched without faults', async () => {
    await setUp();
    expect(proxy.host).toBe('127.0.0.1');
    const opened = await client();
    opened.socket.write('hello');
    expect((await opened.bytes(5)).toString()).toBe('hello');
    expect(proxy.stats()).toMatchObject({ links: 1, linksOpened: 1, bytesUpstream: 5, bytesDownstream: 5 });
  });

  it('keeps 200 KB of random bytes unchanged and in order through latency, jitter and the slicer', async () => {
    await setUp({ faults: { latencyMs: 5, jitterMs: 5, slicer: { averageBytes: 64, sizeVariationBytes: 32, delayUs: 100 } } });
    const opened = await client();
    const payload = randomBytes(200 * 1024);
    for (let at = 0; at < payload.length; ) {
      const size = 1 + Math.floor(Math.random() * 4096);
      opened.socket.write(payload.subarray(at, at + size));
      at += size;
    }
    const back = await opened.bytes(payload.length, 30_000);
    expect(back.length).toBe(payload.length);
    expect(back.equals(payload)).toBe(true);
  });

  it('adds the latency in each direction', async () => {
    await setUp({ faults: { latencyMs: 100 } });
    const opened = await client();
    // Timers may fire a millisecond early; no upper bound tighter than seconds on a busy machine.
    const both = await roundTripMs(opened, 'a');
    expect(both).toBeGreaterThanOrEqual(198);
    expect(both).toBeLessThan(5000);
    proxy.set({ downstream: { latencyMs: 150 } });
    const down = await roundTripMs(opened, 'b');
    expect(down).toBeGreaterThanOrEqual(148);
    expect(down).toBeLessThan(5000);
    proxy.set({});
    expect(await roundTripMs(opened, 'c')).toBeLessThan(5000);
  });

  it('limits the bandwidth', async () => {
    await setUp({ faults: { bandwidthBytesPerSecond: 20_000 } });
    const opened = await client();
    const payload = randomBytes(40_000);
    const started = performance.now();
    opened.socket.write(payload);
    const back = await opened.bytes(payload.length, 30_000);
    // 2 s of bytes each way, pipelined; the limiter may run 20 ms ahead after a late timer.
    expect(performance.now() - started).toBeGreaterThanOrEqual(1900);
    expect(back.equals(payload)).toBe(true);
  });

  it('bounds what it queues and pauses the sender instead', async () => {
    await setUp({ maxQueuedBytes: 16 * 1024, faults: { upstream: { bandwidthBytesPerSecond: 10_000 } } });
    const opened = await client();
    const chunk = randomBytes(64 * 1024);
    for (let i = 0; i < 512; i++) opened.socket.write(chunk);
    await sleep(1000);
    const stats = proxy.stats();
    // The bound, plus at most one read's worth past it before the pause takes effect.
    expect(stats.queuedBytes).toBeLessThanOrEqual(16 * 1024 + 64 * 1024);
    // 32 MiB written, a few MiB in kernel buffers at most: the rest waits in the client.
    expect(opened.socket.writableLength).toBeGreaterThan(16 * 1024 * 1024);
  });

  it('freezes a link half-open: no bytes, no FIN, no close, until thawed', async () => {
    await setUp();
    const opened = await client();
    expect(await roundTripMs(opened, 'a')).toBeLessThan(5000);
    expect(proxy.freeze()).toBe(1);
    expect(proxy.stats().frozenLinks).toBe(1);
    opened.socket.write('b');
    opened.socket.end();
    await sleep(500);
    expect(opened.received().toString()).toBe('a');
    expect(opened.events).toEqual([]);
    expect(echo.events).toEqual([]);
    expect(proxy.links).toBe(1);

    expect(proxy.thaw()).toBe(1);
    await eventually(() => expect(opened.received().toString()).toBe('ab'));
    await eventually(() => expect(echo.events).toEqual(['end', 'close']));
    await eventually(() => expect(opened.events).toEqual(['end', 'close']));
    await eventually(() => expect(proxy.links).toBe(0));
  });

  it('freezes only the links a filter picks, and new links while frozen without one', async () => {
    await setUp();
    const first = await client();
    const second = await client();
    expect(proxy.freeze((link) => link.clientPort === first.socket.localPort)).toBe(1);
    first.socket.write('1');
    expect(await roundTripMs(second, '2')).toBeLessThan(5000);
    expect(first.received().length).toBe(0);

    proxy.freeze();
    const third = await client();
    third.socket.write('3');
    await sleep(300);
    expect(third.received().length).toBe(0);
    expect(proxy.thaw()).toBe(3);
    await first.bytes(1);
    await third.bytes(1);
  });

  it('keeps what a client sent first as the link\'s head, so filters can pick links by request', async () => {
    await setUp();
    const alice = await client();
    const bob = await client();
    alice.socket.write('GET /ws HTTP/1.1\r\nx-client: alice\r\n\r\n');
    bob.socket.write('GET /lp HTTP/1.1\r\nx-client: bob\r\n\r\n');
    await alice.bytes(1);
    await bob.bytes(1);
    expect(proxy.freeze((link) => link.head.includes('x-client: alice'))).toBe(1);
    bob.socket.write('!');
    await bob.bytes(bob.received().length + 1);
    // The head stops growing at 2 KiB: alice's link (frozen, still reading) is the one that reached it.
    alice.socket.write('!'.repeat(4000));
    await eventually(() => expect(proxy.thaw((link) => link.head.length === 2048)).toBe(1));
    await alice.bytes(4000);
  });

  it('tells chaos\'s faults as they happen, with the link they hit', async () => {
    await setUp();
    const opened = await client();
    opened.socket.write('GET / HTTP/1.1\r\n\r\n');
    await opened.bytes(1);
    const faults: { kind: string; head: string; at: number }[] = [];
    const freezer = proxy.chaos({
      everyMs: 20,
      freezeProbability: 1,
      freezeMs: 100,
      onFault: ({ kind, link, at }) => faults.push({ kind, head: link.head, at }),
    });
    await eventually(() => expect(faults.map((fault) => fault.kind)).toEqual(expect.arrayContaining(['freeze', 'thaw'])));
    freezer.stop();
    const [freeze, thaw] = faults;
    expect(freeze?.kind).toBe('freeze');
    expect(thaw?.kind).toBe('thaw');
    expect(freeze?.head).toBe('GET / HTTP/1.1\r\n\r\n');
    expect((thaw?.at ?? 0) - (freeze?.at ?? 0)).toBeGreaterThanOrEqual(90);
  });

  it('resets both sides: the client sees ECONNRESET', async () => {
    await setUp();
    const opened = await client();
    expect(await roundTripMs(opened, 'a')).toBeLessThan(5000);
    expect(proxy.resetPeers()).toBe(1);
    await eventually(() => expect(opened.events).toContain('error ECONNRESET'));
    await eventually(() => expect(echo.events).toContain('close'));
    await eventually(() => expect(proxy.links).toBe(0));
    expect(proxy.stats().resets).toBe(1);
  });

  it('resets a fraction of the links', async () => {
    await setUp();
    const opened = await Promise.all([client(), client(), client(), client()]);
    await eventually(() => expect(proxy.links).toBe(4));
    expect(proxy.resetPeers(0.5)).toBe(2);
    await eventually(() => expect(opened.filter((c) => c.events.includes('error ECONNRESET'))).toHaveLength(2));
    expect(proxy.links).toBe(2);
  });

  it('closes every link when it closes, and refuses connections after', async () => {
    await setUp({ faults: { latencyMs: 1000 } });
    const opened = await client();
    opened.socket.write('never echoed in time');
    proxy.freeze();
    await proxy.close();
    await eventually(() => expect(opened.events).toContain('close'));
    await eventually(() => expect(echo.events).toContain('close'));
    expect(proxy.links).toBe(0);
    const refused = connect(proxy.port, '127.0.0.1');
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => refused.once('error', resolve));
    expect(error.code).toBe('ECONNREFUSED');
  });

  it('runs random freezes and resets, and stops', async () => {
    await setUp();
    const opened = await client();
    const freezer = proxy.chaos({ everyMs: 20, freezeProbability: 1, freezeMs: { min: 200, max: 300 } });
    await eventually(() => expect(proxy.stats().frozenLinks).toBe(1));
    opened.socket.write('a');
    // Thawed after its freeze, it passes the byte on (and may be frozen again: probability 1).
    await opened.bytes(1);
    freezer.stop();
    expect(freezer.freezes).toBeGreaterThanOrEqual(1);
    expect(proxy.stats().frozenLinks).toBe(0);

    const resetter = proxy.chaos({ everyMs: 20, resetProbability: 1 });
    await eventually(() => expect(opened.events).toContain('error ECONNRESET'));
    resetter.stop();
    expect(resetter.resets).toBe(1);
  });

  it('refuses impossible faults', async () => {
    await setUp();
    expect(() => proxy.set({ latencyMs: -1 })).toThrow(RangeError);
    expect(() => proxy.set({ upstream: { slicer: { averageBytes: 0 } } })).toThrow(RangeError);
    expect(() => proxy.chaos({ everyMs: 10, resetProbability: 0.6, freezeProbability: 0.6 })).toThrow(RangeError);
  });
});
