/**
 * SIP over TLS with SRTP (issue 13: "baresip over TLS with SRTP"): baresip (`srtp` module,
 * `mediaenc=srtp-mand`) dials the server's TLS port with an RTP/SAVP offer to a `srtp: required` number,
 * so the SDES keys travel only inside TLS; the server answers with SRTP and baresip hears its own speech
 * back from the echo agent, which needs both directions encrypted and decrypted right.
 * Ports (the SRTP block): baresip on 127.0.0.101 SIP 50100 (TLS 50101), ctrl 50102, RTP 50110–50149.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMs, readPcm16Wav, runBaresip, speechThenSilence } from '../../support/baresip.js';
import { endedCalls, eventually, expectNothingLeaked } from '../conformance/harness.js';
import { startTlsServer, type TlsServerUnderTest } from './harness.js';

const SOURCE_WAV = fileURLToPath(
  new URL('../../fixtures/audio/caller-billing-question.wav', import.meta.url),
);

describe('SIP over TLS + SRTP with baresip (production server, echo agent)', { timeout: 120_000 }, () => {
  let sut: TlsServerUnderTest;
  beforeAll(async () => {
    sut = await startTlsServer({
      dialplans: {
        'secure.yaml':
          'tenant: secure\nnumbers: ["*"]\nmedia: { srtp: required }\n' +
          'agent: { provider: echo, tools: { end_call: {} } }\n',
      },
    });
  }, 60_000);
  afterAll(async () => {
    await sut?.close();
  }, 30_000);

  it('baresip calls over TLS with RTP/SAVP and hears its own speech back', async () => {
    const source = readPcm16Wav(readFileSync(SOURCE_WAV));
    const before = endedCalls(sut).length;
    const { path, remove } = speechThenSilence(SOURCE_WAV, 8);
    const run = await runBaresip(
      {
        sipHost: '127.0.0.101',
        sipPort: 50100,
        ctrlPort: 50102,
        sourceWav: path,
        codecs: ['PCMU'],
        rtpPorts: [50110, 50149],
        transport: 'tls',
        tls: { certificate: sut.clientCert.combined, caFile: sut.ca.cert },
        mediaenc: 'srtp-mand',
      },
      [`/dial sip:agent@127.0.0.1:${sut.tlsPort};transport=tls`],
      2 * Math.ceil(source.durationMs / 1000) + 10,
    );
    remove();
    const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
    // Ended by baresip's BYE, or by the 30 s RTP inactivity timeout when a loaded baresip quit before it.
    await eventually(() => expect(endedCalls(sut).length, log).toBe(before + 1), 40_000);
    const ended = sut.srv.logs.filter((l) => l.includes('"call ended"')).map((l) => JSON.parse(l));
    const call = ended.at(-1) as {
      rtp: { packetsReceived: number; srtpSuite?: string; srtpRejected?: number };
    };
    const incoming = sut.srv.logs.filter((l) => l.includes('"sip incoming call"'));
    expect(incoming.at(-1), 'incoming call log line').toMatch(/"transport":"tls"/);
    expect(call.rtp.srtpSuite, log).toBe('AES_CM_128_HMAC_SHA1_80');
    expect(call.rtp.srtpRejected, log).toBe(0);
    expect(call.rtp.packetsReceived, log).toBeGreaterThan(100);
    await expectNothingLeaked(sut);
    expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
    const heard = readPcm16Wav(run.heardWav!);
    expect(activeMs(heard), log).toBeGreaterThan(activeMs(source) * 0.5);
    // The keys went over TLS only; none reached the log.
    expect(sut.srv.logs.join('\n')).not.toContain('inline:');
  });
});
