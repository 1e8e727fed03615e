const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * A random base64url string of `length` characters from the Web Crypto CSPRNG
 * (6 bits each: 22 characters carry 132 bits, enough for unguessable session ids).
 */
export function randomId(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let id = '';
  for (let i = 0; i < length; i++) id += ALPHABET[(bytes[i] as number) & 63];
  return id;
}
