/**
 * What a user gets from npm: every published package is built and packed once with `npm pack` (not
 * pnpm, which rewrites the manifest on the way; `scripts/packed`) and installed with npm into a fresh project
 * outside the workspace. A typed server (@herald/uws) and client (@herald/client on `ws`) run
 * there from the installed dist, the consumer's code typechecks under `nodenext` and `bundler`
 * resolution, and the two commands start.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { packed, run } from '../packed/index.ts';

/** Build and pack (shared, once), install from the registry, compile and run on a busy machine: generous. */
const TIMEOUT_MS = 6 * 60_000;
/** The libraries; create-herald is a project generator, tested by generating a project. */
const LIBRARIES = ['@herald/asyncapi', '@herald/client', '@herald/core', '@herald/gateway', '@herald/hono', '@herald/inspector', '@herald/long-poll', '@herald/metrics', '@herald/redis', '@herald/testing', '@herald/uws'];

const CONTRACT = `import { defineContract } from '@herald/core';
import { z } from 'zod';

export const echo = defineContract({
  requests: {
    'echo.Say': { request: z.object({ text: z.string() }), response: z.object({ text: z.string(), length: z.number() }) },
    'room.Join': { request: z.object({ room: z.string() }), response: z.object({ offset: z.number() }) },
  },
  notifications: {
    'room.Message': { body: z.object({ room: z.string(), text: z.string() }) },
  },
});
`;

const MAIN = `import { createClient } from '@herald/client';
import { createHerald } from '@herald/core';
import { serveHerald } from '@herald/uws';
import WebSocket from 'ws';
import { echo } from './contract.js';

const herald = createHerald({
  contract: echo,
  authenticate: (token) => (token === 'secret' ? { userId: 'me' } : null),
  canSubscribe: (topic) => topic.startsWith('room/'),
  handlers: {
    'echo.Say': ({ text }) => ({ text, length: text.length }),
    'room.Join': async ({ room }, ctx) => ({ offset: (await ctx.subscribe(\`room/\${room}\`)).offset }),
  },
});
const server = await serveHerald(herald, { port: 0, host: '127.0.0.1' });
const client = createClient<typeof echo>({ url: \`ws://127.0.0.1:\${server.port}/ws\`, WebSocket, token: 'secret' });

const reply: { text: string; length: number } = await client.request('echo.Say', { text: 'hello' });
// @ts-expect-error the contract types the body: a number is not a text
const refused = client.request('echo.Say', { text: 42 }).then(() => 'accepted', (error: unknown) => String((error as { code?: unknown }).code));
const message = new Promise<{ room: string; text: string }>((resolve) => client.on('room.Message', (body) => resolve(body)));
await client.request('room.Join', { room: 'lobby' });
await herald.publish('room/lobby', 'room.Message', { room: 'lobby', text: 'to everyone' });
console.log(JSON.stringify({ reply, refused: await refused, message: await message }));
client.close();
await server.close();
process.exit(0);
`;

const compilerOptions = {
  target: 'ES2022',
  lib: ['ES2023'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
  // the published declarations are checked too (once, under nodenext)
  skipLibCheck: false,
  outDir: 'dist',
  rootDir: 'src',
};

const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

it(
  'npm-packed tarballs install in a fresh npm project, typecheck (nodenext, bundler) and serve a typed round trip and a topic message',
  async () => {
    const started = performance.now();
    const lap = (what: string) => console.log(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const { packages } = await packed();
    lap('built and packed');
    const contents = packages.filter((entry) => entry.name !== 'create-herald');
    expect(contents.map((entry) => entry.name).sort()).toEqual(LIBRARIES);
    for (const entry of contents) {
      const { files } = entry;
      expect(files, entry.name).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/index.js.map', 'src/index.ts']));
      expect(files.filter((file) => file.endsWith('.test.ts') || file.startsWith('test/')), entry.name).toEqual([]);
      // every file a source map names is in the tarball
      for (const map of files.filter((file) => file.endsWith('.map')).slice(0, 5)) expect(files, `${entry.name} ${map}`).toContain(map.replace(/^dist\//, 'src/').replace(/\.d\.ts\.map$|\.js\.map$/, '.ts'));
    }

    const work = await mkdtemp(join(tmpdir(), 'herald-pack-'));
    scratch.push(work);
    const project = join(work, 'consumer');
    await mkdir(join(project, 'src'), { recursive: true });
    await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2)}\n`);
    await run(
      'npm',
      [
        'install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error',
        ...contents.map((entry) => entry.tarball),
        'uWebSockets.js@npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0',
        'ws@^8.18.3', 'zod@^4.6.7', 'typescript@~5.9.3', '@types/node@^20.19.0', '@types/ws@^8.18.1',
      ],
      project,
    );
    lap('installed');

    await writeFile(join(project, 'src', 'contract.ts'), CONTRACT);
    await writeFile(join(project, 'src', 'main.ts'), MAIN);
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'NodeNext', moduleResolution: 'NodeNext' }, include: ['src'] }));
    await writeFile(join(project, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'ESNext', moduleResolution: 'Bundler', noEmit: true, skipLibCheck: true }, include: ['src'] }));
    const tsc = join(project, 'node_modules/typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], project);
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], project);
    lap('typechecked');

    const { stdout } = await run(process.execPath, ['dist/main.js'], project);
    expect(JSON.parse(stdout)).toEqual({ reply: { text: 'hello', length: 5 }, refused: '400', message: { room: 'lobby', text: 'to everyone' } });
    for (const command of ['herald-load', 'herald-asyncapi']) {
      const help = await run(join(project, 'node_modules/.bin', command), ['--help'], project);
      expect(help.stdout).toContain(`usage: ${command}`);
    }
    const manifest = JSON.parse(await readFile(join(project, 'node_modules/@herald/redis/package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ license: 'MIT', engines: { node: '>=20.19' }, repository: { directory: 'packages/redis' } });
    lap('ran');
  },
  TIMEOUT_MS,
);

it(
  '@herald/uws installs without uWebSockets.js (npm does not look for it on the registry) and says how to install it',
  async () => {
    const { tarball } = await packed();
    const project = await mkdtemp(join(tmpdir(), 'herald-no-uws-'));
    scratch.push(project);
    await writeFile(join(project, 'package.json'), `${JSON.stringify({ name: 'no-uws', private: true, type: 'module' }, null, 2)}\n`);
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', tarball('@herald/core'), tarball('@herald/uws')], project);
    const missing = await run(process.execPath, ['--input-type=module', '-e', "const { loadUws } = await import('@herald/uws'); loadUws();"], project).then(
      () => 'loaded',
      (error: unknown) => String(error),
    );
    expect(missing).toContain('@herald/uws: uWebSockets.js is not installed. It is not on the npm registry under that name');
    expect(missing).toContain('npm install uWebSockets.js@github:uNetworking/uWebSockets.js#v');
  },
  TIMEOUT_MS,
);
