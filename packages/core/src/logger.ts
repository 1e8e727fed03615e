/**
 * Where the server says what an operator may need to know, in pino's shape (`logger.info(obj,
 * msg)`), so a pino, bunyan-like or console logger plugs in as it is. Events carry an `event`
 * field and structured fields; never a token or a message body.
 */

/** Fields of one log line; `event` names what happened. */
export type LogFields = { readonly event: string } & Readonly<Record<string, unknown>>;

/**
 * A logger with pino's call shape. Events and levels: `upgrade_refused`, `auth_failed`,
 * `session_closed` at info (a 4503 shutdown close at debug); a handler that threw, a failed
 * `authenticate` hook, store and broker failures at error.
 *
 * @example
 * import pino from 'pino';
 * const herald = createHerald({ contract, handlers, logger: pino() });
 */
export interface Logger {
  debug?(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
}

const quiet = (): void => {};

/** The default: only what an operator must see (warn and error), on the console. */
export const consoleLogger: Logger = {
  debug: quiet,
  info: quiet,
  warn: (fields, message) => console.warn(`herald: ${message}`, fields),
  error: (fields, message) => console.error(`herald: ${message}`, fields),
};
