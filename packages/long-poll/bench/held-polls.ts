/**
 * Memory of held polls: a server in its own process (so its RSS is its own), N long-poll
 * sessions opened and authenticated, then N polls held at once. Prints the server's RSS and
 * heap before and while held.
 *
 *   pnpm --filter @herald/long-poll bench [N]     (default 1000)
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

if (process.argv[2] === '--server') {
  const { createConformanceHerald } = await import('@herald/testing/conformance');
  const { attachHttp, loadUws } = await import('@herald/uws');
  const { createLongPollHandler } = await import('../src/index.ts');
  const uws = loadUws();
  const app = uws.App();
  const herald = createConformanceHerald({ pingIntervalMs: 120_000, pingTimeoutMs: 60_000, authDeadlineMs: 60_000 });
  const longPoll = createLongPollHandler(herald, { pollTimeoutMs: 60_000 });
  attachHttp(app, '/lp', longPoll.handle);
  attachHttp(app, '/lp/*', longPoll.handle);
  app.listen('127.0.0.1', 0, (socket) => {
    process.send?.({ port: uws.us_socket_local_port(socket as never) });
  });
  process.on('message', (message) => {
    if (message === 'measure') {
      (globalThis as { gc?: () => void }).gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      process.send?.({ rss, heapUsed, sessions: herald.stats.sessions, connections: longPoll.size });
    } else if (message === 'broadcast') void herald.broadcast('conf.Published', { n: 1 });
    else if (message === 'exit') process.exit(0);
  });
} else {
  const n = Number(process.argv[2] ?? 1000);
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: ['--expose-gc', '--conditions=@herald/source', '--import', 'tsx'] });
  const next = () => new Promise<any>((resolve) => child.once('message', resolve));
  const { port } = await next();
  const origin = `http://127.0.0.1:${port}`;
  const measure = async () => {
    child.send('measure');
    return next();
  };
  const base = await measure();
  const sessions: Array<{ sid: string; cursor: number }> = [];
  for (let i = 0; i < n; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, async (_, j) => {
        const response = await fetch(`${origin}/lp`, { method: 'POST', headers: { 'herald-protocol': 'herald.v1', authorization: `Bearer user:u${i + j}` } });
        const body = (await response.json()) as { sid: string; from: number; messages: unknown[] };
        const drained = (await (await fetch(`${origin}/lp/poll?ack=${body.from}`, { headers: { 'herald-session': body.sid } })).json()) as { from: number; messages: unknown[] };
        return { sid: body.sid, cursor: drained.from + drained.messages.length - 1 };
      }),
    );
    sessions.push(...batch);
  }
  const opened = await measure();
  const polls = sessions.map((s) => fetch(`${origin}/lp/poll?ack=${s.cursor}`, { headers: { 'herald-session': s.sid } }).then((r) => r.json()));
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const held = await measure();
  child.send('broadcast');
  const answers = (await Promise.all(polls)) as Array<{ messages: unknown[] }>;
  const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  console.log(`server before: RSS ${mib(base.rss)}, heap ${mib(base.heapUsed)}`);
  console.log(`${opened.sessions} sessions open (long-poll, authenticated): RSS ${mib(opened.rss)} (+${mib(opened.rss - base.rss)}), heap +${mib(opened.heapUsed - base.heapUsed)}`);
  console.log(`${n} polls held: RSS ${mib(held.rss)} (+${mib(held.rss - opened.rss)} for the held polls, ${((held.rss - opened.rss) / n / 1024).toFixed(1)} KiB each), heap +${mib(held.heapUsed - opened.heapUsed)}`);
  console.log(`broadcast answered ${answers.filter((a) => a.messages.length > 0).length} of ${n} held polls`);
  child.send('exit');
}
