import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { asyncApiDocument } from '../src/index.ts';
import { contactCenter } from './fixtures/contact-center-contract.ts';

const run = promisify(execFile);
const packageDir = resolve(import.meta.dirname, '..');
const generate = (...args: string[]) => run(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/cli.ts', ...args], { cwd: packageDir, env: { ...process.env, INIT_CWD: packageDir } });

describe('the herald-asyncapi command (the generate script)', () => {
  const dirs: string[] = [];
  afterAll(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('writes asyncapi.json and docs.html for an exported contract', async () => {
    const out = await mkdtemp(join(tmpdir(), 'herald-asyncapi-'));
    dirs.push(out);
    const { stdout } = await generate('test/fixtures/contact-center-contract.ts', 'contactCenter', '--out', out, '--title', 'Agent API', '--version', '3.1.0', '--url', 'wss://api.example.com/ws');
    expect(stdout).toContain(join(out, 'asyncapi.json'));
    const document = JSON.parse(await readFile(join(out, 'asyncapi.json'), 'utf8'));
    expect(document).toEqual(JSON.parse(JSON.stringify(asyncApiDocument(contactCenter, { title: 'Agent API', version: '3.1.0', url: 'wss://api.example.com/ws' }))));
    const page = await readFile(join(out, 'docs.html'), 'utf8');
    expect(page).toContain('<h1>Agent API</h1>');
    expect(page).toContain('<a href="asyncapi.json">AsyncAPI document</a>');
  });

  it('refuses an export that is not a contract, and missing arguments', async () => {
    await expect(generate('test/fixtures/contact-center-contract.ts', 'ringStates')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('exports no contract named ringStates') });
    await expect(generate('test/fixtures/contact-center-contract.ts')).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('usage: herald-asyncapi') });
  });

  it('prints its usage for --help (exit 0) and refuses an unknown flag with the usage on stderr (exit 2)', async () => {
    const help = await generate('--help');
    expect(help.stdout).toContain('usage: herald-asyncapi <module-with-contract> <exported-name>');
    expect(help.stderr).toBe('');
    await expect(generate('test/fixtures/contact-center-contract.ts', 'contactCenter', '--outdir', 'x')).rejects.toMatchObject({
      code: 2,
      stdout: '',
      stderr: expect.stringMatching(/Unknown option '--outdir'[\s\S]*usage: herald-asyncapi/),
    });
  });
});
