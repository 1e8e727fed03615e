/**
 * Retries an assertion until it passes or `timeoutMs` runs out, then throws its last failure:
 * for expectations about things another process or socket delivers in its own time.
 *
 * @example
 * await eventually(() => expect(received).toEqual([1, 2, 3]));
 */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 5000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}
