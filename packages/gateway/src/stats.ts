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
  framesToClient: number;
  bytesToClient: number;
  framesToBackend: number;
  bytesToBackend: number;
  /** Client legs closed for keep-alive (half-open), backend legs likewise. */
  clientLegsLost: number;
  backendLegsLost: number;
  /** Clients closed with 4507: not drained within the keep-alive grace, or past `maxBackpressure`. */
  slowConsumers: number;
  /** Topic or private notifications not relayed because the client already had them (same offset or seq). */
  duplicatesDropped: number;
}

export function emptyStats(): GatewayStats {
  return {
    linksOpen: 0,
    linksOpened: 0,
    relinks: 0,
    relinkFailures: 0,
    lastRelinkMs: 0,
    maxRelinkMs: 0,
    framesToClient: 0,
    bytesToClient: 0,
    framesToBackend: 0,
    bytesToBackend: 0,
    clientLegsLost: 0,
    backendLegsLost: 0,
    slowConsumers: 0,
    duplicatesDropped: 0,
  };
}
