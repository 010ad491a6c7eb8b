import type { Agent, AgentEvents } from '../agent/agent.js';
import type { Logger } from '../observability/logger.js';
import type { HandlerBoundary } from '../observability/process-guard.js';
import { parseInfoDtmf } from '../sip/dtmf-info.js';
import type { Dialog, DialogEndReason } from '../sip/signaling.js';
import type { MediaLeg } from './media-leg.js';

/**
 * Subscribes to one agent's events through `boundary`; events of an agent no longer `live()` (it was
 * replaced after a failure, agent-supervisor.ts) are ignored.
 */
export function agentListener(
  agent: Agent,
  boundary: HandlerBoundary,
  live: () => boolean,
): <K extends keyof AgentEvents>(event: K, fn: (...args: AgentEvents[K]) => void) => void {
  return (event, fn) => {
    const handler = boundary((...args: Parameters<typeof fn>) => {
      if (live()) fn(...args);
    });
    (agent.on as (e: typeof event, l: typeof handler) => Agent)(event, handler);
  };
}

/** What a call does with the events of its dialog and media leg. */
export interface LegHandlers {
  readonly ended: (reason: DialogEndReason) => void;
  /** No RTP for the inactivity timeout. */
  readonly inactive: () => void;
  /** The leg stopped on an internal error after the 200 (issue 10). */
  readonly failed: () => void;
  readonly dtmf: (digit: string, via: 'rtp' | 'info') => void;
  /** One frame of caller audio (hot path: called every ptime, not wrapped). */
  readonly frame: (payload: Buffer) => void;
}

/**
 * Subscribes a call to its dialog and media leg. Every handler but `frame` goes through `boundary` (the
 * session's error boundary, bound to the call's scope).
 */
export function listenToLeg(
  dialog: Dialog,
  media: MediaLeg,
  h: LegHandlers,
  boundary: HandlerBoundary,
  log: Logger,
): void {
  dialog.on(
    'ended',
    boundary(({ reason }) => h.ended(reason)),
  );
  media.on('inactive', boundary(h.inactive));
  media.on('failed', boundary(h.failed));
  media.on(
    'dtmf',
    boundary(({ digit }) => h.dtmf(digit, 'rtp')),
  );
  dialog.on(
    'info',
    boundary((info) => {
      // RFC 6086 legacy INFO: only the DTMF bodies we know (Content-Type checked by the parser); anything
      // else was answered 200 by the stack and is ignored here.
      const dtmf = parseInfoDtmf(info.contentType, info.body);
      if (dtmf === undefined) {
        log.debug({ contentType: info.contentType }, 'INFO without DTMF ignored');
        return;
      }
      h.dtmf(dtmf.digit, 'info');
    }),
  );
  media.on('frame', h.frame);
}

/** Resolves when the dialog has ended (at once if it already has); e.g. as our BYE goes out. */
export function dialogEnded(dialog: Dialog): Promise<void> {
  if (dialog.ended) return Promise.resolve();
  return new Promise((resolve) => dialog.once('ended', () => resolve()));
}
