import type { Counter } from 'prom-client';
import type { Logger } from './logger.js';

/** The part of `process` the guard listens on (injected so tests use an EventEmitter). */
export interface ProcessEvents {
  on(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  on(event: 'uncaughtException', listener: (err: Error) => void): unknown;
  off(event: 'unhandledRejection', listener: (reason: unknown) => void): unknown;
  off(event: 'uncaughtException', listener: (err: Error) => void): unknown;
}

export interface ProcessGuardOptions {
  readonly logger: Logger;
  readonly events: ProcessEvents;
  /** Calls in progress, logged with each stray error. */
  readonly activeCalls: () => number;
  readonly failures?: Counter<'kind'>;
}

/** A call id carried by an error (SwitchboardError subclasses and call code may attach one). */
function callIdOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const id = (err as { callId?: unknown }).callId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Keeps one bug from dropping every call (issue 11, "crash-proof calls"): Node's default for an unhandled
 * rejection or uncaught exception is to exit, which would end every call on the instance at once, and an
 * input that reaches such a bug would become a remote kill switch. Each is logged (with the call id when the
 * error carries one) and counted on switchboard_stray_errors_total, and the process carries on. Returns the
 * uninstaller.
 */
export function installProcessGuard(options: ProcessGuardOptions): () => void {
  const { logger, events } = options;
  const handle = (kind: 'unhandledRejection' | 'uncaughtException', err: unknown): void => {
    options.failures?.inc({ kind });
    const calls = options.activeCalls();
    const callId = callIdOf(err);
    logger.error(
      { err, kind, activeCalls: calls, ...(callId === undefined ? {} : { callId }) },
      'stray error caught; the process and its calls continue',
    );
  };
  const onRejection = (reason: unknown): void => handle('unhandledRejection', reason);
  const onException = (err: Error): void => handle('uncaughtException', err);
  events.on('unhandledRejection', onRejection);
  events.on('uncaughtException', onException);
  return () => {
    events.off('unhandledRejection', onRejection);
    events.off('uncaughtException', onException);
  };
}
