/**
 * REGISTER as a UAC (issue 13) against a real Kamailio registrar (test/peers/kamailio/registrar.cfg: auth
 * with a fixed credential, registrar + usrloc in memory, 423 below 6 s). The production server (startServer)
 * is driven through its HTTP API only; the calls come from sipp through Kamailio's lookup, their audio from
 * test/support/tone-caller.ts (its own G.711), the echo agent answering.
 * Addresses: Kamailio 127.0.0.120:52060 (the SHA-256 one :52062), sipp and its RTP on 127.0.0.121:52100–52299.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LiveCall } from '../../../src/call/call-manager.js';
import { eventually } from '../../support/eventually.js';
import { Registrar, type LoggedRegister } from '../../support/kamailio-registrar.js';
import { startTestServer, type TestServer } from '../../support/server.js';
import { describeSipp, startSipp } from '../../support/sipp.js';
import { ToneCaller } from '../../support/tone-caller.js';

const KAMAILIO_IP = '127.0.0.120';
const KAMAILIO_PORT = 52060;
const PEER = '127.0.0.121';
const USER = '1001';
const PASSWORD = 'kamailio-Reg-9f3e1c';
const WRONG_PASSWORD = 'not-the-password-77aa';
const SCENARIO = new URL('./scenarios/call-aor.xml', import.meta.url).pathname;

const registration = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  aor: `sip:${USER}@${KAMAILIO_IP}`,
  registrar: `sip:${KAMAILIO_IP}:${KAMAILIO_PORT}`,
  username: USER,
  password: PASSWORD,
  // Below the registrar's 6 s minimum: the first answer is 423, the retry asks for 6 s.
  expires_s: 3,
  transport: 'udp',
  ...overrides,
});

interface View {
  state: string;
  expires_at: string | null;
  last_error: string | null;
  gruu: string | null;
  contact_user: string;
  password: string;
}

function serverMedia(call: LiveCall): { address: string; port: number } {
  const address = /^c=IN IP4 (\S+)/m.exec(call.dialog.localSdp)?.[1];
  const port = Number(/^m=audio (\d+) /m.exec(call.dialog.localSdp)?.[1]);
  if (address === undefined || !(port > 0)) throw new Error('no media address in our SDP');
  return { address, port };
}

const startRegistrar = (): Promise<Registrar> =>
  Registrar.start({
    listenIp: KAMAILIO_IP,
    port: KAMAILIO_PORT,
    username: USER,
    password: PASSWORD,
    minExpiresS: 6,
  });

describe('REGISTER as a UAC against a Kamailio registrar (production server, echo agent)', () => {
  let registrar: Registrar;
  let srv: TestServer;
  let sippPort = 52100;
  // Our own, so that the server restart below finds the stored registrations (the test server's is removed).
  let dataDir = '';

  const get = async (name: string): Promise<View> => {
    const r = await srv.api('GET', `/v1/tenants/acme/registrations/${name}`);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    return r.json as View;
  };

  /** A call from sipp to the AOR through the registrar, tone burst in, echo counted; returns its figures. */
  async function callAor(): Promise<{ echoed: number; tenant: string }> {
    const tone = await ToneCaller.open(PEER, 1, 52200);
    try {
      const liveBefore = srv.server.calls.size;
      const peer = startSipp({
        scenario: SCENARIO,
        target: registrar.address,
        localIp: PEER,
        localPort: sippPort++,
        service: USER,
        vars: { rtp: String(tone.ports[0]), hold: '6000', to_user: 'reception' },
        timeoutMs: 30_000,
      });
      await eventually(
        () => expect(srv.server.calls.size, registrar.log().slice(-4000)).toBeGreaterThan(liveBefore),
        15_000,
      );
      const call = srv.server.calls.liveCalls().at(-1)!;
      tone.start(serverMedia(call));
      // 1 s of 1 kHz; the echo agent plays the turn back once it hears the silence after it.
      tone.burst(1000, 1000);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const started = srv.logs
        .map((l) => JSON.parse(l) as { msg?: string; tenant?: string; callId?: string })
        .filter((l) => l.msg === 'call started')
        .at(-1);
      return { echoed: tone.count(1000), tenant: started?.tenant ?? '' };
    } finally {
      await tone.close();
    }
  }

  beforeAll(async () => {
    registrar = await startRegistrar();
    dataDir = await mkdtemp(join(tmpdir(), 'sb-register-'));
    srv = await startTestServer({
      dataDir,
      dialplans: { 'acme.yaml': `tenant: acme\nnumbers: ["${USER}"]\nagent: { provider: echo }\n` },
      env: { SIP_REGISTER_KEEPALIVE_S: '2' },
      logLevel: 'debug',
    });
  }, 60_000);

  afterAll(async () => {
    await srv?.close();
    await registrar?.stop();
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  });

  it('registers within seconds (423 → Min-Expires, digest with qop=auth), then refreshes before expiry', async () => {
    const put = await srv.api('PUT', '/v1/tenants/acme/registrations/pbx', registration());
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    expect(['registering', 'registered']).toContain(put.json.state);
    await eventually(async () => expect((await get('pbx')).state).toBe('registered'), 10_000);
    const first = await get('pbx');
    const grantedMs = Date.parse(first.expires_at ?? '') - Date.now();
    // Granted 6 s (the registrar's minimum), less the time since the 200.
    expect(grantedMs).toBeGreaterThan(2_000);
    expect(grantedMs).toBeLessThanOrEqual(6_000);
    // RFC 5627: the registrar offered a public GRUU for our +sip.instance.
    expect(first.gruu).toMatch(/^sip:/);
    // Kamailio authenticates before save() checks the interval: 401, then 423 to the credentials (nc=1),
    // then the retry with Min-Expires under the same nonce (nc=2) is saved.
    const sent = registrar.registers();
    expect(sent.map((r) => r.expires)).toEqual(['3', '3', '6']);
    expect(sent[0]?.authorization).toBe('');
    expect(sent[1]?.authorization).toMatch(/^Digest .*algorithm=MD5, qop=auth, nc=00000001/);
    expect(sent[2]?.authorization).toMatch(/nc=00000002/);
    expect(sent[2]?.contact).toContain(`+sip.instance=`);
    expect(sent[2]?.contact).toContain(first.contact_user);

    // The refresh (at 0.8 × 6 s) reuses the nonce with nc=2: no new challenge, expires_at moves on.
    const challenges = registrar.challenges();
    await eventually(() => expect(registrar.saved()).toBeGreaterThanOrEqual(2), 15_000);
    const refresh = registrar.registers()[3];
    expect(refresh?.authorization).toMatch(/nc=00000003/);
    expect(registrar.challenges()).toBe(challenges);
    await eventually(async () => {
      const again = await get('pbx');
      expect(Date.parse(again.expires_at ?? '')).toBeGreaterThan(Date.parse(first.expires_at ?? ''));
    }, 5_000);
    // Keep-alives (SIP_REGISTER_KEEPALIVE_S=2): OPTIONS to the registrar while registered.
    await eventually(() => expect(registrar.log()).toMatch(/PEER request OPTIONS sip:127\.0\.0\.120:52060 /));
    const metrics = await fetch(`${srv.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${srv.adminToken}` },
    }).then((r) => r.text());
    expect(metrics).toMatch(/switchboard_sip_registrations\{state="registered"[^}]*\} 1/);
    console.log('[measure] register', {
      registers: registrar.registers().length,
      challenges: registrar.challenges(),
      grantedMs,
    });
  }, 45_000);

  it('a call from sipp through Kamailio to the AOR reaches the server by its contact and is answered with audio', async () => {
    const contactUser = (await get('pbx')).contact_user;
    const r = await callAor();
    console.log('[measure] call via registrar', r);
    expect(r.tenant).toBe('acme');
    expect(registrar.log()).toContain(`PEER lookup forwarded to sip:${contactUser}@127.0.0.1:${srv.sipPort}`);
    // 1 s = 50 frames sent; the echo of (nearly) all of them came back (±10 for jitter on a loaded box).
    expect(r.echoed).toBeGreaterThan(40);
  }, 45_000);

  it('a wrong password ends in failed with the reason; metrics count it', async () => {
    const put = await srv.api(
      'PUT',
      '/v1/tenants/acme/registrations/wrong',
      registration({ password: WRONG_PASSWORD, expires_s: 60 }),
    );
    expect(put.status).toBe(201);
    await eventually(async () => expect((await get('wrong')).state).toBe('failed'), 10_000);
    const view = await get('wrong');
    expect(view.last_error).toBe('401 Unauthorized after credentials');
    expect(view.expires_at).toBeNull();
    const metrics = await fetch(`${srv.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${srv.adminToken}` },
    }).then((r) => r.text());
    expect(metrics).toMatch(/switchboard_sip_registrations\{state="failed"[^}]*\} 1/);
    expect(metrics).toMatch(/switchboard_sip_registration_failures_total\{[^}]*\} [1-9]/);
    expect((await srv.api('DELETE', '/v1/tenants/acme/registrations/wrong')).status).toBe(204);
    expect((await srv.api('GET', '/v1/tenants/acme/registrations/wrong')).status).toBe(404);
  }, 30_000);

  it('answers a SHA-256 challenge (RFC 7616) from a registrar that asks for it', async () => {
    const sha = await Registrar.start({
      listenIp: KAMAILIO_IP,
      port: KAMAILIO_PORT + 2,
      username: USER,
      password: PASSWORD,
      minExpiresS: 6,
      sha256: true,
    });
    try {
      const put = await srv.api(
        'PUT',
        '/v1/tenants/acme/registrations/sha',
        registration({ registrar: `sip:${KAMAILIO_IP}:${KAMAILIO_PORT + 2}`, expires_s: 60 }),
      );
      expect(put.status).toBe(201);
      await eventually(async () => expect((await get('sha')).state).toBe('registered'), 10_000);
      const answered = sha.registers().filter((r) => r.authorization !== '');
      expect(answered[0]?.authorization).toMatch(/algorithm=SHA-256, qop=auth, nc=00000001/);
      expect(sha.saved()).toBe(1);
      expect((await srv.api('DELETE', '/v1/tenants/acme/registrations/sha')).status).toBe(204);
      await eventually(() => expect(sha.registers().at(-1)?.expires).toBe('0'));
    } finally {
      await sha.stop();
    }
  }, 30_000);

  it('refuses bad input with 400 and issues, and a transport the server does not listen on with 422, changing nothing', async () => {
    const bad = await srv.api(
      'PUT',
      '/v1/tenants/acme/registrations/pbx',
      registration({ aor: 'not-a-uri', expires_s: -5 }),
    );
    expect(bad.status).toBe(400);
    expect(bad.json.error.issues.length).toBeGreaterThanOrEqual(1);
    const tls = await srv.api(
      'PUT',
      '/v1/tenants/acme/registrations/tls',
      registration({ transport: 'tls' }),
    );
    // The test server does not listen on TLS.
    expect(tls.status).toBe(422);
    expect(tls.json.error.message).toBe('transport tls is not enabled (SIP_TRANSPORTS)');
    const list = await srv.api('GET', '/v1/tenants/acme/registrations');
    expect(list.json.registrations.map((r: { name: string }) => r.name)).toEqual(['pbx']);
    expect((await get('pbx')).state).toBe('registered');
  }, 30_000);

  it('registers over TCP and refreshes on the same connection', async () => {
    const before = registrar.registers().length;
    const put = await srv.api(
      'PUT',
      '/v1/tenants/acme/registrations/tcp',
      registration({ transport: 'tcp' }),
    );
    expect(put.status).toBe(201);
    await eventually(async () => expect((await get('tcp')).state).toBe('registered'), 10_000);
    // 6 s granted: the refresh comes 4.8 s later, from the same TCP connection (same source port). The UDP
    // binding's refreshes interleave; this binding's Contact says transport=tcp.
    const ours = (): LoggedRegister[] =>
      registrar
        .registers()
        .slice(before)
        .filter((r) => r.contact.includes(';transport=tcp>'));
    await eventually(() => expect(ours().length).toBeGreaterThanOrEqual(4), 15_000);
    expect(ours().every((r) => r.proto === 'tcp')).toBe(true);
    expect(new Set(ours().map((r) => r.source)).size).toBe(1);
    expect((await get('tcp')).state).toBe('registered');
    expect((await srv.api('DELETE', '/v1/tenants/acme/registrations/tcp')).status).toBe(204);
    await eventually(() => expect(ours().at(-1)).toMatchObject({ proto: 'tcp', expires: '0' }));
  }, 30_000);

  it('the password never appears in logs or API answers', async () => {
    const one = await srv.api('GET', '/v1/tenants/acme/registrations/pbx');
    const list = await srv.api('GET', '/v1/tenants/acme/registrations');
    for (const body of [JSON.stringify(one.json), JSON.stringify(list.json)]) {
      expect(body).not.toContain(PASSWORD);
      expect(body).not.toContain(WRONG_PASSWORD);
    }
    expect(one.json.password).toBe('********');
    const logs = srv.logs.join('\n');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain(WRONG_PASSWORD);
  });

  it('re-registers after a registrar restart (its in-memory bindings gone), and calls reach us again', async () => {
    await registrar.stop();
    const restartedAt = Date.now();
    registrar = await startRegistrar();
    // The fresh registrar knows nothing; our next refresh (old nonce refused → new challenge) binds again.
    await eventually(() => expect(registrar.saved()).toBeGreaterThanOrEqual(1), 20_000);
    await eventually(async () => {
      const view = await get('pbx');
      expect(view.state).toBe('registered');
      expect(Date.parse(view.expires_at ?? '')).toBeGreaterThan(restartedAt);
    }, 10_000);
    const r = await callAor();
    console.log('[measure] call after registrar restart', r, { registers: registrar.registers().length });
    expect(r.tenant).toBe('acme');
    expect(r.echoed).toBeGreaterThan(40);
  }, 60_000);

  it('resumes stored registrations when the server starts again, and DELETE unregisters with Expires: 0', async () => {
    const contactUser = (await get('pbx')).contact_user;
    await srv.close();
    const savedBefore = registrar.saved();
    srv = await startTestServer({
      dataDir,
      dialplans: { 'acme.yaml': `tenant: acme\nnumbers: ["${USER}"]\nagent: { provider: echo }\n` },
    });
    await eventually(async () => {
      const r = await srv.api('GET', '/v1/tenants/acme/registrations/pbx');
      expect(r.status, srv.logs.filter((l) => /regist/i.test(l)).join('\n')).toBe(200);
      expect(r.json.state).toBe('registered');
    }, 10_000);
    expect(registrar.saved()).toBeGreaterThan(savedBefore);
    // The same contact user and instance: the registrar replaced the binding rather than adding one.
    expect((await get('pbx')).contact_user).toBe(contactUser);
    const del = await srv.api('DELETE', '/v1/tenants/acme/registrations/pbx');
    expect(del.status).toBe(204);
    await eventually(() => {
      expect(registrar.registers().at(-1)?.expires).toBe('0');
      expect(registrar.registers().at(-1)?.contact).toContain(contactUser);
    });
    expect((await srv.api('GET', '/v1/tenants/acme/registrations/pbx')).status).toBe(404);
  }, 60_000);
});
