/**
 * Who a demo token says the user is. The roles come from the credential, never from what a
 * client asks for: a session may act as an agent of skill 45 only if its token says so.
 */
import type { Principal } from '@herald/core';

/** What the demo keeps with each session (`Principal.data`). */
export interface DemoIdentity {
  /** The skills the user is an agent of; empty for a consumer. */
  readonly agentOf: readonly string[];
}

const USER_TOKEN = /^demo-([a-z0-9]{1,32})$/;
/** `demo-agent-<name>-<skill>[.<skill>…]`, at most 20 skills (as many as one subscribe takes). */
const AGENT_TOKEN = /^demo-agent-([a-z0-9]{1,32})-([0-9]{1,9}(?:\.[0-9]{1,9}){0,19})$/;

const TOKEN_LIFETIME_MS = 3_600_000;

/**
 * Demo credentials, valid for an hour: `demo-<name>` is user `<name>`, and
 * `demo-agent-<name>-45.46` is user `<name>`, agent of skills 45 and 46. A real application
 * verifies a signed, short-lived ticket here and takes the roles from its claims.
 *
 * @example
 * authenticate('demo-agent-a1-45'); // { userId: 'a1', data: { agentOf: ['45'] }, expiresAt: … }
 */
export function authenticate(token: string): Principal | null {
  const agent = AGENT_TOKEN.exec(token);
  const user = agent ?? USER_TOKEN.exec(token);
  if (user === null) return null;
  const identity: DemoIdentity = { agentOf: agent === null ? [] : [...new Set((agent[2] as string).split('.'))] };
  return { userId: user[1] as string, expiresAt: Date.now() + TOKEN_LIFETIME_MS, data: identity };
}

/** The identity of a session the demo authenticated. */
export function identityOf(principal: Principal | null): DemoIdentity {
  return (principal?.data as DemoIdentity | undefined) ?? { agentOf: [] };
}

export function isAgentOf(principal: Principal | null, skill: string): boolean {
  return identityOf(principal).agentOf.includes(skill);
}
