/**
 * `LOG_FORMAT=pretty`: pino's JSON lines turned into one readable line each for a terminal (issue 19). JSON
 * stays the default and the format for machines; this only re-renders what pino already produced, after its
 * redaction, so nothing censored comes back. `time level [component] msg key=value …`.
 */
import { Writable } from 'node:stream';

const LEVELS: Readonly<Record<number, string>> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO ',
  40: 'WARN ',
  50: 'ERROR',
  60: 'FATAL',
};

/** Keys shown in the line's head (or dropped as noise), not repeated as key=value. */
const HEAD = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'component']);

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s="]/.test(v) || v === '' ? JSON.stringify(v) : v;
  return JSON.stringify(v) ?? String(v);
}

/** One pretty line for one pino JSON line; a line that is not JSON passes through unchanged. */
export function prettyLine(json: string): string {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return json;
    o = parsed as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof o.time === 'string' ? o.time.slice(11, 23) : '';
  const level = LEVELS[Number(o.level)] ?? String(o.level);
  const component = typeof o.component === 'string' ? ` [${o.component}]` : '';
  const err = o.err as { message?: unknown; stack?: unknown } | undefined;
  const rest = Object.entries(o)
    .filter(([k]) => !HEAD.has(k) && k !== 'err')
    .map(([k, v]) => `${k}=${value(v)}`);
  if (err !== undefined && typeof err === 'object')
    rest.push(`err=${value(typeof err.message === 'string' ? err.message : err)}`);
  const msg = typeof o.msg === 'string' ? o.msg : '';
  return `${time} ${level}${component} ${msg}${rest.length > 0 ? `  ${rest.join(' ')}` : ''}`;
}

/** A destination stream for pino that writes pretty lines to `out` (stdout by default). */
export function prettyDestination(out: { write(line: string): unknown } = process.stdout): Writable {
  let pending = '';
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      pending += chunk.toString();
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        out.write(`${prettyLine(pending.slice(0, nl))}\n`);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
      }
      done();
    },
    final(done) {
      if (pending !== '') out.write(`${prettyLine(pending)}\n`);
      done();
    },
  });
}
