/**
 * The last line of defence: a bug in one request must never take the others
 * down. Node ends the process on an uncaught exception or an unhandled
 * rejection; the server installs this guard instead, which logs the error at
 * error level, fails only the request it came from (500, or a cut
 * connection once the answer has started) and keeps serving.
 *
 * The request is found through AsyncLocalStorage: every request runs inside
 * `requestScope.run`, and Node restores that context for the callback that
 * threw, so the guard can tell which request a stray error belongs to.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

import type { Logger } from 'pino';

export interface RequestScope {
  requestId?: string;
  /** The S3 error code the request was answered with, for its log line. */
  errorCode?: string;
  /** Ends the request with an internal error (or cuts it if its answer has begun). */
  fail(err: unknown): void;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export interface ProcessGuard {
  /** How many stray errors were caught since the guard was installed. */
  readonly caught: number;
  uninstall(): void;
}

export function installProcessGuard(log: Logger): ProcessGuard {
  let caught = 0;
  const onError = (kind: string) => (err: unknown) => {
    caught++;
    const scope = requestScope.getStore();
    log.error({ err, reqId: scope?.requestId, kind }, `${kind}: failed ${scope ? 'its request' : 'no request'}, kept serving`);
    try {
      scope?.fail(err);
    } catch (failErr) {
      log.error({ err: failErr }, 'could not fail the request after an uncaught error');
    }
  };
  const onException = onError('uncaught exception');
  const onRejection = onError('unhandled rejection');
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return {
    get caught() {
      return caught;
    },
    uninstall() {
      process.off('uncaughtException', onException);
      process.off('unhandledRejection', onRejection);
    },
  };
}
