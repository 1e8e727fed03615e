/**
 * The inspector's own credential: a bearer token in `Authorization`, never in the URL, compared
 * in time that depends only on the configured token's length.
 */

/** Shorter tokens are refused when the inspector is created: a guessable token is no credential. */
export const MIN_TOKEN_LENGTH = 16;

const encoder = new TextEncoder();

/** Checks `Authorization: Bearer <token>` headers against one configured token. */
export class BearerCredential {
  private readonly expected: Uint8Array;

  constructor(token: string) {
    if (typeof token !== 'string' || token.length < MIN_TOKEN_LENGTH) {
      throw new TypeError(`createInspector: token must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
    }
    this.expected = encoder.encode(token);
  }

  /** Whether the header carries the token. */
  admits(authorization: string | null): boolean {
    if (authorization === null || !/^bearer /i.test(authorization)) return false;
    const given = encoder.encode(authorization.slice(7).trim());
    const expected = this.expected;
    // Every byte of the expected token is compared whatever the given one holds.
    let difference = given.length ^ expected.length;
    for (let i = 0; i < expected.length; i++) difference |= (expected[i] as number) ^ (given[i] ?? 0);
    return difference === 0;
  }
}
