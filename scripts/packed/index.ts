/**
 * Every published package, built and packed with `npm pack` once, for the tests that install
 * tarballs (the pack-and-install test, the tarball lint, create-herald's generated project).
 * The tarballs are kept under `node_modules/.cache/herald-packed/<fingerprint>`, where the
 * fingerprint hashes what `npm pack` would ship: test files in other vitest projects, or other
 * processes, that ask while a pack is under way wait for it (a lock directory), and a later run
 * with nothing changed packs nothing.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
export const root = resolve(import.meta.dirname, '../..');
const cache = join(root, 'node_modules/.cache/herald-packed');
/** A lock with no holder's pid in it after this long was left by a process that died as it took it. */
const STALE_LOCK_MS = 60_000;

export interface PackedPackage {
  readonly name: string;
  /** The tarball's absolute path. */
  readonly tarball: string;
  /** The files in it, as `npm pack --json` lists them. */
  readonly files: readonly string[];
}

export interface Packed {
  /** The directory holding the tarballs. */
  readonly dir: string;
  readonly packages: readonly PackedPackage[];
  /** The tarball of one package, by name. */
  tarball(name: string): string;
}

/**
 * Runs a command; a failure carries its output. Without the `NODE_PATH` pnpm gives the test
 * process, which would let a consumer project outside the workspace resolve the workspace's
 * modules.
 */
export async function run(command: string, args: readonly string[], cwd: string, env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  try {
    const base = { ...process.env, NODE_PATH: '', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };
    return await exec(command, args, { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...base, ...env } });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
}

let once: Promise<Packed> | undefined;

/**
 * Builds the packages (turbo, cached) and packs each one, or reuses the tarballs of an identical
 * earlier pack.
 *
 * @example
 * const { tarball } = await packed();
 * await run('npm', ['install', tarball('@herald/core')], project);
 */
export function packed(): Promise<Packed> {
  once ??= pack();
  return once;
}

async function pack(): Promise<Packed> {
  await mkdir(cache, { recursive: true });
  const release = await lock(join(cache, 'lock'));
  try {
    await run(join(root, 'node_modules/.bin/turbo'), ['run', 'build', '--filter=./packages/*', '--output-logs=errors-only'], root, { TURBO_TELEMETRY_DISABLED: '1' });
    const dirs = (await readdir(join(root, 'packages'))).sort().map((name) => join(root, 'packages', name));
    const dir = join(cache, await fingerprint(dirs));
    const index = join(dir, 'packed.json');
    const done = await readFile(index, 'utf8').catch(() => undefined);
    if (done !== undefined) return describe(dir, JSON.parse(done) as PackedPackage[]);
    for (const old of await readdir(cache)) if (old !== 'lock') await rm(join(cache, old), { recursive: true, force: true });
    const scratch = `${dir}.partial`;
    await mkdir(scratch, { recursive: true });
    const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', scratch, ...dirs], root);
    const listed = JSON.parse(stdout) as { name: string; filename: string; files: { path: string }[] }[];
    const packages = listed.map((entry) => ({ name: entry.name, tarball: join(dir, entry.filename), files: entry.files.map((file) => file.path) }));
    await writeFile(join(scratch, 'packed.json'), JSON.stringify(packages, null, 2));
    await rename(scratch, dir);
    console.log(`scripts/packed: packed ${packages.length} packages into ${dir}`);
    return describe(dir, packages);
  } finally {
    await release();
  }
}

function describe(dir: string, packages: PackedPackage[]): Packed {
  return {
    dir,
    packages,
    tarball(name) {
      const found = packages.find((entry) => entry.name === name);
      if (found === undefined) throw new Error(`no tarball for ${name}`);
      return found.tarball;
    },
  };
}

/** A hash of every file `npm pack` could ship from the packages (sources, builds, manifests, templates). */
async function fingerprint(dirs: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name === 'node_modules' || entry.name === '.turbo' || entry.name.endsWith('.tsbuildinfo')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) hash.update(path).update('\0').update(await readFile(path)).update('\0');
    }
  };
  for (const dir of dirs) await walk(dir);
  return hash.digest('hex').slice(0, 16);
}

/**
 * Takes the lock directory, waiting while another live process holds it: the holder's pid is in
 * it, so the lock of a process that died mid-pack is taken over however long packing takes.
 */
async function lock(path: string): Promise<() => Promise<void>> {
  for (;;) {
    try {
      await mkdir(path);
      await writeFile(join(path, 'pid'), String(process.pid));
      return () => rm(path, { recursive: true, force: true });
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(join(path, 'pid'), 'utf8').catch(() => ''));
      const since = await stat(path).then((info) => Date.now() - info.mtimeMs, () => 0);
      // No pid yet: the holder is between mkdir and writeFile, unless that was long ago.
      const dead = holder > 0 ? !alive(holder) : since > STALE_LOCK_MS;
      if (dead) await rm(path, { recursive: true, force: true });
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code === 'EPERM';
  }
}
