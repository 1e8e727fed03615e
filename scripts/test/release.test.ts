/**
 * `changeset version` on a copy of the repository: every published package must come out as
 * a 0.x release one minor or patch above the last, never 1.0.0 (a peer dependency range that a
 * minor release leaves makes changesets release its dependents as a major, and the linked
 * group carries that major to every package).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');

interface Manifest {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
}

const readManifest = async (dir: string): Promise<Manifest> => JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as Manifest;
const semver = (version: string): [number, number, number] => {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (match === null) throw new Error(`not a release version: ${version}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
};
const after = (a: string, b: string): boolean => {
  const [x, y] = [semver(a), semver(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] as number) > (y[i] as number);
  return false;
};

/** Copies what `changeset version` reads (manifests, workspace, .changeset) into a scratch dir. */
async function scratchCopy(): Promise<{ dir: string; workspaces: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'herald-release-'));
  for (const file of ['package.json', 'pnpm-workspace.yaml']) await cp(join(root, file), join(dir, file));
  await cp(join(root, '.changeset'), join(dir, '.changeset'), { recursive: true });
  const workspaces: string[] = [];
  for (const group of ['packages', 'apps', 'tooling']) {
    for (const name of await readdir(join(root, group))) {
      const workspace = `${group}/${name}`;
      await mkdir(join(dir, workspace), { recursive: true });
      await cp(join(root, workspace, 'package.json'), join(dir, workspace, 'package.json'));
      workspaces.push(workspace);
    }
  }
  // the changelog generator named in .changeset/config.json is resolved from the copy
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, workspaces };
}

const scratch: string[] = [];
afterAll(() => Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true }))));

it.each([
  ['the pending changesets', false],
  ['the pending changesets and a minor changeset for every published package', true],
])('changeset version releases every package as 0.x, no major jump, with %s', async (_, minorForAll) => {
  const { dir, workspaces } = await scratchCopy();
  scratch.push(dir);
  const before = new Map<string, Manifest>();
  for (const workspace of workspaces) before.set(workspace, await readManifest(join(root, workspace)));
  const published = workspaces.filter((workspace) => before.get(workspace)?.private !== true);
  expect(published.length).toBeGreaterThanOrEqual(8);
  if (minorForAll) {
    const frontmatter = published.map((workspace) => `"${before.get(workspace)?.name}": minor`).join('\n');
    await writeFile(join(dir, '.changeset', 'zz-every-package-minor.md'), `---\n${frontmatter}\n---\n\nA minor release of every package.\n`);
  }
  const pending = (await readdir(join(dir, '.changeset'))).filter((file) => file.endsWith('.md') && file !== 'README.md');
  expect(pending.length).toBeGreaterThan(0);

  await run(join(root, 'node_modules/.bin/changeset'), ['version'], { cwd: dir });

  const released: string[] = [];
  for (const workspace of published) {
    const old = before.get(workspace) as Manifest;
    const next = await readManifest(join(dir, workspace));
    released.push(`${next.name} ${old.version} → ${next.version}`);
    expect(semver(next.version)[0], `${next.name} ${next.version}`).toBe(0);
    expect(semver(next.version)[0]).toBe(semver(old.version)[0]);
    if (minorForAll) expect(after(next.version, old.version), `${next.name} ${old.version} → ${next.version}`).toBe(true);
  }
  console.log(released.join('\n'));
  // the changesets were consumed: the run did release something
  const left = (await readdir(join(dir, '.changeset'))).filter((file) => file.endsWith('.md') && file !== 'README.md');
  expect(left).toEqual([]);
});
