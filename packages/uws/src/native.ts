/**
 * Loads uWebSockets.js and refuses its JavaScript fallback. The loader of some builds quietly
 * falls back to a pure-JS implementation when the native binary cannot load; that one is
 * several times slower and would falsify every figure, so Herald will not run on it.
 */
import { createRequire } from 'node:module';
import type * as UWS from 'uWebSockets.js';

export type UwsModule = typeof UWS;

/** True when `uws` is the native addon, not a JS stand-in. */
export function isNative(uws: UwsModule): boolean {
  const app = (uws as { App?: unknown }).App;
  const getParts = (uws as { getParts?: unknown }).getParts;
  return (
    typeof app === 'function' &&
    typeof getParts === 'function' &&
    /\{\s*\[native code\]\s*\}/.test(Function.prototype.toString.call(app))
  );
}

/** Throws with the reason and the fix when `uws` is not the native addon. */
export function assertNative(uws: UwsModule): UwsModule {
  if (!isNative(uws)) {
    throw new Error(
      '@herald/uws: uWebSockets.js loaded its JavaScript fallback, not the native binary ' +
        `(node ${process.version}, ABI ${process.versions.modules}, ${process.platform}-${process.arch}). ` +
        'Install a uWebSockets.js build for this Node.js and platform; Herald refuses to run on the fallback.',
    );
  }
  return uws;
}

/** The native uWebSockets.js module, or a clear error. `load` resolves the module (a test seam). */
export function loadUws(load: () => unknown = () => createRequire(import.meta.url)('uWebSockets.js')): UwsModule {
  const previous = process.env['UWS_USE_FALLBACK'];
  if (previous !== undefined && /^(1|true)$/i.test(previous)) {
    throw new Error('@herald/uws: UWS_USE_FALLBACK is set; Herald refuses to run on the JavaScript fallback of uWebSockets.js.');
  }
  let uws: UwsModule;
  try {
    uws = load() as UwsModule;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new Error(
      '@herald/uws: uWebSockets.js is not installed. It is not on the npm registry under that name: install a build ' +
        'for your Node.js, e.g. `npm install uWebSockets.js@github:uNetworking/uWebSockets.js#v20.52.0`, or an npm alias ' +
        'such as `npm install uWebSockets.js@npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0` (Node 20).',
      { cause: error },
    );
  }
  return assertNative(uws);
}
