/**
 * Scenario 10: request/response through `@herald/gateway` against the same node direct, in the
 * same run and interleaved (direct, gateway, direct, gateway, …), and the memory a relayed idle
 * session costs the gateway against what a session costs the node. With fewer than three cores
 * the gateway shares the node's core (the generator has the other), so the ratio is a lower bound.
 */
import { cpus } from 'node:os';
import { closeAll, exercise, openSessions, requestResponse, type Window } from './gen/load.ts';
import { ServerProcess, type ServerSpec } from './proc.ts';
import { median, type GatewayFigures, type Target } from './report.ts';

export interface GatewayPlan {
  readonly connections: number;
  readonly inFlight: number;
  readonly warmupMs: number;
  readonly windowMs: number;
  readonly runs: number;
  readonly idleSessions: number;
}


type Spec = (key: string, file: string) => ServerSpec;
type Log = (line: string) => void;

const FIXED_YOUNG_GENERATION = ['--min-semi-space-size=16', '--max-semi-space-size=16'];

async function started<T>(specs: readonly { spec: ServerSpec; core: number; env?: Record<string, string> }[], run: (processes: ServerProcess[]) => Promise<T>): Promise<T> {
  const processes: ServerProcess[] = [];
  try {
    for (const { spec, core, env } of specs) processes.push(await ServerProcess.start(spec, core, env ?? {}));
    return await run(processes);
  } finally {
    for (const process of processes.reverse()) await process.stop();
  }
}

/** RSS, and JS heap in use, per idle authenticated session added to `measured` when `count` sessions open on `port` (KiB). */
async function perSession(port: number, measured: ServerProcess, plan: GatewayPlan): Promise<{ rss: number; heap: number }> {
  const warm = await openSessions('herald', port, 10, { total: 10 + plan.idleSessions });
  await exercise('herald', 'herald', warm, plan.inFlight, 500);
  const heapBefore = (await measured.gc(true))?.heapUsed ?? NaN;
  const before = measured.rss();
  const rest = await openSessions('herald', port, plan.idleSessions, { firstIndex: 10, total: 10 + plan.idleSessions });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const heapAfter = (await measured.gc(true))?.heapUsed ?? NaN;
  const after = measured.rss();
  await closeAll([...warm, ...rest]);
  return { rss: (after - before) / plan.idleSessions / 1024, heap: (heapAfter - heapBefore) / plan.idleSessions / 1024 };
}

export async function scenarioGateway(plan: GatewayPlan, spec: Spec, log: Log): Promise<{ figures: GatewayFigures; targets: Target[] }> {
  const sharedCore = cpus().length < 3;
  const gatewayCore = sharedCore ? 1 : 2;
  const node = () => spec('herald-uws', 'src/servers/herald-uws-gateway-node.ts');
  const gatewaySpec = () => spec('herald-gateway', 'src/servers/gateway.ts');
  const rr = { connections: plan.connections, inFlight: plan.inFlight, warmupMs: plan.warmupMs, windowMs: plan.windowMs, windows: 1 };
  const direct: Window[] = [];
  const through: Window[] = [];
  const nodeCpu: number[] = [];
  for (let run = 1; run <= plan.runs; run++) {
    await started([{ spec: node(), core: 1 }], async ([server]) => {
      const result = await requestResponse('herald', 'herald', server!.port, server!, rr);
      direct.push(...result.windows);
      log(`gateway run ${run}: direct ${Math.round(result.windows[0]?.perSecond ?? NaN)} msg/s, node ${Math.round((result.windows[0]?.serverCpu ?? NaN) * 100)}%`);
    });
    await started([{ spec: node(), core: 1 }], async ([server]) => {
      await started([{ spec: gatewaySpec(), core: gatewayCore, env: { BACKEND_PORT: String(server!.port) } }], async ([gateway]) => {
        const nodeBefore = server!.cpu();
        const t0 = performance.now();
        const result = await requestResponse('herald', 'herald', gateway!.port, gateway!, rr);
        nodeCpu.push((server!.cpu() - nodeBefore) / ((performance.now() - t0) / 1000));
        through.push(...result.windows);
        if (result.closedEarly > 0 || result.wrong > 0) log(`gateway run ${run}: ${result.closedEarly} closed early, ${result.wrong} wrong`);
        log(`gateway run ${run}: through the gateway ${Math.round(result.windows[0]?.perSecond ?? NaN)} msg/s, gateway ${Math.round((result.windows[0]?.serverCpu ?? NaN) * 100)}%`);
      });
    });
  }
  const memorySpec = (s: ServerSpec): ServerSpec => ({ ...s, args: [...FIXED_YOUNG_GENERATION, ...s.args] });
  // Interleaved fresh processes, medians: one process's RSS per session swings by a third from run to run.
  const nodeRuns: number[] = [];
  const gatewayRuns: number[] = [];
  const nodeHeap: number[] = [];
  const gatewayHeap: number[] = [];
  for (let run = 1; run <= plan.runs; run++) {
    const atNode = await started([{ spec: memorySpec(node()), core: 1 }], ([server]) => perSession(server!.port, server!, plan));
    const atGateway = await started([{ spec: node(), core: 1 }], ([server]) =>
      started([{ spec: memorySpec(gatewaySpec()), core: gatewayCore, env: { BACKEND_PORT: String(server!.port) } }], ([gateway]) => perSession(gateway!.port, gateway!, plan)),
    );
    nodeRuns.push(atNode.rss);
    gatewayRuns.push(atGateway.rss);
    nodeHeap.push(atNode.heap);
    gatewayHeap.push(atGateway.heap);
    log(`gateway memory run ${run}: per idle session, node ${atNode.rss.toFixed(2)} KiB RSS (${atNode.heap.toFixed(2)} KiB heap), gateway ${atGateway.rss.toFixed(2)} KiB RSS (${atGateway.heap.toFixed(2)} KiB heap)`);
  }
  const nodeKiB = median(nodeRuns);
  const gatewayKiB = median(gatewayRuns);
  const figures: GatewayFigures = {
    direct: direct.map((w) => w.perSecond),
    gateway: through.map((w) => w.perSecond),
    gatewayCpu: through.map((w) => w.serverCpu),
    nodeCpu,
    nodeKiBPerSession: nodeKiB,
    gatewayKiBPerSession: gatewayKiB,
    nodeKiBRuns: nodeRuns,
    gatewayKiBRuns: gatewayRuns,
    nodeHeapKiBRuns: nodeHeap,
    gatewayHeapKiBRuns: gatewayHeap,
    sharedCore,
  };
  const ratio = median(figures.gateway) / median(figures.direct);
  const memoryRatio = gatewayKiB / nodeKiB;
  const caveat = sharedCore ? 'gateway and node share one core (2-core machine): a lower bound' : undefined;
  const targets: Target[] = [
    {
      scenario: 10,
      target: `request/response through the gateway ≥ 0.6× direct (${plan.connections} × ${plan.inFlight})`,
      measured: `${ratio.toFixed(2)}× (${Math.round(median(figures.gateway))} vs ${Math.round(median(figures.direct))} msg/s; gateway CPU ${Math.round(median(figures.gatewayCpu) * 100)}%, node ${Math.round(median(nodeCpu) * 100)}%)`,
      holds: Number.isFinite(ratio) ? ratio >= 0.6 : null,
      ...(caveat === undefined ? {} : { caveat }),
    },
    {
      scenario: 10,
      target: 'memory per idle relayed session ≤ 2× a Herald session',
      measured: `${memoryRatio.toFixed(2)}× (medians of ${plan.runs}: gateway ${gatewayKiB.toFixed(2)} KiB [${gatewayRuns.map((kib) => kib.toFixed(2)).join(', ')}], node ${nodeKiB.toFixed(2)} KiB [${nodeRuns.map((kib) => kib.toFixed(2)).join(', ')}] RSS per session, ${plan.idleSessions} sessions; JS heap ${median(gatewayHeap).toFixed(2)} vs ${median(nodeHeap).toFixed(2)} KiB)`,
      holds: Number.isFinite(memoryRatio) ? memoryRatio <= 2 : null,
    },
  ];
  return { figures, targets };
}
