/**
 * The path of an application request, from a session to its answer: answered from the retry
 * cache when its id was seen (on this node, or on any node through the session store), else
 * validated against the contract, run through the middleware and its handler, and answered
 * once; the answer is kept for retries.
 */
import type { Clock } from './clock.ts';
import { encodeBody, encodeErrorResponse, encodeResponse } from './codec.ts';
import { ErrorReason, Status } from './constants.ts';
import { type ContractDefinition, type RequestType, type Validation, validate } from './contract.ts';
import { dedupEntry, type DedupEntry } from './dedup-cache.ts';
import type { ErrorBody, RequestMessage } from './envelope.ts';
import { HeraldError, INTERNAL_ERROR_BODY } from './errors.ts';
import { RequestContext } from './request-context.ts';
import type { Herald, HeraldOptions } from './server.ts';
import { type Session, SessionState } from './session.ts';
import type { RequestClaim, SessionStore } from './session-store.ts';

/** Issues listed in a `validation_failed` answer: enough to fix a request, never a large reply. */
const MAX_ISSUES = 10;
/** How long a retry waits for the answer of a request still running on another node, and how often it asks. */
const SHARED_REQUEST_WAIT_MS = 30_000;
const SHARED_REQUEST_POLL_MS = 100;
/** What a `still_running` answer advises a client to wait before retrying. */
const STILL_RUNNING_RETRY_MS = 1_000;

export class RequestPipeline<C extends ContractDefinition> {
  constructor(
    private readonly herald: Herald<C>,
    private readonly options: HeraldOptions<C>,
    private readonly store: SessionStore | undefined,
    private readonly clock: Clock,
    private readonly reportError: (error: unknown, session: Session) => void,
  ) {}

  /** Answers an application request of an authenticated session. */
  run(session: Session, request: RequestMessage): void {
    session.hasClientState = true;
    const seen = session.dedup?.get(request.id);
    if (seen !== undefined) {
      if (seen.type !== request.type) {
        session.sendError(request.id, request.type, Status.Conflict, {
          error: ErrorReason.IdConflict,
          message: `id ${request.id} was used for ${seen.type}`,
        });
      } else if (seen.frame !== undefined) {
        session.answer(seen, seen.frame);
        this.herald.metrics?.retryAnswered(request.type);
      }
      return;
    }
    // Remembered only once it runs past this call, so that a retry meanwhile waits for it.
    const entry = dedupEntry(request.id, request.type);
    if (this.herald.metrics !== undefined || this.options.tracer !== undefined || this.herald.inspecting !== undefined) this.started(session, request, entry);
    if (this.store !== undefined) {
      session.retryCache().track(entry);
      void this.beginShared(this.store, session, request, entry);
      return;
    }
    this.dispatch(session, request, entry);
  }

  /**
   * Asks the store whether a request id was seen on any node before running it, so a retry
   * that reaches another node is answered from the stored frame and never runs twice.
   */
  private async beginShared(store: SessionStore, session: Session, request: RequestMessage, entry: DedupEntry): Promise<void> {
    const deadline = this.clock.now() + SHARED_REQUEST_WAIT_MS;
    for (;;) {
      let claim: RequestClaim;
      try {
        claim = await store.beginRequest(session.id, request.id, request.type);
      } catch (error) {
        // Not recorded as answered: a retry asks the store again.
        session.dedup?.forget(request.id);
        this.fail(session, request, entry, error);
        return;
      }
      switch (claim.state) {
        case 'new':
          this.dispatch(session, request, entry);
          return;
        case 'done':
          entry.span = undefined;
          entry.startedAt = 0;
          session.answer(entry, claim.frame);
          this.herald.metrics?.retryAnswered(request.type);
          return;
        case 'conflict':
          this.answerError(session, request, entry, Status.Conflict, { error: ErrorReason.IdConflict, message: `id ${request.id} was used for ${claim.type}` });
          return;
        case 'lost':
          this.answerError(session, request, entry, Status.Conflict, {
            error: ErrorReason.OutcomeUnknown,
            message: `request ${request.id} may have run on a node that stopped before answering, or the store lost its record; it is not run again`,
          });
          return;
        case 'running':
          if (session.state === SessionState.Closed) {
            session.dedup?.forget(request.id);
            return;
          }
          if (this.clock.now() >= deadline) {
            // Not remembered here: a later retry asks the store again and gets the answer.
            session.dedup?.forget(request.id);
            this.answered(entry, Status.Unavailable);
            session.sendError(request.id, request.type, Status.Unavailable, {
              error: ErrorReason.StillRunning,
              message: `request ${request.id} is still running on another node; retry later with the same id`,
              retryAfterMs: STILL_RUNNING_RETRY_MS,
            });
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, SHARED_REQUEST_POLL_MS));
      }
    }
  }

  private dispatch(session: Session, request: RequestMessage, entry: DedupEntry): void {
    const type = request.type as RequestType<C>;
    const definition = Object.hasOwn(this.options.contract.requests, type) ? this.options.contract.requests[type] : undefined;
    if (definition === undefined) {
      this.answerError(session, request, entry, Status.NotFound, { error: ErrorReason.UnknownType, message: `unknown type ${type}` });
      return;
    }
    // What blocks every other session: the request's synchronous work, charged to its session.
    // Metered without a store, the clock was read for this request a moment ago: once is enough.
    const started = entry.startedAt !== 0 && this.store === undefined ? entry.startedAt : performance.now();
    const validation = validate(definition.request, request.body);
    if (validation instanceof Promise) {
      session.retryCache().track(entry);
      validation.then(
        (result) => this.runValidated(session, request, entry, result),
        (error: unknown) => this.settle(session, request, entry, Promise.reject(error)),
      );
    } else this.runValidated(session, request, entry, validation);
    session.spend(performance.now() - started);
  }

  private runValidated(session: Session, request: RequestMessage, entry: DedupEntry, validation: Validation): void {
    if (!validation.ok) {
      this.answerError(session, request, entry, Status.BadRequest, {
        error: ErrorReason.ValidationFailed,
        message:
          validation.issues.length > MAX_ISSUES
            ? `body does not match ${request.type} (first ${MAX_ISSUES} of ${validation.issues.length} issues)`
            : `body does not match ${request.type}`,
        issues: validation.issues.slice(0, MAX_ISSUES).map((issue) => ({ path: ['body', ...issue.path], message: issue.message })),
      });
      return;
    }
    const type = request.type as RequestType<C>;
    const context = new RequestContext<C>(this.herald, session, request.id, type);
    let result: unknown;
    const span = entry.span;
    try {
      result = span?.run === undefined ? this.invoke(context, validation.value) : span.run(() => this.invoke(context, validation.value));
    } catch (error) {
      result = Promise.reject(error);
    }
    this.settle(session, request, entry, result);
  }

  private invoke(context: RequestContext<C>, body: unknown): unknown {
    const handler = this.options.handlers[context.type] as (body: unknown, context: RequestContext<C>) => unknown;
    const middleware = this.options.middleware;
    if (middleware === undefined || middleware.length === 0) return handler(body, context);
    const dispatch = (index: number): Promise<unknown> => {
      const layer = middleware[index];
      if (layer === undefined) return Promise.resolve().then(() => handler(body, context));
      return layer(context, body, () => dispatch(index + 1));
    };
    return dispatch(0);
  }

  /** Answers with a handler's result, synchronously when it is not a promise. */
  private settle(session: Session, request: RequestMessage, entry: DedupEntry, result: unknown): void {
    if (result instanceof Promise) {
      session.retryCache().track(entry);
      result.then(
        (value: unknown) => this.settle(session, request, entry, value),
        (error: unknown) => this.answerError(session, request, entry, ...this.describe(error, session, request)),
      );
      return;
    }
    // A binary connection gets the answer packed from the value; JSON text is built only for
    // those who keep it (the store, the retry cache), or when the value needs JSON's rules.
    const packed = session.packResponse(request.id, request.type, Status.OK, result);
    let frame: string | undefined;
    if (packed === undefined || this.store !== undefined || !session.logsAnswers) {
      try {
        frame = encodeResponse(request.id, request.type, Status.OK, encodeBody(result));
      } catch (error) {
        this.answerError(session, request, entry, ...this.describe(error, session, request));
        return;
      }
    }
    this.answered(entry, Status.OK);
    session.answer(entry, frame, packed);
    if (this.store !== undefined) this.storeAnswer(this.store, session, request, frame as string);
  }

  private started(session: Session, request: RequestMessage, entry: DedupEntry): void {
    entry.startedAt = performance.now();
    const tracer = this.options.tracer;
    if (tracer !== undefined) {
      entry.span = tracer.startRequest({
        type: request.type,
        id: request.id,
        sessionId: session.id,
        userId: session.userId,
        traceparent: request.traceparent,
      });
    }
  }

  /** Reports a request's answer to the meter and tracer, once. */
  private answered(entry: DedupEntry, code: number): void {
    if (entry.startedAt === 0) return;
    this.herald.metrics?.requestAnswered(entry.type, code, (performance.now() - entry.startedAt) / 1000);
    this.herald.inspecting?.answered(entry.type, code);
    entry.startedAt = 0;
    entry.span?.end(code);
    entry.span = undefined;
  }

  private storeAnswer(store: SessionStore, session: Session, request: RequestMessage, frame: string): void {
    store.finishRequest(session.id, request.id, frame).catch((error: unknown) => this.reportError(error, session));
  }

  describe(error: unknown, session: Session, request: RequestMessage): [number, ErrorBody] {
    if (error instanceof HeraldError) return [error.status, error.toBody()];
    this.herald.inspecting?.failed('handler_failed', error, session.id, request.type);
    if (this.options.onError !== undefined) this.options.onError(error, { type: request.type, sessionId: session.id });
    else this.herald.logger.error({ event: 'handler_failed', type: request.type, sessionId: session.id, err: error }, 'handler failed');
    return [Status.InternalError, INTERNAL_ERROR_BODY];
  }

  private answerError(session: Session, request: RequestMessage, entry: DedupEntry, status: number, body: ErrorBody): void {
    const frame = encodeErrorResponse(request.id, request.type, status, body);
    this.answered(entry, status);
    session.answer(entry, frame);
    if (this.store !== undefined) this.storeAnswer(this.store, session, request, frame);
  }

  private fail(session: Session, request: RequestMessage, entry: DedupEntry, error: unknown): void {
    const [status, body] = this.describe(error, session, request);
    this.answered(entry, status);
    session.sendError(request.id, request.type, status, body);
  }
}
