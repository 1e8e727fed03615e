import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { packed, run } from '../../../scripts/packed/index.ts';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(packageDir, 'bin/create-herald.js');
const scratch = mkdtempSync(join(tmpdir(), 'create-herald-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function createHerald(args: string[], cwd = scratch) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const EXPECTED_FILES = ['.gitignore', 'README.md', 'package.json', 'src/app.ts', 'src/client.ts', 'src/contract.ts', 'src/server.ts', 'test/app.test.ts', 'tsconfig.json'];

describe('create-herald', () => {
  it('prints its usage with --help', () => {
    const result = createHerald(['--help']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('usage: npm create herald@latest <directory>');
  });

  it('refuses a missing directory, extra arguments, unknown options, bad names and non-empty directories', () => {
    expect(createHerald([])).toMatchObject({ code: 1, stderr: expect.stringContaining('missing <directory>') });
    expect(createHerald(['a', 'b'])).toMatchObject({ code: 1, stderr: expect.stringContaining('one directory only') });
    expect(createHerald(['app', '--typescript'])).toMatchObject({ code: 1, stderr: expect.stringContaining("Unknown option '--typescript'") });
    expect(createHerald(['My App'])).toMatchObject({ code: 1, stderr: expect.stringContaining('"My App" is not a valid npm package name') });
    mkdirSync(join(scratch, 'taken'));
    writeFileSync(join(scratch, 'taken', 'keep.txt'), 'mine');
    expect(createHerald(['taken'])).toMatchObject({ code: 1, stderr: 'create-herald: taken exists and is not empty\n' });
    expect(readFileSync(join(scratch, 'taken', 'keep.txt'), 'utf8')).toBe('mine');
    expect(existsSync(join(scratch, 'My App'))).toBe(false);
  });

  it('writes the template with the project name and the Herald version', () => {
    const result = createHerald(['my-app', '--herald-version', '^0.3.0']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('cd my-app');
    for (const file of EXPECTED_FILES) expect(existsSync(join(scratch, 'my-app', file)), file).toBe(true);
    const pkg = JSON.parse(readFileSync(join(scratch, 'my-app', 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'my-app', scripts: { test: 'vitest run', start: 'tsx src/server.ts' } });
    expect(pkg.dependencies['@herald/core']).toBe('^0.3.0');
    expect(pkg.devDependencies['@herald/testing']).toBe('^0.3.0');
    expect(readFileSync(join(scratch, 'my-app', 'README.md'), 'utf8')).toMatch(/^# my-app\n/);
    for (const file of EXPECTED_FILES) expect(readFileSync(join(scratch, 'my-app', file), 'utf8'), file).not.toContain('{{');
  });

  it('creates into an empty existing directory; the dependencies default to latest', () => {
    mkdirSync(join(scratch, 'empty-ok'));
    expect(createHerald(['empty-ok'])).toMatchObject({ code: 0 });
    expect(JSON.parse(readFileSync(join(scratch, 'empty-ok', 'package.json'), 'utf8')).dependencies['@herald/uws']).toBe('latest');
  });

  // As a user gets it: create-herald run from its npm-packed tarball (what `npm create herald`
  // does), and the project installing @herald/* from theirs (`scripts/packed`, shared with the
  // other tests that install tarballs), then running its own typecheck and test.
  it('generates a project that installs from the tarballs and passes its typecheck and test', async () => {
    const { tarball } = await packed();
    const work = join(scratch, 'from-tarballs');
    mkdirSync(work);
    await run('npm', ['exec', '--yes', `--package=${tarball('create-herald')}`, '--', 'create-herald', 'starter'], work);
    const project = join(work, 'starter');
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
    for (const deps of [manifest.dependencies, manifest.devDependencies]) {
      for (const name of Object.keys(deps)) if (name.startsWith('@herald/')) deps[name] = `file:${tarball(name)}`;
    }
    // The template names the GitHub build of uWebSockets.js; only the npm registry is reachable
    // here, so the same npm alias the workspace uses stands in for it.
    expect(manifest.dependencies['uWebSockets.js']).toMatch(/^github:uNetworking\/uWebSockets\.js#v/);
    manifest.dependencies['uWebSockets.js'] = 'npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0';
    writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], project);
    const version = (dir: string): string => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
    expect(version(join(project, 'node_modules/@herald/core'))).toBe(version(join(packageDir, '../core')));
    // installed from the tarball (its dist), not linked to the workspace
    expect(lstatSync(join(project, 'node_modules/@herald/core')).isSymbolicLink()).toBe(false);
    expect(existsSync(join(project, 'node_modules/@herald/core/dist/index.js'))).toBe(true);
    const typecheck = await run('npm', ['run', '--silent', 'typecheck'], project);
    expect(typecheck.stdout + typecheck.stderr).toBe('');
    const test = await run('npm', ['test', '--silent'], project, { CI: 'true' });
    expect(test.stdout).toContain('2 passed');
  }, 6 * 60_000);
});
