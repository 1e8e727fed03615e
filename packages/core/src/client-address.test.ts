import { describe, expect, it } from 'vitest';
import { clientAddress, parseAddress, proxyMatcher, type ForwardedHeader } from './client-address.ts';

const trusted = proxyMatcher(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1']);

function client(remoteAddress: string | undefined, headers: Record<string, string>, header: ForwardedHeader = 'x-forwarded-for'): string | undefined {
  return clientAddress({ remoteAddress, headers: new Headers(headers) }, trusted, header);
}

describe('parseAddress', () => {
  it.each([
    ['1.2.3.4', [1, 2, 3, 4]],
    ['::ffff:1.2.3.4', [1, 2, 3, 4]],
    ['0000:0000:0000:0000:0000:ffff:0102:0304', [1, 2, 3, 4]],
  ])('reads %s as the IPv4 address it is', (text, v4) => {
    expect([...(parseAddress(text) ?? []).slice(12)]).toEqual(v4);
    expect([...(parseAddress(text) ?? []).slice(10, 12)]).toEqual([0xff, 0xff]);
  });

  it('reads compressed, full and zoned IPv6 alike', () => {
    const expected = [0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1];
    for (const text of ['2001:db8::1', '2001:0DB8:0:0:0:0:0:1', '2001:db8::1%eth0']) expect([...parseAddress(text)!]).toEqual(expected);
    expect([...parseAddress('::')!]).toEqual(new Array(16).fill(0));
  });

  it.each(['', 'unknown', '256.1.1.1', '1.2.3', '1.2.3.4.5', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '::1.2.3', '[::1]'])(
    'refuses %j',
    (text) => expect(parseAddress(text)).toBeUndefined(),
  );
});

describe('proxyMatcher', () => {
  it('matches addresses and CIDR blocks, IPv4 in any notation', () => {
    expect(trusted('127.0.0.1')).toBe(true);
    expect(trusted('::ffff:127.0.0.1')).toBe(true);
    expect(trusted('127.0.0.2')).toBe(false);
    expect(trusted('10.255.0.1')).toBe(true);
    expect(trusted('11.0.0.1')).toBe(false);
    expect(trusted('fd12:3456::1')).toBe(true);
    expect(trusted('fe80::1')).toBe(false);
    expect(trusted('::1')).toBe(true);
    expect(trusted('garbage')).toBe(false);
  });

  it('matches prefixes that end inside a byte', () => {
    const matcher = proxyMatcher(['192.168.4.0/22', '2001:db8:8000::/33']);
    expect(matcher('192.168.7.255')).toBe(true);
    expect(matcher('192.168.8.0')).toBe(false);
    expect(matcher('2001:db8:ffff::1')).toBe(true);
    expect(matcher('2001:db8:7fff::1')).toBe(false);
  });

  it.each(['10.0.0.0/33', '::/129', 'localhost', '10.0.0.0/8/8', '10.0.0.0/', '10.0.0.0/x'])('refuses the entry %j at start', (entry) => {
    expect(() => proxyMatcher([entry])).toThrow(/trustProxy entry .* is not an IPv4\/IPv6 address or CIDR block/);
  });
});

describe('clientAddress', () => {
  it('ignores the header from a peer that is not a trusted proxy (spoofing)', () => {
    expect(client('203.0.113.9', { 'x-forwarded-for': '198.51.100.1' })).toBe('203.0.113.9');
    expect(client('203.0.113.9', { forwarded: 'for=198.51.100.1' }, 'forwarded')).toBe('203.0.113.9');
  });

  it('takes the hop a trusted proxy saw', () => {
    expect(client('127.0.0.1', { 'x-forwarded-for': '198.51.100.1' })).toBe('198.51.100.1');
  });

  it('takes the rightmost untrusted hop of a chain, not what the client wrote on the left', () => {
    expect(client('10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 198.51.100.1, 10.0.0.7' })).toBe('198.51.100.1');
  });

  it('takes the leftmost hop when every hop is a trusted proxy', () => {
    expect(client('10.0.0.2', { 'x-forwarded-for': '10.0.0.9 , 10.0.0.7' })).toBe('10.0.0.9');
  });

  it('keeps the peer without a header', () => {
    expect(client('127.0.0.1', {})).toBe('127.0.0.1');
    expect(client(undefined, { 'x-forwarded-for': '198.51.100.1' })).toBeUndefined();
  });

  it('reads hops with ports and IPv6 hops, bracketed or not', () => {
    expect(client('::1', { 'x-forwarded-for': '2001:db8::7' })).toBe('2001:db8::7');
    expect(client('::1', { 'x-forwarded-for': '[2001:db8::7]:4711' })).toBe('2001:db8::7');
    expect(client('::1', { 'x-forwarded-for': '198.51.100.1:4711' })).toBe('198.51.100.1');
    expect(client('0000:0000:0000:0000:0000:ffff:7f00:0001', { 'x-forwarded-for': '198.51.100.1' })).toBe('198.51.100.1');
  });

  it.each(['garbage', '', ' , ', '198.51.100.1, not-an-ip', '1.2.3.4.5', '[2001:db8::7', 'x'.repeat(10_000)])(
    'falls back to the peer on the malformed header %j',
    (value) => expect(client('127.0.0.1', { 'x-forwarded-for': value })).toBe('127.0.0.1'),
  );

  it('reads RFC 7239 Forwarded: for= in any case, quoted, with ports and other parameters', () => {
    expect(client('127.0.0.1', { forwarded: 'for=198.51.100.1' }, 'forwarded')).toBe('198.51.100.1');
    expect(client('127.0.0.1', { forwarded: 'For="[2001:db8:cafe::17]:4711"' }, 'forwarded')).toBe('2001:db8:cafe::17');
    expect(client('127.0.0.1', { forwarded: 'for=6.6.6.6, proto=https;for="198.51.100.1:80";by=10.0.0.1, for=10.0.0.3' }, 'forwarded')).toBe('198.51.100.1');
  });

  it.each(['for=unknown', 'for=_hidden', 'proto=https', 'for=', 'for="', ';;;,,'])('falls back to the peer on the Forwarded header %j', (value) => {
    expect(client('127.0.0.1', { forwarded: value }, 'forwarded')).toBe('127.0.0.1');
  });

  it('reads only the configured header: the other one is the client speaking', () => {
    expect(client('127.0.0.1', { forwarded: 'for=6.6.6.6', 'x-forwarded-for': '198.51.100.1' })).toBe('198.51.100.1');
    expect(client('127.0.0.1', { forwarded: 'for=198.51.100.1', 'x-forwarded-for': '6.6.6.6' }, 'forwarded')).toBe('198.51.100.1');
  });

  it('takes the source of a PROXY protocol header from a trusted peer only, before the forwarding header', () => {
    const proxied = (remoteAddress: string, proxiedAddress: string, forwarded?: string) =>
      clientAddress({ remoteAddress, proxiedAddress, headers: new Headers(forwarded === undefined ? {} : { 'x-forwarded-for': forwarded }) }, trusted, 'x-forwarded-for');
    expect(proxied('10.0.0.2', '198.51.100.1')).toBe('198.51.100.1');
    expect(proxied('203.0.113.9', '198.51.100.1')).toBe('203.0.113.9');
    expect(proxied('10.0.0.2', '198.51.100.1', '6.6.6.6')).toBe('198.51.100.1');
    expect(proxied('10.0.0.2', '10.0.0.3', '198.51.100.1')).toBe('198.51.100.1');
    expect(proxied('10.0.0.2', '')).toBe('10.0.0.2');
  });
});
