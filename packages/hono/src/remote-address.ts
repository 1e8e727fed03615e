/**
 * The peer's address of a request, from what each runtime hands Hono as `c.env`: Node's
 * `IncomingMessage` (`@hono/node-server`), Bun's server (`requestIP`), Deno's `ServeHandlerInfo`
 * (`remoteAddr`). Undefined elsewhere: the server then has no per-address limit for it.
 */
interface RuntimeEnv {
  readonly incoming?: { readonly socket?: { readonly remoteAddress?: string } };
  requestIP?(request: Request): { readonly address: string } | null;
  readonly remoteAddr?: { readonly hostname?: string };
}

export function remoteAddress(env: unknown, request: Request): string | undefined {
  const runtime = env as RuntimeEnv | undefined;
  if (runtime === undefined || runtime === null) return undefined;
  const node = runtime.incoming?.socket?.remoteAddress;
  if (node !== undefined) return node;
  if (typeof runtime.requestIP === 'function') return runtime.requestIP(request)?.address ?? undefined;
  return runtime.remoteAddr?.hostname;
}
