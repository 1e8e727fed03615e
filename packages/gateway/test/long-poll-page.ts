/**
 * The page `long-poll-browser.test.ts` opens in Chromium: `@herald/client` bundled with this
 * module by esbuild, as an application would ship it. It connects with `autoTransport` to the
 * origin it was loaded from and records what the application would see; the test drives it
 * through `globalThis.heraldPage`.
 */
import { autoTransport, createClient, HeraldRequestError, type ClientState, type HeraldClient } from '@herald/client';
import type { TestContract } from './backend-app.ts';

export interface Observed {
  readonly transports: string[];
  readonly states: ClientState[];
  readonly ticks: number[];
  readonly privates: number[];
  readonly errors: string[];
  readonly recoveryFailures: string[];
  /** Echo requests answered with their own text, answered `409` `outcome_unknown`, and failed otherwise. */
  readonly echoes: { ok: number; outcomeUnknown: number; readonly failed: string[] };
  sessionId: string | undefined;
  state: ClientState | undefined;
}

export interface HeraldPage {
  connect(token: string): void;
  join(room: string): Promise<number>;
  /** The node that answers, as `test.Where` names it. */
  where(): Promise<string>;
  /** Echo requests one after another until `stopEchoes`, which resolves when the last is answered. */
  startEchoes(): void;
  stopEchoes(): Promise<void>;
  observed(): Observed;
  close(): void;
}

const observed: Observed = {
  transports: [],
  states: [],
  ticks: [],
  privates: [],
  errors: [],
  recoveryFailures: [],
  echoes: { ok: 0, outcomeUnknown: 0, failed: [] },
  sessionId: undefined,
  state: undefined,
};
let client: HeraldClient<TestContract> | undefined;
let echoing: Promise<void> | undefined;
let echo = true;

const connected = (): HeraldClient<TestContract> => {
  if (client === undefined) throw new Error('connect first');
  return client;
};

const page: HeraldPage = {
  connect(token) {
    client = createClient<TestContract>({
      transport: autoTransport({ url: `ws://${location.host}/ws`, onTransport: (kind) => observed.transports.push(kind) }),
      token,
      onStateChange: (state) => observed.states.push(state),
      onRecoveryFailed: (failure) => observed.recoveryFailures.push(JSON.stringify(failure)),
      onError: (error) => observed.errors.push(String(error)),
    });
    client.on('test.Tick', (body) => observed.ticks.push(body.n));
    client.on('test.Private', (body) => observed.privates.push(body.n));
  },
  async join(room) {
    return (await connected().request('test.Join', { room })).offset;
  },
  async where() {
    return (await connected().request('test.Where', {})).node;
  },
  startEchoes() {
    echo = true;
    echoing = (async () => {
      for (let n = 0; echo; n++) {
        const text = `echo ${n}`;
        try {
          const answer = await connected().request('test.Echo', { text }, { timeoutMs: 60_000 });
          if (answer.text === text) observed.echoes.ok++;
          else observed.echoes.failed.push(`${text} answered ${answer.text}`);
        } catch (error) {
          if (error instanceof HeraldRequestError && error.code === 409 && error.reason === 'outcome_unknown') observed.echoes.outcomeUnknown++;
          else observed.echoes.failed.push(`${text}: ${String(error)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  },
  async stopEchoes() {
    echo = false;
    await echoing;
  },
  observed() {
    observed.sessionId = client?.sessionId;
    observed.state = client?.state;
    return observed;
  },
  close() {
    client?.close();
  },
};

Object.assign(globalThis, { heraldPage: page });
