/** Counters of a gateway, since it started. */
export interface GatewayStats {
  /** Links (client leg + backend leg) open now, and opened in all. */
  linksOpen: number;
  linksOpened: number;
  /** Sessions resumed on another backend without the client seeing it, and attempts that ended with the client closed 4502 instead. */
  relinks: number;
  relinkFailures: number;
  /** Time from a backend leg's end to the resume answered on the new one: the last, and the longest. */
  lastRelinkMs: number;
  maxRelinkMs: number;
  /** Requests the client had sent to a lost backend, sent again with their ids to the one its session moved to. */
  requestsRetried: number;
  framesToClient: number;
  bytesToClient: number;
  framesToBackend: number;
  bytesToBackend: number;
  /** Client legs closed for keep-alive (half-open), backend legs likewise. */
  clientLegsLost: number;
  backendLegsLost: number;
  /** Clients closed with 4507: not drained within the keep-alive grace, or past `maxBackpressure`. */
  slowConsumers: number;
  /** Times a backend leg went above the high-water mark and the link held the client's frames until it drained. */
  backendPauses: number;
  /** Backend legs given up for not draining within the keep-alive grace (their sessions moved, or the client got 4502). */
  backendStalls: number;
  /** Clients closed with 4429 for sending `maxBackpressure` while their backend leg did not drain. */
  fastSenders: number;
  /** Topic or private notifications not relayed because the client already had them (same offset or seq). */
  duplicatesDropped: number;
  /**
   * Client legs uWS closed while the gateway was still inside the `res.cork()` of their upgrade
   * (README, "Not explained"): none is closed there on purpose, so any count is uWS's doing.
   */
  clientsClosedInUpgrade: number;
}

export function emptyStats(): GatewayStats {
  return {
    linksOpen: 0,
    linksOpened: 0,
    relinks: 0,
    relinkFailures: 0,
    lastRelinkMs: 0,
    maxRelinkMs: 0,
    requestsRetried: 0,
    framesToClient: 0,
    bytesToClient: 0,
    framesToBackend: 0,
    bytesToBackend: 0,
    clientLegsLost: 0,
    backendLegsLost: 0,
    slowConsumers: 0,
    backendPauses: 0,
    backendStalls: 0,
    fastSenders: 0,
    duplicatesDropped: 0,
    clientsClosedInUpgrade: 0,
  };
}
