/**
 * Outbound calls through the API (issue 6): `POST /v1/calls` dials a sipp UAS (RTP echo) or an auto-answering
 * baresip on 127.0.0.2, the call is listed as outbound and hung up with `DELETE`; failures carry the SIP
 * status; the tenant's `sip-trunk` credential supplies the trunk and digest credentials.
 * Ports on 127.0.0.2: sipp 43700–43709 (media +50), baresip SIP 43710, ctrl 43711, RTP 43720–43739.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMs, readPcm16Wav, runBaresip } from '../support/baresip.js';
import { expectNoSecretsIn } from '../support/secrets.js';
import { describeSipp, SCENARIO_DIR, startSipp, type SippOptions } from '../support/sipp.js';
import { allServerLogs, startTestServer, type TestServer } from '../support/server.js';

const PEER = '127.0.0.2';
const DIALPLAN = {
  'demo.yaml':
    'tenant: demo\nnumbers: ["100"]\nagent: { provider: echo, greeting: "Hello, this is Switchboard." }\n',
};
const DIGEST_PASSWORD = `pw-${randomBytes(8).toString('hex')}`;

async function eventually<T>(check: () => Promise<T>, timeoutMs = 8000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 150));
    }
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** 8 kHz mono PCM16 silence: the callee talks (RTP flows) but says nothing the echo would repeat. */
function silentWav(seconds: number): Buffer {
  const dataBytes = 8000 * 2 * seconds;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return Buffer.concat([h, Buffer.alloc(dataBytes)]);
}

describe('outbound calls through the API', () => {
  let srv: TestServer;
  let tmp: string;
  let tenantToken: string;

  beforeAll(async () => {
    srv = await startTestServer({ dialplans: DIALPLAN });
    tmp = await mkdtemp(join(tmpdir(), 'sb-outbound-'));
    const key = await srv.api('POST', '/v1/tenants/demo/keys');
    tenantToken = String(key.json.token);
  });
  afterAll(async () => {
    await srv?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  function uas(scenario: SippOptions['scenario'], port: number): ReturnType<typeof startSipp> {
    return startSipp({
      scenario,
      localIp: PEER,
      localPort: port,
      mediaPort: port + 50,
      timeoutMs: 20_000,
      extraArgs: ['-rtp_echo'],
    });
  }

  it(
    'dials a sipp UAS, lists the call as outbound, and hangs up with DELETE',
    { timeout: 30_000 },
    async () => {
      const peer = uas({ builtin: 'uas' }, 43700);
      await sleep(400);
      // Issue 11: a full SIP URI reaches any host:port, so only the admin token may dial one.
      const refused = await srv.api(
        'POST',
        '/v1/calls',
        { tenant: 'demo', to: `sip:bot@${PEER}:43700` },
        tenantToken,
      );
      expect(refused.status).toBe(403);
      const dial = await srv.api('POST', '/v1/calls', { tenant: 'demo', to: `sip:bot@${PEER}:43700` });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      const id = String(dial.json.id);
      const list = await srv.api('GET', '/v1/calls', undefined, tenantToken);
      expect(list.json.calls).toEqual([
        expect.objectContaining({ id, tenant: 'demo', direction: 'outbound', to: `sip:bot@${PEER}:43700` }),
      ]);
      await sleep(2500); // the greeting plays (sipp only echoes, so after the latch wait)
      expect((await srv.api('DELETE', `/v1/calls/${id}`, undefined, tenantToken)).status).toBe(204);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^BYE sip:/m);
      await eventually(async () => expect((await srv.api('GET', '/v1/calls')).json.calls).toHaveLength(0));
    },
  );

  it(
    'uses the tenant sip-trunk credential and answers the 401 digest challenge',
    { timeout: 30_000 },
    async () => {
      const scenario = join(tmp, 'uas-auth.xml');
      const xml = await readFile(join(SCENARIO_DIR, 'uas-auth.xml'), 'utf8');
      await writeFile(scenario, xml.replace('password="secret"', `password="${DIGEST_PASSWORD}"`));
      const put = await srv.api('PUT', '/v1/tenants/demo/credentials/sip-trunk', {
        uri: `sip:${PEER}:43701`,
        username: 'alice',
        password: DIGEST_PASSWORD,
      });
      expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
      const peer = uas(scenario, 43701);
      await sleep(400);
      const dial = await srv.api('POST', '/v1/calls', { tenant: 'demo', to: '4155550100' });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      const got = await srv.api('GET', `/v1/calls/${dial.json.id}`);
      expect(got.json).toMatchObject({ direction: 'outbound', to: '4155550100' });
      expect((await srv.api('DELETE', `/v1/calls/${dial.json.id}`)).status).toBe(204);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^INVITE sip:4155550100@127\.0\.0\.2:43701/m);
      expect(r.messages).toMatch(/^Authorization: Digest username="alice"/m);
      await srv.api('DELETE', '/v1/tenants/demo/credentials/sip-trunk');
    },
  );

  it('returns the SIP status when the callee refuses (486)', { timeout: 30_000 }, async () => {
    const peer = uas('uas-busy.xml', 43702);
    await sleep(400);
    const dial = await srv.api('POST', '/v1/calls', { tenant: 'demo', to: `sip:bot@${PEER}:43702` });
    expect(dial.status).toBe(502);
    expect(dial.json.error).toMatchObject({ code: 'SIP_486' });
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect((await srv.api('GET', '/v1/calls')).json.calls).toHaveLength(0);
  });

  it('returns a SIP error when nothing listens (closed TCP port)', { timeout: 40_000 }, async () => {
    const dial = await srv.api('POST', '/v1/calls', {
      tenant: 'demo',
      to: `sip:bot@${PEER}:43709;transport=tcp`,
    });
    expect(dial.status).toBe(502);
    // RFC 3261 §8.1.3.1: a transport error is treated as a 503.
    expect(dial.json.error).toMatchObject({ code: 'SIP_503' });
  });

  it('without a trunk, a bare number is a 4xx naming the missing credential', async () => {
    const dial = await srv.api('POST', '/v1/calls', { tenant: 'demo', to: '4155550100' });
    expect(dial.status).toBe(502);
    expect(dial.json.error).toMatchObject({ code: 'SIP_400' });
    expect(dial.json.error.message).toMatch(/sip-trunk/);
  });

  it('greets an auto-answering baresip once its RTP arrives', { timeout: 40_000 }, async () => {
    const source = join(tmp, 'silence.wav');
    await writeFile(source, silentWav(10));
    const callee = runBaresip(
      {
        sipHost: PEER,
        sipPort: 43710,
        ctrlPort: 43711,
        sourceWav: source,
        codecs: ['PCMU'],
        rtpPorts: [43720, 43739],
      },
      [],
      9,
    );
    await sleep(1500);
    const dial = await srv.api('POST', '/v1/calls', { tenant: 'demo', to: `sip:bot@${PEER}:43710` });
    expect(dial.status, JSON.stringify(dial.json)).toBe(201);
    const call = await srv.api('GET', `/v1/calls/${dial.json.id}`);
    expect(call.json).toMatchObject({ direction: 'outbound', provider: 'echo' });
    await sleep(3000);
    expect((await srv.api('DELETE', `/v1/calls/${dial.json.id}`)).status).toBe(204);
    const run = await callee;
    const log = `${run.stdout}\n${run.stderr}`.slice(-3000);
    expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
    // The echo agent's greeting is a short beep; the callee itself sent only silence.
    expect(activeMs(readPcm16Wav(run.heardWav!)), log).toBeGreaterThan(100);
    // baresip's words for a BYE from the far end.
    expect(log).toMatch(/session closed: Connection reset by peer/);
  });

  it('runs last: no token or trunk password in any log line', () => {
    expectNoSecretsIn(allServerLogs, [srv.adminToken, tenantToken, DIGEST_PASSWORD]);
  });
});
