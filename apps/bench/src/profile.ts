/**
 * CPU profiles of a server (`--profile=<server>`): the server is bundled with esbuild (not
 * minified, names kept, a source map beside it) and run with `node --cpu-prof`; the profile's
 * self time is then summed per function and mapped back to the TypeScript source line.
 * (Under tsx every file is one line of minified code, so a profile of it says little.)
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { build } from 'esbuild';
import { APP_DIR } from './proc.ts';

/** Bundles a server entry (workspace packages inlined, npm packages left external). */
export async function bundleForProfile(entry: string, outFile: string): Promise<void> {
  await build({
    entryPoints: [resolve(APP_DIR, entry)],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    conditions: ['@herald/source'],
    format: 'esm',
    target: 'node20',
    sourcemap: 'external',
    keepNames: true,
    logLevel: 'error',
    plugins: [
      {
        name: 'external-npm',
        setup(b) {
          b.onResolve({ filter: /^[^./]/ }, (args) => (args.path.startsWith('@herald/') ? undefined : { path: args.path, external: true }));
        },
      },
    ],
  });
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Per generated line: segments [generatedColumn, sourceIndex, sourceLine] (0-based). */
function decodeMappings(mappings: string): number[][][] {
  const lines: number[][][] = [];
  let sourceIndex = 0;
  let sourceLine = 0;
  let sourceColumn = 0;
  for (const line of mappings.split(';')) {
    const segments: number[][] = [];
    let column = 0;
    for (const segment of line.split(',')) {
      if (segment === '') continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = B64.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >>> 1) : value >>> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0] ?? 0;
      if (values.length >= 4) {
        sourceIndex += values[1] as number;
        sourceLine += values[2] as number;
        sourceColumn += values[3] as number;
        segments.push([column, sourceIndex, sourceLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

interface SourceMap {
  readonly sources: string[];
  readonly mappings: string;
}

function sourceMapper(bundle: string): (line: number, column: number) => string | undefined {
  let map: SourceMap;
  try {
    map = JSON.parse(readFileSync(bundle + '.map', 'utf8')) as SourceMap;
  } catch {
    return () => undefined;
  }
  const lines = decodeMappings(map.mappings);
  const root = resolve(APP_DIR, '../..');
  return (line, column) => {
    const segments = lines[line];
    if (segments === undefined || segments.length === 0) return undefined;
    let best = segments[0] as number[];
    for (const segment of segments) {
      if ((segment[0] as number) > column) break;
      best = segment;
    }
    const source = map.sources[best[1] as number];
    if (source === undefined) return undefined;
    return `${relative(root, resolve(dirname(bundle), source))}:${(best[2] as number) + 1}`;
  };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}

export interface ProfileSummary {
  /** Share of samples that were not idle. */
  readonly busyPercent: number;
  readonly top: Array<{ name: string; selfPercent: number }>;
}

/** Self time per function over one or more profiles (one per run), as a share of the busy (non-idle) samples, top `n`. */
export function summarizeProfiles(files: readonly string[], bundle: string, n = 25): ProfileSummary {
  const where = sourceMapper(bundle);
  const bundleUrl = `file://${bundle}`;
  const self = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (node === undefined) return;
    total += dt;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    if (functionName === '(idle)') return;
    busy += dt;
    let at = '';
    if (url === bundleUrl) at = ` ${where(lineNumber, columnNumber) ?? `bundle:${lineNumber + 1}`}`;
    else if (url !== '') at = ` ${url.replace(/^file:\/\/.*\/node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '').replace(/^node:internal\//, 'node:')}:${lineNumber + 1}`;
    const name = `${functionName || '(anonymous)'}${at}`;
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  }
  return {
    busyPercent: total === 0 ? 0 : (100 * busy) / total,
    top: [...self.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, t]) => ({ name, selfPercent: busy === 0 ? 0 : (100 * t) / busy })),
  };
}
