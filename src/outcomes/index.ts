/**
 * The outcomes room's public constructors (issue 16): the call history for the configured store and the
 * observer factory the call manager shows every call to. Wired in main.ts.
 */
import type { CallObserverFactory } from '../call/call-ports.js';
import type { Config } from '../config/config.js';
import type { Logger } from '../observability/logger.js';
import { startRetention, type CallHistory } from './call-history.js';
import type { CallRecord } from './cdr.js';
import { CallOutcome } from './call-outcome.js';
import { FileCallHistory } from './history-file.js';
import { RedisCallHistory } from './history-redis.js';
import { loadPriceTable, type PriceTable } from './prices.js';

export type { CallHistory, HistoryPage, HistoryQuery } from './call-history.js';
export { MAX_PAGE, decodeCursor, startRetention } from './call-history.js';
export type { CallDetailRecord, CallRecord } from './cdr.js';
import type { TranscriptTurn } from './transcript.js';

export type { TranscriptTurn } from './transcript.js';

/** Redis when REDIS_URL is set (same key prefix as the tenant store), else files under DATA_DIR. */
export function createCallHistory(
  config: Pick<Config, 'REDIS_URL' | 'DATA_DIR' | 'CALL_HISTORY_RETENTION_DAYS'>,
  logger: Logger,
  keyPrefix = 'switchboard:',
): CallHistory {
  return config.REDIS_URL === undefined
    ? new FileCallHistory(config.DATA_DIR)
    : new RedisCallHistory({
        url: config.REDIS_URL,
        keyPrefix,
        retentionDays: config.CALL_HISTORY_RETENTION_DAYS,
        logger,
      });
}

export async function loadPrices(config: Pick<Config, 'PRICES_FILE'>): Promise<PriceTable | undefined> {
  return config.PRICES_FILE === undefined ? undefined : loadPriceTable(config.PRICES_FILE);
}

export interface CallOutcomesOptions {
  readonly history: CallHistory;
  readonly prices?: PriceTable;
  readonly logger: Logger;
  /** The recording folder of a call (RECORDINGS_DIR/<tenant>/<id>). */
  readonly recordingDir: (tenant: string, callId: string) => string;
  /** The dialplan file that routes a call for `tenant` to `to`. */
  readonly route: (tenant: string, to: string) => string | null;
  /** Each ended call's record once the history write settled (main.ts: the `call.ended` webhook). */
  readonly onRecord?: (record: CallRecord) => void;
}

export interface CallOutcomes extends CallObserverFactory {
  /** The transcript so far of a call in progress on this instance. */
  liveTranscript(callId: string): readonly TranscriptTurn[] | undefined;
}

export function createCallOutcomes(options: CallOutcomesOptions): CallOutcomes {
  const live = new Map<string, CallOutcome>();
  return {
    liveTranscript: (id) => live.get(id)?.transcript(),
    open: (call) => {
      const outcome = new CallOutcome({
        call,
        route: options.route(call.tenant, call.to),
        history: options.history,
        ...(options.prices === undefined ? {} : { prices: options.prices }),
        ...(call.profile.record ? { recordingDir: options.recordingDir(call.tenant, call.id) } : {}),
        logger: options.logger.child({ callId: call.id, tenant: call.tenant, component: 'outcomes' }),
        onRecord: (record) => {
          live.delete(call.id);
          options.onRecord?.(record);
        },
      });
      live.set(call.id, outcome);
      return outcome;
    },
  };
}

export interface CallOutcomesService {
  readonly history: CallHistory;
  readonly observer: CallOutcomes;
  close(): Promise<void>;
}

/**
 * The history for the configured store (pruned now and hourly to CALL_HISTORY_RETENTION_DAYS), the price
 * table (a bad PRICES_FILE fails the start) and the observer factory over both.
 */
export async function startCallOutcomes(
  config: Pick<Config, 'REDIS_URL' | 'DATA_DIR' | 'CALL_HISTORY_RETENTION_DAYS' | 'PRICES_FILE'>,
  logger: Logger,
  options: Pick<CallOutcomesOptions, 'recordingDir' | 'route' | 'onRecord'> & { readonly keyPrefix: string },
): Promise<CallOutcomesService> {
  const prices = await loadPrices(config);
  const history = createCallHistory(config, logger, options.keyPrefix);
  const stop = startRetention(history, config.CALL_HISTORY_RETENTION_DAYS, (err) =>
    logger.warn({ err }, 'call history prune failed'),
  );
  const observer = createCallOutcomes({
    history,
    ...(prices === undefined ? {} : { prices }),
    logger,
    recordingDir: options.recordingDir,
    route: options.route,
    ...(options.onRecord === undefined ? {} : { onRecord: options.onRecord }),
  });
  return {
    history,
    observer,
    close: async () => {
      stop();
      await history.close();
    },
  };
}
