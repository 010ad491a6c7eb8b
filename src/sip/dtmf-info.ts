/**
 * DTMF carried in SIP INFO bodies (the pre-RFC 4733 habit of many PBXs and phones):
 * - `application/dtmf-relay` (Cisco/SIP INFO): `Signal=5\r\nDuration=160\r\n`
 * - `application/dtmf`: the digit alone (some send the RFC 4733 event code, e.g. `10` for `*`).
 * Never throws; anything unreadable is `undefined`.
 */

import { DTMF_EVENT_DIGITS, type DtmfDigit } from '../dtmf-digits.js';

export interface InfoDtmf {
  readonly digit: DtmfDigit;
  /** Tone length when the sender said so; undefined otherwise. */
  readonly durationMs?: number;
}

const EVENT_DIGITS = DTMF_EVENT_DIGITS;

const MAX_BODY_CHARS = 1024;
const MAX_DURATION_MS = 60_000;

/** A digit as written, or as an RFC 4733 event code (`10` → `*`, `11` → `#`, `12`–`15` → A–D). */
export function normalizeDigit(raw: string): DtmfDigit | undefined {
  const value = raw.trim().toUpperCase();
  if (/^\d{1,2}$/.test(value)) return EVENT_DIGITS[Number(value)];
  return EVENT_DIGITS.find((d) => d === value);
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

function parseDuration(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^\d{1,6}$/.test(raw.trim())) return undefined;
  const ms = Number(raw.trim());
  return ms > 0 && ms <= MAX_DURATION_MS ? ms : undefined;
}

/** `Signal=5\r\nDuration=160` (keys case-insensitive, any line ending, blanks around `=` tolerated). */
function parseDtmfRelay(body: string): InfoDtmf | undefined {
  const fields = new Map<string, string>();
  for (const line of body.split(/\r\n|\r|\n/)) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    fields.set(line.slice(0, eq).trim().toLowerCase(), line.slice(eq + 1).trim());
  }
  const signal = fields.get('signal');
  if (signal === undefined) return undefined;
  const digit = normalizeDigit(signal);
  if (!digit) return undefined;
  const durationMs = parseDuration(fields.get('duration'));
  return durationMs === undefined ? { digit } : { digit, durationMs };
}

/** Read a DTMF digit from an INFO request's Content-Type and body; undefined if it is not DTMF. */
export function parseInfoDtmf(contentType: string, body: string): InfoDtmf | undefined {
  if (typeof body !== 'string' || body.length > MAX_BODY_CHARS) return undefined;
  switch (mediaType(contentType)) {
    case 'application/dtmf-relay':
      return parseDtmfRelay(body);
    case 'application/dtmf': {
      const digit = normalizeDigit(body);
      return digit ? { digit } : undefined;
    }
    default:
      return undefined;
  }
}

/** The body we send for an outbound INFO DTMF (`application/dtmf-relay`). */
export function formatDtmfRelay(digit: DtmfDigit, durationMs = 160): string {
  return `Signal=${digit}\r\nDuration=${Math.round(durationMs)}\r\n`;
}

export type { DtmfDigit };
