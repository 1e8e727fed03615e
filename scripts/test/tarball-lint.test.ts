/**
 * Every tarball `npm pack` makes (`scripts/packed`) passes `publint --strict` (a manifest that
 * points at files it does not ship, exports in the wrong order, a missing license…), names its
 * license, repository, engines and side effects, and passes "Are the
 * types wrong?" (`attw --pack --profile esm-only`: every entry point resolves, with its types,
 * under node16 ESM and bundler resolution). The packages are ESM only, so node10 and node16 CJS
 * resolution are not asked for.
 */
import { readFile } from 'node:fs/promises';
import { checkPackage, createPackageFromTarballData, type ResolutionKind } from '@arethetypeswrong/core';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { beforeAll, describe, expect, it } from 'vitest';
import { packed, type PackedPackage } from '../packed/index.ts';

const PACKAGES = ['@herald/asyncapi', '@herald/client', '@herald/core', '@herald/gateway', '@herald/hono', '@herald/inspector', '@herald/long-poll', '@herald/metrics', '@herald/redis', '@herald/testing', '@herald/uws', 'create-herald'];
/** What `--profile esm-only` leaves out. */
const IGNORED: readonly ResolutionKind[] = ['node10', 'node16-cjs'];

let packages: readonly PackedPackage[] = [];
beforeAll(async () => {
  ({ packages } = await packed());
}, 6 * 60_000);

describe.each(PACKAGES)('%s', (name) => {
  const tarball = async (): Promise<Uint8Array> => {
    const found = packages.find((entry) => entry.name === name);
    expect(found, `${name} was packed`).toBeDefined();
    return new Uint8Array(await readFile(found?.tarball ?? ''));
  };

  it('passes publint --strict', async () => {
    const data = await tarball();
    const { messages, pkg } = await publint({ pack: { tarball: data.buffer as ArrayBuffer }, strict: true, level: 'suggestion' });
    expect(messages.map((message) => `${message.type}: ${formatMessage(message, pkg) ?? message.code}`)).toEqual([]);
  });

  it('names its license (and ships it), repository, engines and side effects', async () => {
    const { pkg } = await publint({ pack: { tarball: (await tarball()).buffer as ArrayBuffer }, level: 'error' });
    const directory = name === 'create-herald' ? 'packages/create-herald' : `packages/${name.slice('@herald/'.length)}`;
    expect(pkg).toMatchObject({ license: 'MIT', repository: { type: 'git', directory }, engines: { node: expect.stringMatching(/^>=20/) } });
    if (name !== 'create-herald') expect(pkg['sideEffects'], 'sideEffects').toBeDefined();
    expect(packages.find((entry) => entry.name === name)?.files).toContain('LICENSE');
  });

  it.skipIf(name === 'create-herald')('has types that resolve in every ESM mode (attw)', async () => {
    const result = await checkPackage(createPackageFromTarballData(await tarball()));
    expect(result.types, 'the package ships types').not.toBe(false);
    if (result.types === false) return;
    const problems = result.problems.filter((problem) => !('resolutionKind' in problem) || !IGNORED.includes(problem.resolutionKind));
    expect(problems).toEqual([]);
    // Data files a package exports as such (the Grafana dashboard of @herald/metrics) have no types to resolve.
    const entrypoints = Object.values(result.entrypoints).filter((entry) => !entry.subpath.endsWith('.json'));
    expect(entrypoints.length).toBeGreaterThan(0);
    for (const entry of entrypoints) {
      for (const kind of ['node16-esm', 'bundler'] as const) expect(entry.resolutions[kind].resolution?.isTypeScript ?? false, `${entry.subpath} (${kind})`).toBe(true);
    }
  });
});
