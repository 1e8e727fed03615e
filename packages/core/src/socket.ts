/**
 * The whole of what the core needs from a transport. An adapter wraps its runtime's socket in
 * this shape, hands it to `herald.open`, and feeds the returned `Connection` what happens.
 */
export interface HeraldSocket {
  /**
   * Sends one frame: text for a string, binary for bytes (only on connections of a binary
   * subprotocol, see `WireCodec`). Must not throw once the socket is closed (ignore instead).
   */
  send(frame: string | Uint8Array): void;
  /** Closes with a code and a reason of at most 123 UTF-8 bytes. */
  close(code: number, reason: string): void;
  /** Bytes accepted by `send` but not yet written to the network. */
  readonly bufferedAmount: number;
  /**
   * Sends an RFC 6455 ping. When present, native clients are probed with it instead of the
   * application-level ping; the adapter reports the pong through `connection.alive()`.
   */
  ping?(): void;
  /** Joins the transport's native fan-out for a topic (see `herald.useNativePublish`). */
  subscribe?(topic: string): void;
  /** Leaves the transport's native fan-out for a topic. */
  unsubscribe?(topic: string): void;
  /** The `transport` label of its metrics (default `websocket`; long-poll sockets say `long-poll`). */
  readonly transport?: string;
}
