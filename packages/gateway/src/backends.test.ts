import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendPool, type Strategy } from './backends.ts';

/** Plain HTTP servers standing in for nodes' `/readyz`: 200 while `ready[i]`, else 503. */
const ready = [true, true, true];
const servers: Server[] = [];
const urls: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < ready.length; i++) {
    const server = createServer((request, response) => {
      response.writeHead(request.url === '/readyz' && ready[i] ? 200 : 503).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    urls.push(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/ws`);
  }
});

afterAll(async () => {
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function pool(strategy: Strategy, source: ConstructorParameters<typeof BackendPool>[0] = urls): Promise<BackendPool> {
  const created = new BackendPool(source, { strategy, healthIntervalMs: 60_000, healthTimeoutMs: 2000, onChange: () => {} });
  await created.start();
  created.stop();
  return created;
}

describe('BackendPool', () => {
  it('round-robin takes every healthy backend in turn', async () => {
    const backends = await pool('round-robin');
    const picked = Array.from({ length: 6 }, () => backends.pick(undefined)?.url);
    expect(new Set(picked.slice(0, 3)).size).toBe(3);
    expect(picked.slice(3)).toEqual(picked.slice(0, 3));
  });

  it('least-connections takes the backend with the fewest links', async () => {
    const backends = await pool('least-connections');
    const [a, b, c] = backends.all;
    a!.links = 5;
    b!.links = 1;
    c!.links = 3;
    expect(backends.pick(undefined)).toBe(b);
  });

  it('consistent-hash keeps a key on its backend, and moves only the keys of a backend that left', async () => {
    const backends = await pool('consistent-hash');
    const keys = Array.from({ length: 200 }, (_, i) => `session-${i}`);
    const before = new Map(keys.map((key) => [key, backends.pick(key)?.url]));
    expect(new Set(before.values()).size).toBe(3);
    for (const key of keys) expect(backends.pick(key)?.url).toBe(before.get(key));
    const gone = backends.all[0]!;
    backends.failed(gone);
    for (const key of keys) {
      const now = backends.pick(key)?.url;
      if (before.get(key) === gone.url) expect(now).not.toBe(gone.url);
      else expect(now).toBe(before.get(key));
    }
  });

  it('leaves out a backend whose /readyz does not answer 200, and one that cannot be reached', async () => {
    ready[1] = false;
    try {
      const backends = await pool('round-robin', [...urls, 'ws://127.0.0.1:1/ws']);
      expect(backends.all.map((backend) => backend.healthy)).toEqual([true, false, true, false]);
      const picked = new Set(Array.from({ length: 10 }, () => backends.pick(undefined)?.url));
      expect(picked).toEqual(new Set([urls[0], urls[2]]));
      expect(backends.pick(undefined, backends.all[0])?.url).toBe(urls[2]);
    } finally {
      ready[1] = true;
    }
  });

  it('tries every backend when none is healthy (a check that timed out must not refuse what a dial would serve)', async () => {
    ready[0] = ready[1] = ready[2] = false;
    try {
      const backends = await pool('round-robin');
      expect(backends.all.every((backend) => !backend.healthy)).toBe(true);
      expect(new Set(Array.from({ length: 6 }, () => backends.pick(undefined)?.url))).toEqual(new Set(urls));
      expect(backends.pick(undefined, backends.all[0])?.url).not.toBe(urls[0]);
    } finally {
      ready[0] = ready[1] = ready[2] = true;
    }
    const alone = await pool('round-robin', [urls[0]!]);
    expect(alone.pick(undefined, alone.all[0])).toBeUndefined();
  });

  it('reads a function source at every round', async () => {
    let listed = [urls[0]!];
    const backends = new BackendPool(() => listed, { strategy: 'round-robin', healthIntervalMs: 60_000, healthTimeoutMs: 2000, onChange: () => {} });
    await backends.start();
    backends.stop();
    expect(backends.all.map((backend) => backend.url)).toEqual([urls[0]]);
    listed = [urls[0]!, urls[1]!];
    await (backends as unknown as { check(): Promise<void> }).check();
    expect(backends.all.map((backend) => [backend.url, backend.healthy])).toEqual([
      [urls[0], true],
      [urls[1], true],
    ]);
  });
});
