/**
 * Who is connecting, behind proxies the operator trusts: the peer's address, or, when the peer
 * is a trusted proxy, the rightmost hop of the forwarding header that is not one. Every limiter
 * and every log line keys on this address. Runtime-neutral: addresses are parsed here, not by
 * Node's `net`.
 */

/** Which header a trusted proxy states the client in: the one it sets (the other passes through from the client untouched). */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

/** An address or CIDR block as 16 bytes (IPv4 as IPv4-mapped IPv6) and a prefix length over them. */
interface Block {
  readonly bytes: Uint8Array;
  readonly bits: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseIpv4(text: string): number[] | undefined {
  const match = IPV4.exec(text);
  if (match === null) return undefined;
  const octets = match.slice(1).map(Number);
  return octets.every((o) => o <= 255) ? octets : undefined;
}

/** An IPv4 or IPv6 address (no brackets, no port; a zone `%eth0` is dropped) as 16 bytes. */
export function parseAddress(text: string): Uint8Array | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  const address = text.replace(/%[\w.-]+$/, '');
  if (!/^[0-9A-Fa-f:.]+$/.test(address) || address.length > 45) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (half: string | undefined): number[] | undefined => {
    if (half === undefined || half === '') return [];
    const out: number[] = [];
    const parts = half.split(':');
    for (const [i, part] of parts.entries()) {
      const tail = i === parts.length - 1 ? parseIpv4(part) : undefined;
      if (tail !== undefined) out.push((tail[0]! << 8) | tail[1]!, (tail[2]! << 8) | tail[3]!);
      else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) out.push(parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = groups(halves[1]);
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function parseBlock(entry: string): Block | undefined {
  const [address = '', prefix, extra] = entry.trim().split('/');
  const bytes = parseAddress(address);
  if (bytes === undefined || extra !== undefined) return undefined;
  const v4 = parseIpv4(address) !== undefined;
  const max = v4 ? 32 : 128;
  if (prefix === undefined) return { bytes, bits: 128 };
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max) return undefined;
  return { bytes, bits: Number(prefix) + (v4 ? 96 : 0) };
}

function inBlock(bytes: Uint8Array, block: Block): boolean {
  for (let bit = 0; bit < block.bits; bit += 8) {
    const mask = 0xff << (8 - Math.min(8, block.bits - bit)) & 0xff;
    if (((bytes[bit / 8]! ^ block.bytes[bit / 8]!) & mask) !== 0) return false;
  }
  return true;
}

/**
 * Whether an address is one of the trusted proxies. Throws, at server start, on an entry that
 * is neither an address nor a CIDR block.
 */
export function proxyMatcher(trusted: readonly string[]): (address: string) => boolean {
  const blocks = trusted.map((entry) => {
    const block = parseBlock(entry);
    if (block === undefined) {
      throw new Error(`@herald/core: trustProxy entry ${JSON.stringify(entry)} is not an IPv4/IPv6 address or CIDR block (e.g. '10.0.0.0/8', 'fd00::/8')`);
    }
    return block;
  });
  return (address) => {
    const bytes = parseAddress(address);
    return bytes !== undefined && blocks.some((block) => inBlock(bytes, block));
  };
}

/** One hop as a forwarding header writes it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:5678`. */
function hopAddress(hop: string): string | undefined {
  let text = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed !== null) text = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(text)) text = text.slice(0, text.indexOf(':'));
  return parseAddress(text) === undefined ? undefined : text;
}

/** The `for=` of each element of an RFC 7239 `Forwarded` header, in order; undefined where an element has none. */
function forwardedFor(header: string): Array<string | undefined> {
  return header.split(',').map((element) => {
    for (const pair of element.split(';')) {
      const at = pair.indexOf('=');
      if (at === -1 || pair.slice(0, at).trim().toLowerCase() !== 'for') continue;
      const value = pair.slice(at + 1).trim();
      return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
    }
    return undefined;
  });
}

/** What a request tells of where it came from. `UpgradeRequest` fits. */
export interface RequestOrigin {
  /** The TCP peer. */
  readonly remoteAddress?: string | undefined;
  /** The source a PROXY protocol header from the peer stated, where the transport reads one (uWS). */
  readonly proxiedAddress?: string | undefined;
  readonly headers: { get(name: string): string | null };
}

/**
 * The client's address: the peer itself unless it is a trusted proxy; then, walking the hops
 * from the right (the PROXY protocol source, then the header's hops), the first that is not a
 * trusted proxy (the leftmost if all are). A hop that is not an address (garbage, `unknown`, an
 * obfuscated `_id`) ends the walk at the peer: a proxy wrote nonsense, and guessing would let a
 * client choose its own bucket.
 *
 * @example
 * const trusted = proxyMatcher(['10.0.0.0/8']);
 * const headers = new Headers({ 'x-forwarded-for': '203.0.113.7, 10.0.0.9' });
 * clientAddress({ remoteAddress: '10.0.0.5', headers }, trusted, 'x-forwarded-for'); // '203.0.113.7'
 */
export function clientAddress(request: RequestOrigin, trusted: (address: string) => boolean, header: ForwardedHeader): string | undefined {
  const peer = request.remoteAddress;
  if (peer === undefined || !trusted(peer)) return peer;
  const value = request.headers.get(header);
  const hops: Array<string | undefined> = value === null ? [] : header === 'forwarded' ? forwardedFor(value) : value.split(',');
  const proxied = request.proxiedAddress;
  if (proxied !== undefined && proxied !== '') hops.push(proxied);
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i];
    const address = hop === undefined ? undefined : hopAddress(hop);
    if (address === undefined) return peer;
    client = address;
    if (!trusted(address)) return address;
  }
  return client;
}
