import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const packageDir = resolve(import.meta.dirname, '..');
const load = (...args: string[]) => run(process.execPath, ['--conditions=@herald/source', '--import', 'tsx', 'src/load-cli.ts', ...args], { cwd: packageDir });

describe('the herald-load command', () => {
  it('prints its usage for --help and exits 0', async () => {
    const { stdout, stderr } = await load('--help');
    expect(stdout).toContain('usage: herald-load <ws-url> --type <request type>');
    expect(stderr).toBe('');
  });

  it.each([
    ['an unknown option', ['ws://127.0.0.1:1/ws', '--type', 'a.B', '--clinets', '5'], /Unknown option '--clinets'/],
    ['no --type', ['ws://127.0.0.1:1/ws'], /expected a URL and at least one --type/],
    ['no URL', ['--type', 'a.B'], /expected a URL and at least one --type/],
    ['a count that is not a number', ['ws://127.0.0.1:1/ws', '--type', 'a.B', '--clients', 'many'], /--clients must be a positive number, got "many"/],
    ['a body that is not JSON', ['ws://127.0.0.1:1/ws', '--type', 'a.B', '--body', '{room'], /--body is not JSON: \{room/],
  ])('refuses %s with the usage on stderr and exit code 2', async (_, args, message) => {
    const failure = await load(...args).then(
      () => undefined,
      (error: unknown) => error as { code: number; stdout: string; stderr: string },
    );
    expect(failure).toMatchObject({ code: 2, stdout: '' });
    expect(failure?.stderr).toMatch(message);
    expect(failure?.stderr).toContain('usage: herald-load');
  });
});
