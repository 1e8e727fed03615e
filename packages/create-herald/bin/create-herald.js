#!/usr/bin/env node
// @ts-check
// Plain JavaScript, so that `npm create herald` runs it on Node 20 without a build step or a
// TypeScript loader; the repository's typecheck checks it (checkJs).
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm create herald@latest <directory> [-- --herald-version <range>]
       create-herald <directory> [--herald-version <range>]

Creates a Herald project in <directory> (which must not exist, or be empty): a contract, a
server on uWebSockets.js, a typed client and a vitest test. The project is named after the
directory, which must therefore be a valid npm package name (lowercase, no spaces).

  --herald-version <range>  the version range of the @herald/* dependencies (default: latest)
  -h, --help                this text`;

const TEMPLATE = fileURLToPath(new URL('../template/', import.meta.url));
/** Files npm would rename or leave out of a published package, stored under another name. */
const RENAMED = new Map([['gitignore', '.gitignore']]);
const NAME = /^[a-z0-9~-][a-z0-9._~-]*$/;

/**
 * Writes the template into `directory`, with the project's name and the Herald version range.
 * Returns the files written, relative to `directory`.
 *
 * @param {string} directory
 * @param {{ heraldVersion?: string }} [options]
 * @returns {string[]}
 */
export function createProject(directory, options = {}) {
  const target = resolve(directory);
  const name = basename(target);
  if (!NAME.test(name) || name.length > 214) {
    throw new UsageError(`"${name}" is not a valid npm package name: use lowercase letters, digits, "-", "." or "_"`);
  }
  if (existsSync(target) && readdirSync(target).length > 0) throw new UsageError(`${directory} exists and is not empty`);
  const values = { name, herald: options.heraldVersion ?? 'latest' };
  const written = [];
  for (const file of listFiles(TEMPLATE)) {
    const out = join(target, dirname(file), RENAMED.get(basename(file)) ?? basename(file));
    mkdirSync(dirname(out), { recursive: true });
    const text = readFileSync(join(TEMPLATE, file), 'utf8');
    writeFileSync(out, text.replace(/\{\{(name|herald)\}\}/g, (_, key) => values[/** @type {'name' | 'herald'} */ (key)]));
    written.push(relative(target, out));
  }
  return written.sort();
}

export class UsageError extends Error {}

/** @param {string} dir @returns {string[]} */
function listFiles(dir, prefix = '') {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(dir, join(prefix, entry.name)) : [join(prefix, entry.name)],
  );
}

/** @param {string[]} args @returns {number} */
export function main(args) {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' }, 'herald-version': { type: 'string' } } });
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n\n${USAGE}`);
    return 1;
  }
  if (parsed.values.help === true) {
    console.log(USAGE);
    return 0;
  }
  const [directory, ...extra] = parsed.positionals;
  if (directory === undefined || extra.length > 0) {
    console.error(`${directory === undefined ? 'missing <directory>' : `one directory only, not ${parsed.positionals.join(' ')}`}\n\n${USAGE}`);
    return 1;
  }
  try {
    const heraldVersion = parsed.values['herald-version'];
    const files = createProject(directory, heraldVersion === undefined ? {} : { heraldVersion });
    console.log(`created ${directory}: ${files.join(', ')}\n\nnext:\n  cd ${directory}\n  npm install\n  npm test\n  npm start`);
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`create-herald: ${error.message}`);
    return 1;
  }
}

// Run as a command (npm's bin link is a symlink to this file), not when imported.
if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url))) {
  process.exitCode = main(process.argv.slice(2));
}
