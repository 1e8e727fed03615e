/**
 * The READMEs' examples compile and their links lead somewhere.
 *
 * Conventions for a README's ```ts blocks (root README.md, packages/* and apps/*):
 *
 * - Every block is a complete module: it imports what it uses and defines what it calls.
 * - A block whose first line is a comment naming a file (`// contract.ts`, `// server.ts — run
 *   with …`) is written under that name, so a later block of the same README can import it
 *   (`import { chat } from './contract.ts'`). Other blocks are written as `block-<line>.ts`.
 * - A block preceded by the line `<!-- continues -->` is appended to the previous block of the
 *   same README and shares its scope (for prose between two halves of one example).
 * - `Bun` and `Deno` are declared here (`runtime-globals.d.ts`) as far as the examples use
 *   them, since their type packages are not installed; everything else is the real types.
 *
 * The blocks of every README are written into `.examples/<readme>/` inside this package, so
 * `@herald/*` resolves to the workspace's sources, and typechecked in one program with the
 * repository's strict base tsconfig, less `exactOptionalPropertyTypes` (which applications seldom
 * turn on, and which `@hono/node-server`'s types do not satisfy). An error is reported as the
 * README and the line it is on.
 *
 * The root README's hello world (`server.ts`, `client.ts`) also runs: the server in one process,
 * the client in another (Node 20 with `--experimental-websocket` for the global WebSocket),
 * on a free port written over its 9090, until the client has printed its request's answer and
 * the broadcast.
 *
 * Links: every relative Markdown link in the READMEs and PROTOCOL.md, and every inline-code
 * path into the repository (`apps/demo/src/main.ts`, or `test/x.test.ts` beside a package's
 * README), must name a file or folder that exists; a `#fragment` must name a heading.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@herald/testing/node';
import ts from 'typescript';
import { afterEach, describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const examplesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../.examples');

function readmes(): string[] {
  const found = ['README.md'];
  for (const group of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, group)).sort()) {
      const path = join(group, name, 'README.md');
      if (existsSync(join(root, path))) found.push(path);
    }
  }
  return found;
}

interface Block {
  readonly readme: string;
  /** 1-based line in the README of the block's first line of code. */
  readonly line: number;
  readonly code: string[];
  readonly continues: boolean;
}

function tsBlocks(readme: string): Block[] {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\w*)/.exec(lines[i] ?? '');
    if (fence === null) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && !(lines[end] ?? '').startsWith('```')) end++;
    if (fence[1] === 'ts' || fence[1] === 'typescript') {
      let previous = start - 1;
      while (previous >= 0 && (lines[previous] ?? '').trim() === '') previous--;
      const continues = (lines[previous] ?? '').trim() === '<!-- continues -->';
      blocks.push({ readme, line: start + 2, code: lines.slice(start + 1, end), continues });
    }
    i = end;
  }
  return blocks;
}

interface Generated {
  readonly path: string;
  readonly lines: string[];
  /** README line of each generated line. */
  readonly origin: number[];
  readonly readme: string;
}

function slug(readme: string): string {
  return readme === 'README.md' ? 'root' : dirname(readme).replace('/', '-');
}

function writeExamples(): Generated[] {
  rmSync(examplesDir, { recursive: true, force: true });
  mkdirSync(examplesDir, { recursive: true });
  const files: Generated[] = [];
  for (const readme of readmes()) {
    const dir = join(examplesDir, slug(readme));
    let previous: Generated | undefined;
    for (const block of tsBlocks(readme)) {
      if (block.continues) {
        if (previous === undefined) throw new Error(`${readme}:${block.line}: <!-- continues --> before the first block`);
        previous.lines.push(...block.code);
        previous.origin.push(...block.code.map((_, index) => block.line + index));
        continue;
      }
      const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(block.code[0] ?? '');
      const path = join(dir, named?.[1] ?? `block-${block.line}.ts`);
      if (files.some((file) => file.path === path)) throw new Error(`${readme}:${block.line}: a second block named ${named?.[1]}`);
      previous = { path, lines: [...block.code], origin: block.code.map((_, index) => block.line + index), readme };
      files.push(previous);
    }
  }
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    writeFileSync(file.path, file.lines.join('\n') + '\n');
  }
  writeFileSync(
    join(examplesDir, 'runtime-globals.d.ts'),
    [
      'declare const Bun: { serve(options: { fetch: (request: Request, server: any) => unknown; websocket?: unknown; port?: number }): { port: number } };',
      'declare const Deno: { serve(options: { port?: number }, handler: (request: Request) => Response | Promise<Response>): unknown };',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(examplesDir, 'tsconfig.json'),
    JSON.stringify({ extends: '@herald/tsconfig/base.json', compilerOptions: { lib: ['ES2023', 'DOM'], types: ['node'], exactOptionalPropertyTypes: false }, include: ['**/*.ts'] }, null, 2),
  );
  return files;
}

describe('README examples', () => {
  it('typecheck, each README on its own', () => {
    const files = writeExamples();
    expect(files.length).toBeGreaterThan(20);
    const configPath = join(examplesDir, 'tsconfig.json');
    const config = ts.getParsedCommandLineOfConfigFile(configPath, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n')); } });
    if (config === undefined) throw new Error('no tsconfig');
    const program = ts.createProgram({ rootNames: config.fileNames, options: config.options });
    const byPath = new Map(files.map((file) => [resolve(file.path), file]));
    const errors = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      if (diagnostic.file === undefined || diagnostic.start === undefined) return message;
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      const file = byPath.get(resolve(diagnostic.file.fileName));
      if (file === undefined) return `${relative(root, diagnostic.file.fileName)}:${line + 1}: ${message}`;
      return `${file.readme}:${file.origin[line] ?? '?'}: ${message}`;
    });
    expect(errors).toEqual([]);
  }, 120_000);
});

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

/** Runs a TypeScript file with tsx; `output()` is what it has printed so far, both streams. */
function run(file: string, nodeFlags: string[] = []) {
  const child = spawn(process.execPath, [...nodeFlags, '--conditions=@herald/source', '--import', 'tsx', file], { cwd: dirname(file), stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { output: () => output, exited };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

async function until(condition: () => boolean, describe: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the root README's hello world", () => {
  it('runs: a typed request answered, its broadcast received', async () => {
    writeExamples();
    const dir = join(examplesDir, 'root');
    const port = await freePort();
    for (const name of ['server.ts', 'client.ts']) {
      const path = join(dir, name);
      const text = readFileSync(path, 'utf8');
      expect(text, name).toContain('9090');
      writeFileSync(path, text.replaceAll('9090', String(port)));
    }
    const server = run(join(dir, 'server.ts'));
    // the server prints nothing: it is up when its port takes connections
    const deadline = Date.now() + 60_000;
    while (!(await accepts(port))) {
      if (Date.now() > deadline || server.output() !== '') throw new Error(`server on ${port} did not start: ${server.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(server.output()).toBe('');
    const client = run(join(dir, 'client.ts'), ['--experimental-websocket', '--no-warnings']);
    await until(
      () => client.output().includes('sent as 1') && client.output().includes('everyone got hello'),
      () => `client output: ${client.output()}; server output: ${server.output()}`,
    );
  }, 120_000);
});

const headingSlug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

function headings(path: string): Set<string> {
  const text = readFileSync(path, 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  return new Set([...text.matchAll(/^#+\s+(.+)$/gm)].map((match) => headingSlug(match[1] ?? '')));
}

/** Text outside fenced blocks, line by line, so links in code samples are not checked. */
function proseLines(path: string): Array<[number, string]> {
  const out: Array<[number, string]> = [];
  let fenced = false;
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((text, index) => {
      if (text.startsWith('```')) fenced = !fenced;
      else if (!fenced) out.push([index + 1, text]);
    });
  return out;
}

describe('README and PROTOCOL.md links', () => {
  for (const document of [...readmes(), 'PROTOCOL.md']) {
    it(`${document}: every relative link and repository path exists`, () => {
      const base = dirname(join(root, document));
      const dead: string[] = [];
      for (const [line, text] of proseLines(join(root, document))) {
        for (const match of text.matchAll(/\]\(([^)\s]+)\)/g)) {
          const target = match[1] ?? '';
          if (/^[a-z]+:/i.test(target)) continue;
          const [file = '', fragment] = target.split('#');
          const path = file === '' ? join(root, document) : resolve(base, file);
          if (!existsSync(path)) dead.push(`${document}:${line}: ${target}`);
          else if (fragment !== undefined && statSync(path).isFile() && path.endsWith('.md') && !headings(path).has(fragment)) {
            dead.push(`${document}:${line}: ${target} (no such heading)`);
          }
        }
        for (const match of text.matchAll(/`([^`\s]+)`/g)) {
          const token = match[1] ?? '';
          const fromRoot = /^(apps|packages|tooling|scripts|docs)\/[\w./-]+$/.test(token);
          const fromHere = /^(src|test|bench|bin)\/[\w./-]+\.\w+$/.test(token);
          if (!fromRoot && !fromHere) continue;
          if (!existsSync(fromRoot ? join(root, token) : join(base, token))) dead.push(`${document}:${line}: \`${token}\``);
        }
      }
      expect(dead).toEqual([]);
    });
  }
});
