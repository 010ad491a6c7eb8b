/**
 * Run sipp (Debian `sip-tester`, 3.6.1 with PCAP/RTP streaming) as a test peer. One process per scenario,
 * `-m 1 -nostdin`, a private temp dir for its logs, and a hard timeout. The result carries sipp's exit code
 * (0 = every call succeeded), the message trace and the unexpected-message log for assertion messages.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIO_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '../sip/scenarios');
/** Pcaps shipped with sip-tester: g711a.pcap (PCMA, 7 s) and dtmf_2833_{0-9,star,pound}.pcap. */
export const SIPP_PCAP_DIR = '/usr/share/sip-tester';

export interface SippOptions {
  /** A scenario file in test/sip/scenarios (`uac-cancel.xml`) or an absolute path, or a built-in (`{ builtin: 'uac' }`). */
  readonly scenario:
    string | { readonly builtin: 'uac' | 'uas' | 'uac_pcap' | 'regexp' | 'branchc' | 'branchs' };
  /** Remote `host:port` (omit for a UAS scenario). */
  readonly target?: string;
  /** Local signalling IP (`-i`), e.g. 127.0.0.2 so sipp and the server never share an address. */
  readonly localIp: string;
  readonly localPort: number;
  readonly transport?: 'udp' | 'tcp';
  /** Media IP/port (`-mi`/`-mp`) for `[media_ip]`/`[media_port]` and RTP playback. */
  readonly mediaIp?: string;
  readonly mediaPort?: number;
  /** Request-URI user (`-s`). */
  readonly service?: string;
  /** `-d`: call length for the built-in uac (ms). */
  readonly durationMs?: number;
  /** `-set name value` for `[$name]` in the scenario. */
  readonly vars?: Readonly<Record<string, string>>;
  readonly calls?: number;
  /** Kill sipp and fail after this long (default 20 s). */
  readonly timeoutMs?: number;
  readonly extraArgs?: readonly string[];
}

export interface SippResult {
  readonly exitCode: number | null;
  readonly timedOut: boolean;
  readonly args: readonly string[];
  /** `-trace_msg` log: every message sent and received. */
  readonly messages: string;
  /** `-trace_err` log: unexpected messages and errors. */
  readonly errors: string;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SippProcess {
  readonly result: Promise<SippResult>;
  /** SIGTERM sipp (e.g. a UAS scenario waiting for a call that is not coming). */
  kill(): void;
}

/** The sipp command line for `options` (exported so tests can show it in failure messages). */
export function sippArgs(options: SippOptions, dir: string): string[] {
  const args: string[] = [];
  if (typeof options.scenario === 'string') {
    const file = options.scenario.startsWith('/') ? options.scenario : join(SCENARIO_DIR, options.scenario);
    args.push('-sf', file);
  } else {
    args.push('-sn', options.scenario.builtin);
  }
  if (options.target !== undefined) args.push(options.target);
  args.push('-i', options.localIp, '-p', String(options.localPort));
  args.push('-t', options.transport === 'tcp' ? 't1' : 'u1');
  args.push('-mi', options.mediaIp ?? options.localIp);
  if (options.mediaPort !== undefined) args.push('-mp', String(options.mediaPort));
  if (options.service !== undefined) args.push('-s', options.service);
  if (options.durationMs !== undefined) args.push('-d', String(options.durationMs));
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push('-set', name, value);
  const timeoutS = Math.ceil((options.timeoutMs ?? 20_000) / 1000);
  args.push(
    '-m',
    String(options.calls ?? 1),
    '-nostdin',
    '-timeout',
    `${timeoutS}s`,
    '-timeout_error',
    '-trace_msg',
    '-message_file',
    join(dir, 'messages.log'),
    '-trace_err',
    '-error_file',
    join(dir, 'errors.log'),
    ...(options.extraArgs ?? []),
  );
  return args;
}

async function readOr(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Start sipp; await `.result` for the outcome. */
export function startSipp(options: SippOptions): SippProcess {
  let killer: () => void = () => undefined;
  const result = (async (): Promise<SippResult> => {
    const dir = await mkdtemp(join(tmpdir(), 'sipp-'));
    const args = sippArgs(options, dir);
    try {
      const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString('utf8')).slice(-20_000)));
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-20_000)));
      let timedOut = false;
      // sipp's own -timeout should fire first; this is the backstop.
      const timer = setTimeout(
        () => {
          timedOut = true;
          child.kill('SIGKILL');
        },
        (options.timeoutMs ?? 20_000) + 5_000,
      );
      killer = () => child.kill('SIGTERM');
      const exitCode = await new Promise<number | null>((resolveExit) => {
        child.on('error', () => resolveExit(null));
        child.on('close', (code) => resolveExit(code));
      });
      clearTimeout(timer);
      return {
        exitCode,
        timedOut,
        args,
        messages: await readOr(join(dir, 'messages.log')),
        errors: await readOr(join(dir, 'errors.log')),
        stdout,
        stderr,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return { result, kill: () => killer() };
}

export async function runSipp(options: SippOptions): Promise<SippResult> {
  return await startSipp(options).result;
}

/** A compact failure description for `expect(…, describeSipp(r))`. */
export function describeSipp(r: SippResult): string {
  return [
    `sipp ${r.args.join(' ')}`,
    `exit=${r.exitCode}${r.timedOut ? ' (killed after timeout)' : ''}`,
    `errors:\n${r.errors.slice(-3000)}`,
    `stderr:\n${r.stderr.slice(-1500)}`,
    `messages:\n${r.messages.slice(-6000)}`,
  ].join('\n');
}
