import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { Counter } from 'prom-client';
import type { Logger } from './logger.js';

/** Which call the running code belongs to. */
export interface CallScope {
  readonly callId: string;
  readonly tenant?: string;
}

/**
 * The call whose work is running (Node's AsyncLocalStorage): entered once per call around its session, it
 * follows every timer, promise and socket callback that work starts, so an error escaping any of them is
 * logged with the call's id. Code started outside a call (the shared RTP ticker, the SIP stack) has none.
 */
const callScope = new AsyncLocalStorage<CallScope>();

/** Runs `fn` (and everything it starts, synchronously or not) as part of the call `scope`. */
export function inCallScope<T>(scope: CallScope, fn: () => T): T {
  return callScope.run(scope, fn);
}

/** The call the running code belongs to, if any. */
export function currentCall(): CallScope | undefined {
  return callScope.getStore();
}

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

/** The call an error belongs to: the id it carries, else the call whose code was running when it escaped. */
function callOf(err: unknown): CallScope | undefined {
  const carried = callIdOf(err);
  if (carried !== undefined) return { callId: carried };
  return callScope.getStore();
}

/**
 * Keeps one bug from dropping every call (issue 11, "crash-proof calls"): Node's default for an unhandled
 * rejection or uncaught exception is to exit, which would end every call on the instance at once, and an
 * input that reaches such a bug would become a remote kill switch. Each is logged with the call id (the one the
 * error carries, else the call whose work raised it, see {@link inCallScope}) and counted on
 * switchboard_stray_errors_total, and the process carries on. Returns the uninstaller.
 */
export function installProcessGuard(options: ProcessGuardOptions): () => void {
  const { logger, events } = options;
  const handle = (kind: 'unhandledRejection' | 'uncaughtException', err: unknown): void => {
    options.failures?.inc({ kind });
    const calls = options.activeCalls();
    const call = callOf(err);
    logger.error(
      {
        err,
        kind,
        activeCalls: calls,
        ...(call === undefined ? {} : { callId: call.callId }),
        ...(call?.tenant === undefined ? {} : { tenant: call.tenant }),
      },
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

/** Wraps event handlers: each is bound to the scope it was wrapped in, and a throw goes to `onError`. */
export type HandlerBoundary = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => void;

/**
 * A per-call error boundary for event handlers (issue 11): a handler bound inside {@link inCallScope} keeps
 * the call's id for the async work it starts, and a synchronous throw is handed to `onError` (the call ends
 * itself) instead of unwinding into the emitter of another component (a socket, the SIP stack).
 */
export function handlerBoundary(onError: (err: unknown) => void): HandlerBoundary {
  return <A extends unknown[]>(fn: (...args: A) => void) =>
    AsyncResource.bind((...args: A): void => {
      try {
        fn(...args);
      } catch (err) {
        onError(err);
      }
    });
}
