/**
 * One clear line instead of a stack trace (issue 19): how the CLI reports an error a person can act on, and
 * the exit code it leaves. `sysexits.h` codes where one fits: 78 configuration, 69 service unavailable (a port in
 * use, the control API unreachable), 66 input missing, 1 anything else.
 */
import { ConfigError, SwitchboardError } from '../errors.js';

export const EXIT = { failure: 1, noInput: 66, unavailable: 69, config: 78 } as const;

/** An error the CLI explains in one line with a chosen exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

interface SystemErrorLike {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  syscall?: unknown;
  cause?: unknown;
}

/** The error's Node system code (EADDRINUSE, ECONNREFUSED, …), looking through `cause` (fetch wraps it). */
export function systemCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as SystemErrorLike).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    e = (e as SystemErrorLike).cause;
  }
  return undefined;
}

/** The one line and the exit code for an error that reached the top of a command. */
export function describeCliError(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CliError) return { line: err.message, exitCode: err.exitCode };
  if (err instanceof ConfigError)
    return { line: `invalid configuration: ${err.message}`, exitCode: EXIT.config };
  const code = systemCode(err);
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
    const e = err as SystemErrorLike;
    const where =
      typeof e.port === 'number' ? `${typeof e.address === 'string' ? e.address : ''}:${e.port}` : undefined;
    const what =
      code === 'EADDRINUSE'
        ? 'is already in use'
        : code === 'EACCES'
          ? 'needs more privileges'
          : 'is not an address of this host';
    return {
      line: `cannot listen${where === undefined ? '' : ` on ${where}`}: the address ${what} (${code})`,
      exitCode: EXIT.unavailable,
    };
  }
  if (err instanceof SwitchboardError) return { line: err.message, exitCode: EXIT.failure };
  const message = err instanceof Error ? err.message : String(err);
  return { line: code === undefined ? message : `${message} (${code})`, exitCode: EXIT.failure };
}

/** Prints `switchboard: <line>` to stderr and exits with the error's code. */
export function failCli(err: unknown): never {
  const { line, exitCode } = describeCliError(err);
  process.stderr.write(`switchboard: ${line.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(exitCode);
}
