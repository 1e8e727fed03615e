/**
 * Connections open from each remote address, for `maxConnectionsPerAddress`. An address is
 * forgotten when its last connection ends, so memory follows the addresses connected now.
 */
export class AddressConnections {
  /** Per address: the string counted first (see `add`), and its connections. */
  private readonly open = new Map<string, { readonly address: string; connections: number }>();

  constructor(private readonly max: number) {}

  /** Whether `address` may open another connection. */
  admits(address: string): boolean {
    return (this.open.get(address)?.connections ?? 0) < this.max;
  }

  /**
   * Counts a connection of `address`, until `remove` (once per `add`). Returns the address as
   * counted: the first connection's string, which the later ones of the address keep instead
   * of their own (a transport makes a new string for each).
   */
  add(address: string): string {
    const counted = this.open.get(address);
    if (counted === undefined) {
      this.open.set(address, { address, connections: 1 });
      return address;
    }
    counted.connections++;
    return counted.address;
  }

  remove(address: string): void {
    const counted = this.open.get(address);
    if (counted !== undefined && --counted.connections === 0) this.open.delete(address);
  }
}
