/**
 * Issue 11, replay: the `replay` provider exists only when asked for (ENABLE_REPLAY_PROVIDER or
 * `switchboard replay`), and a tenant's replay credential reaches the provider only with a recording inside
 * RECORDINGS_DIR/<tenant>/ (realpath: no "..", no symlink into another tenant's folder).
 */
import { cp, mkdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withConfinedReplay } from '../../src/replay/tenant-credentials.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const RECORDING = fileURLToPath(new URL('../recordings/goodbye-hangup/', import.meta.url));
const REPLAY_PLAN = 'tenant: acme\nnumbers: ["100"]\nagent: { provider: replay }\n';
const ECHO_PLAN = 'tenant: victim\nnumbers: ["200"]\nagent: { provider: echo, record: true }\n';

describe('replay provider in a production server (no flag)', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({ dialplans: { 'acme.yaml': REPLAY_PLAN, 'victim.yaml': ECHO_PLAN } });
  });
  afterAll(async () => srv?.close());

  it('is not listed, cannot be given a credential, and a dialplan naming it is refused', async () => {
    const list = await srv.api('GET', '/v1/providers');
    expect(list.status).toBe(200);
    const slugs = (list.json.providers as Array<{ slug: string }>).map((p) => p.slug);
    expect(slugs).toContain('echo');
    expect(slugs).not.toContain('replay');
    const put = await srv.api('PUT', '/v1/tenants/acme/credentials/replay', { recording: RECORDING });
    expect(put.status).toBeGreaterThanOrEqual(400);
    expect(put.status).toBeLessThan(500);
    expect(srv.server.dialplans.all().map((d) => d.dialplan.tenant)).toEqual(['victim']);
    expect(srv.logs.join('')).toContain('acme.yaml: agent.provider: unknown provider \\"replay\\"');
  });
});

describe('replay provider with ENABLE_REPLAY_PROVIDER=true', () => {
  let srv: TestServer;
  let victimCall: string;
  let ownCall: string;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'acme.yaml': REPLAY_PLAN, 'victim.yaml': ECHO_PLAN },
      env: { ENABLE_REPLAY_PROVIDER: 'true' },
    });
    victimCall = join(srv.recordingsDir, 'victim', 'call-v1');
    ownCall = join(srv.recordingsDir, 'acme', 'call-a1');
    await cp(RECORDING, victimCall, { recursive: true });
    await cp(RECORDING, ownCall, { recursive: true });
    await mkdir(join(srv.recordingsDir, 'acme-evil'), { recursive: true });
    // A symlink inside acme's own folder that points into the victim's.
    await symlink(victimCall, join(srv.recordingsDir, 'acme', 'link-to-victim'));
  });
  afterAll(async () => srv?.close());

  it('is listed', async () => {
    const slugs = ((await srv.api('GET', '/v1/providers')).json.providers as Array<{ slug: string }>).map(
      (p) => p.slug,
    );
    expect(slugs).toContain('replay');
    expect(
      srv.server.dialplans
        .all()
        .map((d) => d.dialplan.tenant)
        .sort(),
    ).toEqual(['acme', 'victim']);
  });

  it("refuses a recording outside the tenant's own folder and accepts one inside", async () => {
    // The same wrapper main.ts puts between the call manager and the store.
    const calls = withConfinedReplay(srv.server.store, srv.recordingsDir);
    const attempts = [
      victimCall,
      join(srv.recordingsDir, 'acme', '..', 'victim', 'call-v1'),
      join(srv.recordingsDir, 'acme', 'link-to-victim'),
      join(srv.recordingsDir, 'acme'),
      join(srv.recordingsDir, 'acme-evil'),
      '/etc',
      `file://${victimCall}`,
    ];
    for (const recording of attempts) {
      const field = recording.startsWith('file://') ? { url: recording } : { recording };
      const put = await srv.api('PUT', '/v1/tenants/acme/credentials/replay', field);
      expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
      await expect(calls.getCredential('acme', 'replay'), recording).rejects.toMatchObject({
        code: 'AGENT_CREDENTIAL_INVALID',
      });
    }
    await srv.api('PUT', '/v1/tenants/acme/credentials/replay', { recording: ownCall });
    await expect(calls.getCredential('acme', 'replay')).resolves.toMatchObject({
      fields: { recording: ownCall },
    });
    // Other providers' credentials pass through untouched.
    await srv.api('PUT', '/v1/tenants/victim/credentials/echo', {});
    await expect(calls.getCredential('victim', 'echo')).resolves.toMatchObject({ provider: 'echo' });
  });
});

describe('a call answered by replay, over SIP', () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'acme.yaml': REPLAY_PLAN, 'victim.yaml': ECHO_PLAN },
      env: { ENABLE_REPLAY_PROVIDER: 'true' },
    });
    await cp(RECORDING, join(srv.recordingsDir, 'victim', 'call-v1'), { recursive: true });
    await cp(RECORDING, join(srv.recordingsDir, 'acme', 'call-a1'), { recursive: true });
  });
  afterAll(async () => srv?.close());

  /** One sipp call from 127.0.0.3 to acme's number; the server log lines written meanwhile. */
  async function callAcme(localPort: number): Promise<string> {
    const before = srv.logs.length;
    const r = await runSipp({
      scenario: { builtin: 'uac' },
      target: `127.0.0.1:${srv.sipPort}`,
      service: '100',
      localIp: '127.0.0.3',
      localPort,
      mediaPort: localPort + 50,
      durationMs: 1500,
      timeoutMs: 15_000,
    });
    expect(r.timedOut, describeSipp(r)).toBe(false);
    const out = srv.logs.slice(before).join('');
    return out;
  }

  it(
    "never plays another tenant's recording into the call; its own recording is played",
    {
      timeout: 60_000,
    },
    async () => {
      await srv.api('PUT', '/v1/tenants/acme/credentials/replay', {
        recording: join(srv.recordingsDir, 'victim', 'call-v1'),
      });
      const refused = await callAcme(43812);
      expect(refused).toContain("the replay recording is not in the tenant's recordings");
      // The agent never starts: the call ends as a provider failure, not with the caller's BYE.
      expect(refused).toMatch(/"reason":"agent-failed"[^\n]*"msg":"call ended"/);

      // Positive control: the same call with acme's own recording gets past the confinement.
      await srv.api('PUT', '/v1/tenants/acme/credentials/replay', {
        recording: join(srv.recordingsDir, 'acme', 'call-a1'),
      });
      const own = await callAcme(43814);
      expect(own).not.toContain("the replay recording is not in the tenant's recordings");
      // The replay agent ran until the caller hung up (sipp's BYE after its 1.5 s call).
      expect(own).toMatch(/"reason":"caller-bye"[^\n]*"msg":"call ended"/);
      expect(own).not.toContain('agent-failed');
    },
  );
});
