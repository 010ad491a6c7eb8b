/**
 * `serve`'s signals (issue 12): the first SIGTERM drains (new calls refused, calls in progress finish, then
 * exit 0; DRAIN_TIMEOUT_S bounds it), and a drain started over the API ends the process the same way. A
 * second SIGTERM, or SIGINT (Ctrl-C), ends every call at once with a BYE and exits.
 */
import type { DrainController } from '../cluster/drain.js';
import type { Logger } from '../observability/logger.js';

export interface ShutdownOptions {
  readonly server: { readonly drain: DrainController; close(): Promise<void> };
  readonly logger: Logger;
  readonly signals: Pick<NodeJS.Process, 'on'>;
  readonly exit: (code: number) => void;
}

export function installShutdown(options: ShutdownOptions): void {
  const { server, logger, exit } = options;
  let closing = false;
  // However the drain ended (every call done, the deadline's goodbyes, a forced stop): stop and exit.
  void server.drain.done.then((outcome) => {
    if (closing) return;
    closing = true;
    server.close().then(
      () => {
        logger.info({ outcome }, 'stopped');
        exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signal === 'SIGTERM' && server.drain.state === 'serving') {
      logger.info({ signal }, 'shutting down gracefully');
      server.drain.start(signal);
      return;
    }
    if (server.drain.state === 'stopped') return; // already closing
    logger.info({ signal }, 'shutting down now: every call gets a BYE');
    void server.drain.stopNow();
  };
  options.signals.on('SIGINT', onSignal);
  options.signals.on('SIGTERM', onSignal);
}
