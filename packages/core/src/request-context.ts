/**
 * What a request handler sees: `RequestContext` (the session, the request id, publishing and
 * server-side subscriptions), and the handler and middleware types.
 */
import { TYPE_PATTERN, assertName, encodeBody } from './codec.ts';
import type { ContractDefinition, NotificationBody, NotificationType, RequestBody, RequestType, ResponseInput } from './contract.ts';
import type { StreamPosition } from './envelope.ts';
import type { Herald } from './server.ts';
import type { Session } from './session.ts';
import type { Principal } from './upgrade.ts';

/** What user code sees of a session. */
export interface SessionHandle {
  readonly id: string;
  readonly userId: string | undefined;
  readonly principal: Principal | null;
}

/** Everything a handler may use besides its body. */
export class RequestContext<C extends ContractDefinition = ContractDefinition> {
  constructor(
    /** The server, to publish, broadcast or send to users. */
    readonly herald: Herald<C>,
    /** @internal */
    readonly sessionRef: Session,
    /** The request id (unique per session; a retry reuses it). */
    readonly id: string,
    readonly type: RequestType<C>,
  ) {}

  get session(): SessionHandle {
    return this.sessionRef;
  }

  /** The authenticated user (handlers only run for authenticated sessions). */
  get userId(): string {
    return this.sessionRef.userId as string;
  }

  get principal(): Principal {
    return this.sessionRef.principal as Principal;
  }

  /**
   * Subscribes this session to a topic from the server side (the client is told with
   * `herald.Subscribed`), as the seed's SubscribeExConversations does. Server-side
   * subscriptions count against `maxSubscriptions`: past it this rejects with a `HeraldError`
   * (429 `subscription_limit`), which answers the request if the handler lets it through.
   *
   * @example
   * 'room.Join': async ({ room }, ctx) => ({ offset: (await ctx.subscribe(`room/${room}`)).offset }),
   */
  subscribe(topic: string): Promise<StreamPosition> {
    return this.herald.subscribe(this.sessionRef, topic);
  }

  unsubscribe(topic: string): void {
    this.herald.unsubscribe(this.sessionRef, topic);
  }

  /** A private notification to this session only, delivered with confirmation. */
  notify<T extends NotificationType<C>>(type: T, body: NotificationBody<C, T>): void {
    assertName(TYPE_PATTERN, type, 'notification type');
    this.sessionRef.notifyEncoded(type, encodeBody(body));
  }
}

/** A request handler: gets the validated body, returns the response body (or throws `HeraldError`). */
export type Handler<C extends ContractDefinition, T extends RequestType<C>> = (
  body: RequestBody<C, T>,
  context: RequestContext<C>,
) => ResponseInput<C, T> | Promise<ResponseInput<C, T>>;

/** One handler per request type of the contract. */
export type Handlers<C extends ContractDefinition> = { readonly [T in RequestType<C>]: Handler<C, T> };

/** Runs around every application request; `next()` resolves to the response body. */
export type Middleware<C extends ContractDefinition = ContractDefinition> = (
  context: RequestContext<C>,
  body: unknown,
  next: () => Promise<unknown>,
) => Promise<unknown>;
