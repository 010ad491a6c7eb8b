/**
 * Issue 11, a scan learns nothing: sipvicious (Debian `sipvicious`: svmap, svwar) from 127.0.0.66 against the
 * production server. Without SIP_SILENT_DROP every extension gets the same answer (svwar finds none, by
 * REGISTER, OPTIONS or INVITE; a source outside `allow_from` is told 404 like an unknown number, not 403).
 * With SIP_SILENT_DROP=unrouted scanners and unrouted INVITEs get no answer at all (svmap finds no device),
 * while a victim on 127.0.0.2 is still answered.
 * Ports: sipp on 127.0.0.2, 47400–47419.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACKER_IP, UdpAttacker, rawInvite } from '../support/attacker.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp } from '../support/sipp.js';

const VICTIM_IP = '127.0.0.2';
const DIALPLANS = {
  'open.yaml': 'tenant: open\nnumbers: ["100", "200"]\nagent: { provider: echo }\n',
  // Only 10/8 may call 300: the attacker on 127.0.0.66 must not learn that it exists.
  'closed.yaml': 'tenant: closed\nnumbers: ["300"]\nallow_from: ["10.0.0.0/8"]\nagent: { provider: echo }\n',
};

/** Run a sipvicious tool to completion (hard timeout), returning everything it printed. */
function sipvicious(tool: 'svmap' | 'svwar', args: readonly string[], timeoutMs = 100_000): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-50_000)));
    child.stderr.on('data', (d: Buffer) => (out = (out + d.toString('utf8')).slice(-50_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve(`spawn failed: ${err.message}`);
    });
  });
}

/** Rows of svwar's result table ("| 100 | noauth |"): the extensions it believes exist. */
function foundExtensions(output: string): string[] {
  return [...output.matchAll(/^\|\s*(\d+)\s*\|\s*(\w+)\s*\|/gm)].map((m) => `${m[1]}:${m[2]}`);
}

function svwar(srv: TestServer, method: 'REGISTER' | 'OPTIONS' | 'INVITE'): Promise<string> {
  // -e covers the routed numbers (100, 200), the allow_from-protected one (300) and unknown ones around them.
  return sipvicious('svwar', [
    '-e',
    '90-310',
    '-m',
    method,
    '-b',
    ATTACKER_IP,
    '-p',
    String(srv.sipPort),
    '127.0.0.1',
  ]);
}

describe('sipvicious against the server (no SIP_SILENT_DROP): no extension distinguishable', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ dialplans: DIALPLANS, logLevel: 'warn' });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it.each(['REGISTER', 'OPTIONS', 'INVITE'] as const)(
    'svwar -m %s finds no extension',
    { timeout: 120_000 },
    async (method) => {
      const out = await svwar(srv, method);
      expect(out, out.slice(-3000)).not.toMatch(/Traceback|spawn failed/);
      expect(foundExtensions(out), out.slice(-3000)).toEqual([]);
      // svwar did scan (it reports how it ended), and no scanner INVITE reached a tenant's agent.
      expect(out, out.slice(-3000)).toMatch(/found nothing|no response|not good/i);
      expect(srv.server.calls.liveCalls()).toHaveLength(0);
      console.info(
        `[sip-scan] svwar -m ${method} over 90-310: found ${foundExtensions(out).length} extensions`,
      );
    },
  );

  it('answers an unknown number and an allow_from-protected one identically, whatever the User-Agent', async () => {
    const peer = await UdpAttacker.bind(ATTACKER_IP);
    try {
      const server = { host: '127.0.0.1', port: srv.sipPort };
      const finals = [];
      for (const user of ['999', '300', '12345']) {
        const invite = rawInvite({ user, server, local: { host: peer.host, port: peer.port } });
        peer.send(invite.text, server);
        await peer.until(() => peer.final(invite.callId) !== undefined, 10_000);
        finals.push(peer.final(invite.callId));
      }
      const shapes = finals.map(
        (f) => `${f?.firstLine} [${[...(f?.headers.keys() ?? [])].sort().join(',')}]`,
      );
      expect(finals[0]?.firstLine).toBe('SIP/2.0 404 Not Found');
      expect(new Set(shapes).size).toBe(1);
    } finally {
      peer.close();
    }
  });
});

describe('sipvicious against the server with SIP_SILENT_DROP=unrouted: no answer at all', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: DIALPLANS,
      logLevel: 'warn',
      env: { SIP_SILENT_DROP: 'unrouted' },
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it(
    'svmap finds no SIP device and svwar -m INVITE no extension; the victim still gets OPTIONS and a call',
    {
      timeout: 120_000,
    },
    async () => {
      const map = await sipvicious('svmap', ['-b', ATTACKER_IP, '-p', String(srv.sipPort), '127.0.0.1']);
      expect(map, map.slice(-3000)).not.toMatch(/Traceback|spawn failed/);
      expect(map, map.slice(-3000)).toMatch(/found nothing/i);
      expect(map).not.toMatch(/Switchboard/);
      const war = await svwar(srv, 'INVITE');
      expect(foundExtensions(war), war.slice(-3000)).toEqual([]);
      // svwar's first probe (a random extension) gets no answer: it gives up at once.
      expect(war, war.slice(-3000)).toMatch(/timed out|no server response/i);

      const options = await runSipp({
        scenario: fileURLToPath(new URL('../sip/scenarios/options.xml', import.meta.url)),
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: VICTIM_IP,
        localPort: 47400,
        service: '100',
      });
      expect(options.exitCode, describeSipp(options)).toBe(0);
      const call = await runSipp({
        scenario: fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url)),
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: VICTIM_IP,
        localPort: 47402,
        service: '100',
        durationMs: 500,
        vars: { rtp_port: '48402' },
      });
      expect(call.exitCode, describeSipp(call)).toBe(0);
      console.info(
        '[sip-scan] SIP_SILENT_DROP=unrouted: svmap found no device, svwar no extension; victim answered',
      );
    },
  );

  it('drops an unrouted INVITE without even a 100 Trying, and answers a routed one from the same peer', async () => {
    const peer = await UdpAttacker.bind(ATTACKER_IP);
    try {
      const server = { host: '127.0.0.1', port: srv.sipPort };
      const local = { host: peer.host, port: peer.port };
      const unrouted = rawInvite({ user: '999', server, local });
      const forbidden = rawInvite({ user: '300', server, local });
      const routed = rawInvite({ user: '100', server, local });
      peer.send(unrouted.text, server);
      peer.send(forbidden.text, server);
      peer.send(routed.text, server);
      // Event-driven: once the later, routed INVITE has its answer, the earlier ones would have had theirs.
      expect(await peer.until(() => peer.final(routed.callId) !== undefined, 10_000)).toBe(true);
      expect(peer.final(routed.callId)?.status).toBe(200);
      expect(peer.responses.get(unrouted.callId)).toBeUndefined();
      expect(peer.responses.get(forbidden.callId)).toBeUndefined();
    } finally {
      peer.close();
    }
  });
});
