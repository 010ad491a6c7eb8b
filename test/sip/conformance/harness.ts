/**
 * The conformance suite's server: the production Switchboard from `startTestServer()` (startServer in
 * main.ts) with a dialplan of the local `echo` agent, or of a provider mock. Every scenario drives it with
 * independent peers (sipp, baresip) and ends by checking that no call and no RTP port is left behind.
 *
 * Backend: the embedded SIP stack by default; `SIGNALING=drachtio` (or `DRACHTIO_HOST` set) runs the same
 * server against a drachtio-server (DRACHTIO_HOST, DRACHTIO_PORT 9022, DRACHTIO_SECRET cymru; where it takes
 * SIP: DRACHTIO_SIP_HOST, DRACHTIO_SIP_PORT 5060). A server that cannot start fails the suite.
 */
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
    },
  };
}

/** Starts the production server for a conformance file (echo dialplan unless `options.dialplans`). */
export async function startConformanceServer(options: TestServerOptions = {}): Promise<ServerUnderTest> {
  const { backend, env } = backendEnv();
  const srv = await startTestServer({
    dialplans: { 'conformance.yaml': ECHO_DIALPLAN },
    logLevel: process.env.CONFORMANCE_LOG ?? 'info',
    ...options,
    env: { ...env, ...options.env },
  });
  const sipHost = backend === 'drachtio' ? (env.SIP_PUBLIC_HOST ?? '127.0.0.1') : '127.0.0.1';
  const sipPort = backend === 'drachtio' ? Number(process.env.DRACHTIO_SIP_PORT ?? 5060) : srv.sipPort;
  return {
    backend,
    srv,
    sipHost,
    sipPort,
    target: `${sipHost}:${sipPort}`,
    close: () => srv.close(),
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
