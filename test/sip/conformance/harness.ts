/**
 * The conformance suite's server: the production Switchboard from `startTestServer()` (startServer in
 * main.ts) with a dialplan of the local `echo` agent, or of a provider mock. Every scenario drives it with
 * independent peers (sipp, baresip) and ends by checking that no call and no RTP port is left behind.
 *
 * Backend: the embedded SIP stack by default; `SIGNALING=drachtio` (or `DRACHTIO_HOST` set) runs the same
 * server against a drachtio-server (DRACHTIO_HOST, DRACHTIO_PORT 9022, DRACHTIO_SECRET cymru; where it takes
 * SIP: DRACHTIO_SIP_HOST, DRACHTIO_SIP_PORT 5060). A server that cannot start fails the suite.
 *
 * One drachtio-server serves one application at a time here (every file's server would register for the
 * same INVITEs), so on that backend the files must run one after another (`--no-file-parallelism`, see
 * README.md); a file that finds another file's server still holding drachtio fails at once, saying so,
 * rather than take that file's calls.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { expect } from 'vitest';
import type { LiveCall } from '../../../src/call/call-manager.js';
import { eventually } from '../../support/eventually.js';
import { startTestServer, type TestServer, type TestServerOptions } from '../../support/server.js';

export { eventually };

/** Every number goes to the echo agent: it plays each caller turn back, and `#` asks end_call. */
export const ECHO_DIALPLAN =
  'tenant: conformance\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n';

export interface ServerUnderTest {
  readonly backend: 'embedded' | 'drachtio';
  readonly srv: TestServer;
  /** Where sipp/baresip send SIP. */
  readonly sipHost: string;
  readonly sipPort: number;
  readonly target: string;
  close(): Promise<void>;
}

function backendEnv(): { backend: 'embedded' | 'drachtio'; env: Record<string, string> } {
  const wanted = process.env.SIGNALING ?? (process.env.DRACHTIO_HOST ? 'drachtio' : 'embedded');
  if (wanted !== 'drachtio') return { backend: 'embedded', env: {} };
  return {
    backend: 'drachtio',
    env: {
      SIGNALING: 'drachtio',
      DRACHTIO_HOST: process.env.DRACHTIO_HOST ?? '127.0.0.1',
      DRACHTIO_PORT: process.env.DRACHTIO_PORT ?? '9022',
      DRACHTIO_SECRET: process.env.DRACHTIO_SECRET ?? 'cymru',
      SIP_PUBLIC_HOST: process.env.DRACHTIO_SIP_HOST ?? process.env.DRACHTIO_HOST ?? '127.0.0.1',
      // Media stays here whatever host drachtio-server runs on: RTP is ours, not drachtio's, and the peers
      // (sipp, baresip) are on this machine's loopback.
      SIP_MEDIA_HOST: '127.0.0.1',
    },
  };
}

const DRACHTIO_LOCK = join(tmpdir(), 'switchboard-conformance-drachtio.lock');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the one drachtio-server for this file; throws when another live file holds it. Bounded: 2 tries. */
function lockDrachtio(): () => void {
  const me = `${process.pid}:${threadId}`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(DRACHTIO_LOCK, 'wx');
      writeSync(fd, me);
      closeSync(fd);
      return () => rmSync(DRACHTIO_LOCK, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = readFileSync(DRACHTIO_LOCK, 'utf8').trim();
    const pid = Number(holder.split(':')[0]);
    // A live holder that is not this very worker (a stale lock of ours, or of a dead process, is taken over).
    if (holder !== me && Number.isInteger(pid) && alive(pid)) {
      throw new Error(
        `another conformance file (${holder}) is using drachtio-server: on the drachtio backend run the ` +
          'files serially (npx vitest run --no-file-parallelism test/sip/conformance)',
      );
    }
    rmSync(DRACHTIO_LOCK, { force: true });
  }
  throw new Error(`could not take ${DRACHTIO_LOCK}`);
}

/** Starts the production server for a conformance file (echo dialplan unless `options.dialplans`). */
export async function startConformanceServer(options: TestServerOptions = {}): Promise<ServerUnderTest> {
  const { backend, env } = backendEnv();
  const unlock = backend === 'drachtio' ? lockDrachtio() : () => undefined;
  let srv: TestServer;
  try {
    srv = await startTestServer({
      dialplans: { 'conformance.yaml': ECHO_DIALPLAN },
      logLevel: process.env.CONFORMANCE_LOG ?? 'info',
      ...options,
      env: { ...env, ...options.env },
    });
  } catch (err) {
    unlock();
    throw err;
  }
  const sipHost = backend === 'drachtio' ? (env.SIP_PUBLIC_HOST ?? '127.0.0.1') : '127.0.0.1';
  const sipPort = backend === 'drachtio' ? Number(process.env.DRACHTIO_SIP_PORT ?? 5060) : srv.sipPort;
  return {
    backend,
    srv,
    sipHost,
    sipPort,
    target: `${sipHost}:${sipPort}`,
    close: async () => {
      try {
        await srv.close();
      } finally {
        unlock();
      }
    },
  };
}

/** The call table is empty and every RTP port went back to the pool (run after every scenario). */
export async function expectNothingLeaked(sut: ServerUnderTest, timeoutMs = 10_000): Promise<void> {
  await eventually(() => {
    expect(sut.srv.server.calls.size, 'calls still live').toBe(0);
    expect(sut.srv.server.rtpPorts.inUse, 'RTP ports still leased').toBe(0);
  }, timeoutMs);
}

export interface EndedCall {
  readonly callId: string;
  readonly reason: string;
  readonly rtp: { readonly packetsReceived: number; readonly packetsSent: number };
}

/** The server's own account of every call that ended so far ("call ended" log lines, in order). */
export function endedCalls(sut: ServerUnderTest): EndedCall[] {
  const out: EndedCall[] = [];
  for (const line of sut.srv.logs) {
    if (!line.includes('"call ended"')) continue;
    const entry = JSON.parse(line) as { callId: string; reason: string; rtp: EndedCall['rtp'] };
    out.push({ callId: entry.callId, reason: entry.reason, rtp: entry.rtp });
  }
  return out;
}

/** Waits until the calls that ended after the first `before` ones ended for exactly `reasons`. */
export async function expectEndedSince(
  sut: ServerUnderTest,
  before: number,
  reasons: string[],
): Promise<void> {
  await eventually(() =>
    expect(
      endedCalls(sut)
        .slice(before)
        .map((c) => c.reason),
    ).toEqual(reasons),
  );
}

/** Log lines (parsed) whose message is `msg`. */
export function logsWith(sut: ServerUnderTest, msg: string): Array<Record<string, unknown>> {
  return sut.srv.logs
    .filter((l) => l.includes(`"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.msg === msg);
}

/** The one live call on the server, as soon as it exists (bounded wait). */
export async function liveCall(sut: ServerUnderTest, timeoutMs = 8000): Promise<LiveCall> {
  let found: LiveCall | undefined;
  await eventually(() => {
    found = sut.srv.server.calls.liveCalls()[0];
    expect(found, 'no live call').toBeDefined();
  }, timeoutMs);
  return found!;
}

/** Resolves when `check` is true, polled every 5 ms (for state the test must follow closely), bounded. */
export async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
