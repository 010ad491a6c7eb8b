/**
 * `switchboard serve --instances 2` from dist (built by test/global-setup.ts): two real server processes on
 * one host, each answering sipp on its own SIP port with RTP from its own slice; the supervisor forwards
 * SIGTERM and both children exit; a child whose supervisor is SIGKILLed drains itself; a dead child is not
 * restarted and makes the supervisor's exit status 1.
 * Addresses: servers on 127.0.0.95 (SIP 49500–49501/udp, HTTP 49510–49511, RTP 49520–49559), sipp on
 * 127.0.0.96 (49560–49579, media 49580–49599).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { CLI_PATH } from '../support/server-process.js';

const HOST = '127.0.0.95';
const PEER = '127.0.0.96';
const SIP_BASE = 49500;
const HTTP_BASE = 49510;
const RTP_MIN = 49520;
const RTP_MAX = 49559;
const ECHO_DIALPLAN = `tenant: inst
numbers: ['*']
agent:
  provider: echo
  greeting: 'hello'
  limits: { max_duration_s: 60, idle_timeout_s: 30 }
  record: false
`;

interface Supervisor {
  readonly child: ChildProcess;
  readonly root: string;
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running: Supervisor[] = [];

async function startSupervisor(
  instances: number,
  env: Record<string, string> = {},
  args: string[] = [],
): Promise<Supervisor> {
  const root = await mkdtemp(join(tmpdir(), 'sb-inst-'));
  await mkdir(join(root, 'dialplans'));
  await writeFile(join(root, 'dialplans', 'inst.yaml'), ECHO_DIALPLAN);
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--instances', String(instances), ...args], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: root,
      SIP_HOST: HOST,
      SIP_PUBLIC_HOST: HOST,
      SIP_PORT: String(SIP_BASE),
      SIP_TRANSPORTS: 'udp',
      HTTP_HOST: HOST,
      HTTP_PORT: String(HTTP_BASE),
      RTP_PORT_MIN: String(RTP_MIN),
      RTP_PORT_MAX: String(RTP_MAX),
      DATA_DIR: join(root, 'data'),
      DIALPLANS_DIR: join(root, 'dialplans'),
      RECORDINGS_DIR: join(root, 'recordings'),
      INSTANCE_ID: 'itest',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) if (lines.length < 5000) lines.push(line);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const sup = { child, root, lines, exited };
  running.push(sup);
  return sup;
}

/** JSON log lines with this `msg`. */
function logs(sup: Supervisor, msg: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of sup.lines) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg) out.push(entry);
    } catch {
      // a partial line
    }
  }
  return out;
}

/** Child pids from the supervisor's "instance started" lines. */
async function childPids(sup: Supervisor, count: number): Promise<number[]> {
  await eventually(() => expect(logs(sup, 'instance started')).toHaveLength(count), 10_000);
  return logs(sup, 'instance started').map((e) => Number(e.pid));
}

async function readyz(port: number): Promise<number> {
  const res = await fetch(`http://${HOST}:${port}/readyz`, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status;
}

async function waitReady(sup: Supervisor, ports: readonly number[]): Promise<void> {
  await eventually(async () => {
    for (const port of ports) expect(await readyz(port)).toBe(200);
  }, 20_000).catch((err: unknown) => {
    throw new Error(`instances not ready: ${String(err)}\n${sup.lines.slice(-30).join('\n')}`);
  });
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

afterEach(async () => {
  for (const sup of running.splice(0)) {
    const pids = logs(sup, 'instance started').map((e) => Number(e.pid));
    sup.child.kill('SIGKILL');
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await sup.exited;
    await rm(sup.root, { recursive: true, force: true });
  }
});

describe('serve --instances 2', () => {
  it('runs two servers on consecutive SIP/HTTP ports with disjoint RTP slices; SIGTERM stops both', async () => {
    const sup = await startSupervisor(2);
    const pids = await childPids(sup, 2);
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(sup.child.pid);
    await waitReady(sup, [HTTP_BASE, HTTP_BASE + 1]);

    // The dispatcher.list lines Kamailio needs, one per instance.
    expect(sup.lines).toContain(`1 sip:${HOST}:${SIP_BASE} 0 0 duid=itest-0`);
    expect(sup.lines).toContain(`1 sip:${HOST}:${SIP_BASE + 1} 0 0 duid=itest-1`);

    // Each instance answers an independent peer on its own port, and says who it is.
    const listening = logs(sup, 'switchboard listening');
    expect(listening.map((e) => e.instance).sort()).toEqual(['itest-0', 'itest-1']);
    const slices = new Map<number, [number, number]>();
    for (const e of listening) {
      const sip = e.sip as { port: number };
      slices.set(sip.port, e.rtpPorts as [number, number]);
    }
    const s0 = slices.get(SIP_BASE)!;
    const s1 = slices.get(SIP_BASE + 1)!;
    expect(s0[0]).toBeGreaterThanOrEqual(RTP_MIN);
    expect(s0[1]).toBeLessThan(s1[0]);
    expect(s1[1]).toBeLessThanOrEqual(RTP_MAX);

    for (const [i, port] of [SIP_BASE, SIP_BASE + 1].entries()) {
      const options = await runSipp({
        scenario: 'options.xml',
        target: `${HOST}:${port}`,
        localIp: PEER,
        localPort: 49560 + i,
        service: 'ping',
        timeoutMs: 10_000,
      });
      expect(options.exitCode, describeSipp(options)).toBe(0);

      // A call: answered by that instance, with RTP from that instance's slice.
      const call = await runSipp({
        scenario: { builtin: 'uac' },
        target: `${HOST}:${port}`,
        localIp: PEER,
        localPort: 49570 + i,
        mediaPort: 49580 + i * 4,
        service: 'agent',
        durationMs: 500,
        timeoutMs: 15_000,
      });
      expect(call.exitCode, describeSipp(call)).toBe(0);
      const answer = /SIP\/2\.0 200 OK[\s\S]*?^m=audio (\d+) /m.exec(call.messages);
      const rtpPort = Number(answer?.[1]);
      const slice = slices.get(port)!;
      expect(rtpPort, describeSipp(call)).toBeGreaterThanOrEqual(slice[0]);
      expect(rtpPort).toBeLessThanOrEqual(slice[1]);
    }

    sup.child.kill('SIGTERM');
    const exit = await within(sup.exited, 20_000, 'the supervisor exits after SIGTERM');
    expect(exit, sup.lines.slice(-20).join('\n')).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(alive(pid), `instance pid ${pid} still running`).toBe(false);
    expect(logs(sup, 'instance exited').map((e) => e.code)).toEqual([0, 0]);
  });

  it('instances whose supervisor is SIGKILLed stop themselves (detached, they would serve on)', async () => {
    const sup = await startSupervisor(2);
    const pids = await childPids(sup, 2);
    await waitReady(sup, [HTTP_BASE, HTTP_BASE + 1]);
    sup.child.kill('SIGKILL');
    await sup.exited;
    await eventually(() => {
      for (const pid of pids) expect(alive(pid), `instance pid ${pid} still running`).toBe(false);
    }, 20_000);
  });

  it('a dead instance is not restarted; the other keeps answering and the exit status is 1', async () => {
    const sup = await startSupervisor(2);
    const pids = await childPids(sup, 2);
    await waitReady(sup, [HTTP_BASE, HTTP_BASE + 1]);
    process.kill(pids[0]!, 'SIGKILL');
    await eventually(() => expect(logs(sup, 'instance exited unexpectedly; not restarted')).toHaveLength(1));
    // Still one "instance started" per child: nothing was forked again.
    await new Promise((r) => setTimeout(r, 500));
    expect(logs(sup, 'instance started')).toHaveLength(2);
    const options = await runSipp({
      scenario: 'options.xml',
      target: `${HOST}:${SIP_BASE + 1}`,
      localIp: PEER,
      localPort: 49562,
      service: 'ping',
      timeoutMs: 10_000,
    });
    expect(options.exitCode, describeSipp(options)).toBe(0);
    sup.child.kill('SIGTERM');
    const exit = await within(sup.exited, 20_000, 'the supervisor exits after SIGTERM');
    expect(exit).toEqual({ code: 1, signal: null });
    expect(alive(pids[1]!)).toBe(false);
  });

  it('refuses a layout that cannot work (SIP_PORT 0) with EX_CONFIG before forking anything', async () => {
    const sup = await startSupervisor(2, { SIP_PORT: '0' });
    const exit = await within(sup.exited, 10_000, 'the supervisor exits');
    expect(exit.code).toBe(78);
    expect(sup.lines.join('\n')).toContain('SIP_PORT');
    expect(logs(sup, 'instance started')).toHaveLength(0);
  });
});
