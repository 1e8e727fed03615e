import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

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

  // Against the workspace's packages: the project's node_modules is this package's, whose
  // dependencies are the template's, linked to their sources. Installing from the published
  // tarballs (npm pack) is the pack-and-install test's job.
  it("generates a project whose typecheck and test pass", () => {
    expect(createHerald(['starter'])).toMatchObject({ code: 0 });
    const project = join(scratch, 'starter');
    symlinkSync(join(packageDir, 'node_modules'), join(project, 'node_modules'), 'dir');
    // The workspace's packages are read from source (their `@herald/source` condition): a
    // fresh clone has no dist until something builds it.
    const tsconfig = JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8'));
    tsconfig.compilerOptions.customConditions = ['@herald/source'];
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
    writeFileSync(
      join(project, 'vitest.config.mjs'),
      "export default { resolve: { conditions: ['@herald/source', 'module', 'node'] }, ssr: { resolve: { conditions: ['@herald/source', 'module', 'node'] } } };\n",
    );
    const tsc = spawnSync(process.execPath, [join(packageDir, 'node_modules/typescript/bin/tsc'), '-p', project], { cwd: project, encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
    const vitest = spawnSync(process.execPath, [join(packageDir, 'node_modules/vitest/vitest.mjs'), 'run'], { cwd: project, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(vitest.status, vitest.stdout + vitest.stderr).toBe(0);
    expect(vitest.stdout).toContain('2 passed');
  }, 120_000);
});
