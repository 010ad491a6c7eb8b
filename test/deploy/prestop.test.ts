/**
 * The StatefulSet's preStop hook, run as the kubelet would (`node -e <script>` with the container's
 * environment) against the production server from dist while sipp holds a call: the hook starts the drain
 * over the API and does not return while the call is up (the kubelet's SIGTERM after it would mean "stop
 * now"); the caller's own BYE ends the call, and the server then exits 0 by itself.
 * Addresses: server SIP 127.0.0.95:49502/udp, sipp 127.0.0.97:49564 (media 49590).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { eventually } from '../support/eventually.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeSipp, startSipp } from '../support/sipp.js';

const MANIFEST = fileURLToPath(
  new URL('../../deploy/kubernetes/switchboard-statefulset.yaml', import.meta.url),
);
const CALL_MS = 4000;

function preStopScript(): string {
  const sts = parseYaml(readFileSync(MANIFEST, 'utf8'));
  const container = sts.spec.template.spec.containers.find((c: any) => c.name === 'switchboard');
  const command = container.lifecycle.preStop.exec.command as string[];
  expect(command.slice(0, 2)).toEqual(['node', '-e']);
  return command[2]!;
}

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.close(2000);
  server = undefined;
});

it('preStop drains a real server: it waits out the call in progress, then the server exits 0 by itself', async () => {
  server = await startServerProcess({
    sipHost: '127.0.0.95',
    sipPort: 49502,
    logLevel: 'info',
    dialplans: {
      'prestop.yaml':
        "tenant: prestop\nnumbers: ['*']\nagent:\n  provider: echo\n  greeting: 'hi'\n  record: false\n",
    },
  });
  const sipp = startSipp({
    scenario: { builtin: 'uac' },
    target: '127.0.0.95:49502',
    localIp: '127.0.0.97',
    localPort: 49564,
    mediaPort: 49590,
    service: 'agent',
    durationMs: CALL_MS,
    timeoutMs: 20_000,
  });
  await eventually(() => expect(server!.logsWithMsg('call started')).toHaveLength(1), 10_000);

  const hook = spawn(process.execPath, ['-e', preStopScript()], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      POD_IP: '127.0.0.1',
      HTTP_PORT: String(server.httpPort),
      ADMIN_TOKEN: server.adminToken,
    },
    stdio: 'ignore',
  });
  let hookExitedAt: number | undefined;
  const hookExited = new Promise<void>((resolve) =>
    hook.once('exit', () => {
      hookExitedAt = Date.now();
      resolve();
    }),
  );
  try {
    // The drain is on (readiness fails, so Kubernetes and Kamailio stop sending calls) ...
    await eventually(async () => {
      const res = await fetch(`${server!.baseUrl}/readyz`);
      await res.arrayBuffer();
      expect(res.status).toBe(503);
    });
    const drain = await server.api('GET', '/v1/admin/drain');
    expect(drain.json).toMatchObject({ state: 'draining', trigger: 'api', callsRemaining: 1 });
    // ... while the call goes on, and the hook has not returned.
    expect(server.exit).toBeUndefined();
    expect(hookExitedAt).toBeUndefined();

    // The caller hangs up after CALL_MS (sipp's BYE, answered 200: the server did not end the call).
    const call = await sipp.result;
    const callEndedAt = Date.now();
    expect(call.exitCode, describeSipp(call)).toBe(0);
    // Not returned before the call ended (sipp exits right after its BYE's 200; the hook polls every 2 s).
    expect(hookExitedAt === undefined || hookExitedAt >= callEndedAt - 500, 'hook returned early').toBe(true);
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.logsWithMsg('stopped')).toHaveLength(1);
    await Promise.race([hookExited, new Promise((r) => setTimeout(r, 3000))]);
  } finally {
    hook.kill('SIGKILL');
    sipp.kill();
  }
});
