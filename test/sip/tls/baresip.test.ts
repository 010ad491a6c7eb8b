/**
 * baresip over SIP/TLS against the production server (echo agent): baresip dials the server's TLS port and
 * hears its own speech back; the server dials baresip over TLS through the tenant's `sip-trunk` (certificate
 * verified against SIP_TLS_CA; a self-signed one refused unless the trunk says `tls_verify: false`).
 * Ports: baresip on 127.0.0.111 SIP 51010 (TLS 51011), ctrl 51012, RTP 51020–51039; the self-signed callee
 * on 127.0.0.112 SIP 51040 (TLS 51041), ctrl 51042, RTP 51050–51069.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile, writeWavFile } from '../../../src/media/wav.js';
import {
  activeMs,
  baresipTlsPort,
  readPcm16Wav,
  rms,
  runBaresip,
  type BaresipOptions,
} from '../../support/baresip.js';
import { endedCalls, eventually, expectNothingLeaked } from '../conformance/harness.js';
import { startTlsServer, type TlsServerUnderTest } from './harness.js';

const SOURCE_WAV = fileURLToPath(
  new URL('../../fixtures/audio/caller-billing-question.wav', import.meta.url),
);

/** The speech, then silence while the echo plays back (baresip hangs up when its source file ends). */
function speechThenSilence(dir: string): string {
  const padded = join(dir, 'speech-then-silence.wav');
  const speech = readWavFile(SOURCE_WAV);
  const samples = new Int16Array(speech.samples.length * 2 + speech.sampleRateHz * 3);
  samples.set(speech.samples);
  writeWavFile(padded, { ...speech, samples });
  return padded;
}

/** Bounded wait until something accepts TCP connections on host:port (baresip's TLS listener is up). */
async function listening(host: string, port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('SIP over TLS with baresip (production server, echo agent)', { timeout: 90_000 }, () => {
  let sut: TlsServerUnderTest;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-tls-baresip-'));
    sut = await startTlsServer({
      dialplans: {
        'conformance.yaml':
          'tenant: conformance\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n' +
          'outbound: { allow: ["*"] }\n',
      },
      // The CA also vouches for baresip's certificate when the server dials it.
      tlsEnv: (f) => ({ SIP_TLS_CA: f.ca.cert }),
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('baresip calls over TLS and hears its own speech back', async () => {
    const source = readPcm16Wav(readFileSync(SOURCE_WAV));
    const before = endedCalls(sut).length;
    const run = await runBaresip(
      {
        sipHost: '127.0.0.111',
        sipPort: 51010,
        ctrlPort: 51012,
        sourceWav: speechThenSilence(dir),
        codecs: ['PCMU'],
        rtpPorts: [51020, 51039],
        transport: 'tls',
        tls: { certificate: sut.clientCert.combined, caFile: sut.ca.cert },
      },
      [`/dial sip:agent@127.0.0.1:${sut.tlsPort};transport=tls`],
      2 * Math.ceil(source.durationMs / 1000) + 5,
    );
    const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
    await eventually(() => expect(endedCalls(sut).length, log).toBe(before + 1), 10_000);
    const call = endedCalls(sut)[before]!;
    expect(call.rtp.packetsReceived, log).toBeGreaterThan(100);
    // The server's own account: the call came in over TLS.
    const incoming = sut.srv.logs.filter((l) => l.includes('"sip incoming call"'));
    expect(incoming, 'incoming call log lines').toHaveLength(1);
    expect(incoming[0]).toMatch(/"transport":"tls"/);
    await expectNothingLeaked(sut);
    expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
    const heard = readPcm16Wav(run.heardWav!);
    // The echo agent returns the whole turn: baresip hears roughly as much speech as it sent.
    expect(heard.durationMs, log).toBeGreaterThan(source.durationMs * 0.7);
    expect(rms(heard.samples), log).toBeGreaterThan(rms(source.samples) * 0.3);
    expect(activeMs(heard), log).toBeGreaterThan(activeMs(source) * 0.6);
  });

  async function dialBaresip(
    peer: BaresipOptions,
    trunk: Record<string, unknown>,
  ): Promise<{ status: number; json: any; log: () => Promise<string> }> {
    const put = await sut.srv.api('PUT', '/v1/tenants/conformance/credentials/sip-trunk', trunk);
    expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
    const callee = runBaresip(peer, [], 8);
    await listening(peer.sipHost, baresipTlsPort(peer));
    const dial = await sut.srv.api('POST', '/v1/calls', { tenant: 'conformance', to: '4155550100' });
    return {
      ...dial,
      log: async () => {
        const run = await callee;
        return `${run.stdout}\n${run.stderr}`.slice(-3000);
      },
    };
  }

  function callee(host: string, base: number, tls: { certificate: string }): BaresipOptions {
    return {
      sipHost: host,
      sipPort: base,
      ctrlPort: base + 2,
      sourceWav: speechThenSilence(dir),
      codecs: ['PCMU'],
      rtpPorts: [base + 10, base + 29],
      transport: 'tls',
      // The trunk dials the number as the request user: baresip answers only for its account user.
      user: '4155550100',
      tls,
    };
  }

  it('the server dials baresip over TLS through the sip-trunk; its certificate chains to SIP_TLS_CA', async () => {
    const cert = await sut.material.issue(sut.ca, {
      name: 'baresip',
      commonName: 'baresip.test',
      ips: ['127.0.0.111'],
      serial: '4001',
    });
    const peer = callee('127.0.0.111', 51010, { certificate: cert.combined });
    const dial = await dialBaresip(peer, { uri: `sip:127.0.0.111:${baresipTlsPort(peer)};transport=tls` });
    expect(dial.status, JSON.stringify(dial.json)).toBe(201);
    await eventually(async () =>
      expect((await sut.srv.api('GET', `/v1/calls/${dial.json.id}`)).status).toBe(200),
    );
    expect((await sut.srv.api('DELETE', `/v1/calls/${dial.json.id}`)).status).toBe(204);
    const log = await dial.log();
    expect(log).toMatch(/established/i);
    await expectNothingLeaked(sut);
  });

  it('a self-signed callee is refused, unless the trunk opts out with tls_verify: false', async () => {
    const cert = await sut.material.selfSigned({
      name: 'lab-pbx',
      commonName: 'lab-pbx.test',
      ips: ['127.0.0.112'],
      serial: '5001',
    });
    const peer = callee('127.0.0.112', 51040, { certificate: cert.combined });
    const uri = `sip:127.0.0.112:${baresipTlsPort(peer)};transport=tls`;
    const refused = await dialBaresip(peer, { uri });
    // The handshake fails our verification: a transport error, treated as 503 (§8.1.3.1); nothing was called.
    expect(refused.status, JSON.stringify(refused.json)).toBe(502);
    expect(refused.json.error.code).toBe('SIP_503');
    expect(await refused.log()).not.toMatch(/established/i);
    expect(sut.srv.logs.some((l) => /self.signed|SELF_SIGNED/i.test(l))).toBe(true);

    const lab = await dialBaresip(peer, { uri, tls_verify: false });
    expect(lab.status, JSON.stringify(lab.json)).toBe(201);
    expect((await sut.srv.api('DELETE', `/v1/calls/${lab.json.id}`)).status).toBe(204);
    expect(await lab.log()).toMatch(/established/i);
    await expectNothingLeaked(sut);
  });
});
