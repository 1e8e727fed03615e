/** What a client lost, got twice or out of order, of the numbers `first..last` published to it in order. */
export function tally(seen: readonly number[], first: number, last: number): { lost: number; duplicated: number; reordered: number } {
  let reordered = 0;
  for (let i = 1; i < seen.length; i++) if ((seen[i] as number) <= (seen[i - 1] as number)) reordered++;
  const unique = new Set(seen);
  let lost = 0;
  for (let n = first; n <= last; n++) if (!unique.has(n)) lost++;
  return { lost, duplicated: seen.length - unique.size, reordered };
}
