import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { prettyDestination } from './pretty.js';

export type { Logger } from 'pino';

/**
 * Paths pino censors wherever they occur. Secrets are removed outright; phone numbers, transcripts and
 * payloads are logged only under these keys so an operator can redact them in one place (STYLE.md §7).
 */
export const REDACT_PATHS: readonly string[] = [
  'apiKey',
  '*.apiKey',
  '*.*.apiKey',
  'password',
  '*.password',
  '*.*.password',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  '*.headers.authorization',
  '*.headers["api-key"]',
  '*.headers["x-goog-api-key"]',
  'masterKey',
  '*.masterKey',
  'credential',
  '*.credential',
  'credentials',
  '*.credentials',
];

/** PII keys: kept in logs by default, censored when `redactPii` is set. */
export const PII_PATHS: readonly string[] = [
  'from',
  'to',
  '*.from',
  '*.to',
  'transcript',
  '*.transcript',
  'caller',
];

export interface LoggerSettings {
  level: string;
  redactPii?: boolean;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
  /** `pretty`: one readable line per entry for a terminal (LOG_FORMAT); JSON otherwise. */
  format?: 'json' | 'pretty';
}

export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level,
    base: { service: 'switchboard' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [...REDACT_PATHS, ...(settings.redactPii === true ? PII_PATHS : [])],
      censor: '[redacted]',
    },
  };
  const destination =
    settings.format === 'pretty' ? prettyDestination(settings.destination) : settings.destination;
  return destination === undefined ? pino(options) : pino(options, destination);
}
