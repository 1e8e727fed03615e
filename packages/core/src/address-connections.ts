/**
 * Connections open from each remote address, for `maxConnectionsPerAddress`. An address is
 * forgotten when its last connection ends, so memory follows the addresses connected now.
 */
export class AddressConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** Whether `address` may open another connection. */
  admits(address: string): boolean {
    return (this.open.get(address) ?? 0) < this.max;
  }

  /** Counts a connection of `address`, until `remove` (once per `add`). */
  add(address: string): void {
    this.open.set(address, (this.open.get(address) ?? 0) + 1);
  }

  remove(address: string): void {
    const left = (this.open.get(address) ?? 1) - 1;
    if (left === 0) this.open.delete(address);
    else this.open.set(address, left);
  }
}
