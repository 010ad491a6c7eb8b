/**
 * The drain of one server (issue 12), wired to what it acts on: the signaling (OPTIONS 503 while draining),
 * the live calls (counted; at the deadline each hears its goodbye and gets a BYE) and, with Redis, the
 * instance record (status `draining`). Admission and /readyz read `refusing` themselves; API dials are
 * refused by {@link DrainingCallControl}.
 */
import type { EndReason } from '../call/session.js';
import { HttpError } from '../http/errors.js';
import type { CallControl, CallSummary, DialRequest } from '../http/ports.js';
import type { Logger } from '../observability/logger.js';
import type { Signaling } from '../sip/signaling.js';
import { DrainController, type DrainState, type EndCallsMode } from './drain.js';

/** What the drain needs of a live call. */
export interface DrainableCall {
  readonly session: {
    goodbye(reason: EndReason, maxPromptMs: number): Promise<void>;
    end(reason: EndReason): Promise<void>;
  };
}

export interface ServerDrainOptions {
  readonly timeoutS: number;
  /** Retry-After of the 503s while draining (admission uses the same). */
  readonly retryAfterS: number;
  readonly signaling: Pick<Signaling, 'setUnavailable'>;
  /** Established calls. */
  readonly liveCalls: () => readonly DrainableCall[];
  /** INVITEs admitted and not yet settled (they become calls or go away). */
  readonly pendingCalls: () => number;
  /** The instance record's status, when there is a cluster (told on every change). */
  readonly instanceStatus?: (status: 'serving' | 'draining') => void;
  readonly logger: Logger;
  /** The goodbye prompt is cut after this long (a caller on hold would never drain it). Default 30 s. */
  readonly maxPromptMs?: number;
}

/** How the remaining calls end: each its goodbye (bounded) then BYE, or a BYE at once. */
async function endCalls(options: ServerDrainOptions, mode: EndCallsMode): Promise<void> {
  const maxPromptMs = options.maxPromptMs ?? 30_000;
  await Promise.all(
    options
      .liveCalls()
      .map((c) =>
        mode === 'goodbye' ? c.session.goodbye('shutdown', maxPromptMs) : c.session.end('shutdown'),
      ),
  );
}

export function createServerDrain(options: ServerDrainOptions): DrainController {
  return new DrainController({
    timeoutMs: options.timeoutS * 1000,
    activeCalls: () => options.liveCalls().length + options.pendingCalls(),
    endCalls: (mode) => endCalls(options, mode),
    onState: (state: DrainState) => {
      options.signaling.setUnavailable(state === 'serving' ? undefined : options.retryAfterS);
      options.instanceStatus?.(state === 'serving' ? 'serving' : 'draining');
    },
    logger: options.logger,
  });
}

/** The control API's calls while draining: no new outbound call (503 + Retry-After); the rest unchanged. */
export class DrainingCallControl implements CallControl {
  readonly #inner: CallControl;
  readonly #drain: { readonly refusing: boolean };
  readonly #retryAfterS: number;

  constructor(inner: CallControl, drain: { readonly refusing: boolean }, retryAfterS: number) {
    this.#inner = inner;
    this.#drain = drain;
    this.#retryAfterS = retryAfterS;
  }

  list(): Promise<CallSummary[]> {
    return this.#inner.list();
  }

  get(id: string): Promise<CallSummary | undefined> {
    return this.#inner.get(id);
  }

  hangup(id: string): Promise<boolean> {
    return this.#inner.hangup(id);
  }

  transfer(id: string, destination: string): ReturnType<CallControl['transfer']> {
    return this.#inner.transfer(id, destination);
  }

  dial(request: DialRequest): Promise<{ readonly id: string }> {
    if (this.#drain.refusing) {
      return Promise.reject(
        new HttpError(503, 'HTTP_DRAINING', 'this instance is draining: it takes no new calls', undefined, {
          retryAfterS: this.#retryAfterS,
        }),
      );
    }
    return this.#inner.dial(request);
  }
}
