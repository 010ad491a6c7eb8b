/**
 * SDES-SRTP against a real peer: baresip (its `srtp` module, `mediaenc=srtp-mand`, RTP/SAVP) calls the
 * production server (echo agent) over UDP and must hear its own speech back — which needs both directions
 * to be encrypted and decrypted correctly, the server's key derivation and transforms checked against
 * libre's independent SRTP implementation. The same number refuses a plain offer under `srtp: required`
 * and an RTP/SAVP offer under `srtp: off` with 488. Keys: neither side's key appears in the server's logs
 * (debug level) or the call's recording metadata.
 * Ports (this file's block): baresip SIP 127.0.0.100:50000, ctrl 50001, RTP 50010–50049.
 */
import { freePortPair } from '../../support/free-port.js';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activeMs,
  readPcm16Wav,
  rms,
  runBaresip,
  speechThenSilence,
  type BaresipOptions,
} from '../../support/baresip.js';
import { eventually } from '../../support/eventually.js';
import { startTestServer, type TestServer } from '../../support/server.js';

const SOURCE_WAV = fileURLToPath(
  new URL('../../fixtures/audio/caller-billing-question.wav', import.meta.url),
);

const plan = (name: string, number: string, srtp?: string): [string, string] => [
  `${name}.yaml`,
  `tenant: ${name}\nnumbers: ["${number}"]\n${srtp === undefined ? '' : `media: { srtp: ${srtp} }\n`}` +
    'agent: { provider: echo, record: true, tools: { end_call: {} } }\n',
];

const BARESIP: BaresipOptions = {
  sipHost: '127.0.0.100',
  sipPort: 50000,
  ctrlPort: 50001,
  sourceWav: SOURCE_WAV,
  codecs: ['PCMU'],
  rtpPorts: [50010, 50049],
};

/** Every file under `dir`, recursively (recordings: WAVs and their metadata). */
function filesUnder(dir: string): string[] {
  let out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    out = statSync(path).isDirectory() ? [...out, ...filesUnder(path)] : [...out, path];
  }
  return out;
}

/** The base64 key of every a=crypto line in an SDP body. */
function sdpKeys(sdp: string): string[] {
  return [...sdp.matchAll(/a=crypto:\d+ \S+ inline:([A-Za-z0-9+/=]+)/g)].map((m) => m[1]!);
}

describe('SRTP with baresip (SDES, UDP, production server)', () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: Object.fromEntries([
        plan('optional', 'agent'),
        plan('required', 'secure', 'required'),
        plan('off', 'plain', 'off'),
      ]),
      logLevel: 'debug',
    });
  });
  afterAll(async () => {
    await srv?.close();
  });

  interface EndedRtp {
    packetsReceived: number;
    packetsSent: number;
    srtpSuite?: string;
    srtpRejected?: number;
    rtcp?: { reportsReceived: number; malformed: number };
  }
  const ended = (): { reason: string; rtp: EndedRtp }[] =>
    srv.logs.filter((l) => l.includes('"call ended"')).map((l) => JSON.parse(l));

  /**
   * Neither side's key (from the SDP bodies seen on the wire) appears in the server log (debug level), in
   * any recording metadata file, or in `extra` (API responses): base64, hex, or a prefix of either.
   */
  function expectNoKeyMaterial(sdps: readonly string[], extra = ''): void {
    const keys = [...new Set(sdps.flatMap(sdpKeys))];
    expect(keys.length, 'keys seen in the SDP').toBeGreaterThanOrEqual(2);
    const logs = srv.logs.join('\n');
    const recordings = filesUnder(srv.recordingsDir)
      .filter((f) => !f.endsWith('.wav'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(recordings.length, 'recording metadata written').toBeGreaterThan(0);
    for (const key of keys) {
      const hex = Buffer.from(key, 'base64').toString('hex');
      for (const needle of [key, key.slice(0, 20), hex, hex.slice(0, 24)]) {
        expect(logs.includes(needle), 'key material in the server log').toBe(false);
        expect(recordings.includes(needle), 'key material in the recording metadata').toBe(false);
        expect(extra.includes(needle), 'key material in an API response').toBe(false);
      }
    }
    expect(logs.includes('inline:')).toBe(false);
  }

  /** Collects both SDP bodies of every live call every 100 ms until stopped. */
  function watchSdp(): { sdps: string[]; stop: () => void } {
    const sdps: string[] = [];
    const timer = setInterval(() => {
      for (const call of srv.server.calls.liveCalls()) sdps.push(call.dialog.localSdp, call.dialog.remoteSdp);
    }, 100);
    return { sdps, stop: () => clearInterval(timer) };
  }

  it(
    'a srtp-mand call is answered with SRTP and baresip hears its own speech back',
    { timeout: 120_000 },
    async () => {
      const source = readPcm16Wav(readFileSync(SOURCE_WAV));
      // 8 s of extra silence: on a loaded machine the echo starts late, and baresip hangs up at the file's end.
      const { path: padded, remove } = speechThenSilence(SOURCE_WAV, 8);
      const endedBefore = ended().length;
      // While the call is up, the SDP of both sides (our answer and baresip's offer) carries the keys.
      const { sdps, stop } = watchSdp();
      const run = await runBaresip(
        { ...BARESIP, sourceWav: padded, mediaenc: 'srtp-mand' },
        [`/dial sip:agent@127.0.0.1:${srv.sipPort}`],
        2 * Math.ceil(source.durationMs / 1000) + 10,
      );
      stop();
      remove();
      const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
      // Ended by baresip's BYE, or by the 30 s RTP inactivity timeout when a loaded baresip quit before it.
      await eventually(() => expect(ended().length, log).toBe(endedBefore + 1), 40_000);
      const call = ended().at(-1)!;
      expect(call.rtp.packetsReceived, log).toBeGreaterThan(100);

      // The offer was RTP/SAVP and our answer kept the profile, with exactly one a=crypto of the suite chosen.
      const offer = sdps.find((s) => s.includes('RTP/SAVP') && s.includes('o=-')) ?? sdps[1] ?? '';
      const answer = sdps.find((s) => s.includes('o=switchboard')) ?? '';
      expect(offer, log).toMatch(/m=audio \d+ RTP\/SAVP/);
      expect(answer, log).toMatch(/m=audio \d+ RTP\/SAVP/);
      const answered = /a=crypto:(\d+) (\S+) inline:/.exec(answer);
      expect(answered, answer).not.toBeNull();
      const on = srv.logs.find((l) => l.includes('"SRTP on"'));
      expect(on, 'server log "SRTP on"').toBeDefined();
      expect(JSON.parse(on!).suite).toBe(answered![2]);
      // The strongest suite both sides support: GCM if baresip offered it, else the 80-bit tag.
      const offeredSuites = [...offer.matchAll(/a=crypto:\d+ (\S+)/g)].map((m) => m[1]);
      expect(answered![2]).toBe(
        offeredSuites.includes('AEAD_AES_128_GCM') ? 'AEAD_AES_128_GCM' : 'AES_CM_128_HMAC_SHA1_80',
      );
      // The leg ran the chosen suite; baresip's RTCP (to our port + 1) arrived as SRTCP and authenticated.
      expect(call.rtp.srtpSuite, log).toBe(answered![2]);
      expect(call.rtp.srtpRejected ?? 0, JSON.stringify(call.rtp)).toBe(0);
      expect(call.rtp.rtcp?.reportsReceived ?? 0, JSON.stringify(call.rtp.rtcp)).toBeGreaterThanOrEqual(1);
      expect(call.rtp.rtcp?.malformed, JSON.stringify(call.rtp.rtcp)).toBe(0);
      // Nothing was refused on the way in: every packet authenticated.
      expect(
        srv.logs.some((l) => l.includes('"call ended"') && /"srtpRejected":[1-9]/.test(l)),
        log,
      ).toBe(false);

      // baresip decrypted what we sent (it heard speech), and we decrypted what it sent (the echo agent only
      // repeats what it heard).
      expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
      const heard = readPcm16Wav(run.heardWav!);
      expect(heard.durationMs, log).toBeGreaterThan(source.durationMs * 0.7);
      expect(rms(heard.samples), log).toBeGreaterThan(rms(source.samples) * 0.3);
      expect(activeMs(heard), log).toBeGreaterThan(activeMs(source) * 0.6);

      // Keys never in logs or recordings: both sides' base64 keys, and ours in hex.
      expectNoKeyMaterial(sdps);
    },
  );

  it(
    'a trunk with `srtp: required` calls baresip over RTP/SAVP; both directions decrypt',
    { timeout: 120_000 },
    async () => {
      // 50002 unless another test's ephemeral socket holds it (the block is inside the ephemeral range).
      const port = await freePortPair('127.0.0.100', [50002, 50004, 50006, 50090, 50092]);
      const put = await srv.api('PUT', '/v1/tenants/optional/credentials/sip-trunk', {
        uri: `sip:127.0.0.100:${port}`,
        srtp: 'required',
      });
      expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
      const source = readPcm16Wav(readFileSync(SOURCE_WAV));
      const { path: padded, remove } = speechThenSilence(SOURCE_WAV, 8);
      const endedBefore = ended().length;
      const { sdps, stop } = watchSdp();
      const callee = runBaresip(
        {
          ...BARESIP,
          sipPort: port,
          ctrlPort: port + 1,
          rtpPorts: [50050, 50089],
          sourceWav: padded,
          mediaenc: 'srtp-mand',
        },
        [],
        2 * Math.ceil(source.durationMs / 1000) + 12,
      );
      await new Promise((r) => setTimeout(r, 1500));
      const dial = await srv.api('POST', '/v1/calls', {
        tenant: 'optional',
        to: `sip:bot@127.0.0.100:${port}`,
      });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      const listed = await srv.api('GET', `/v1/calls/${dial.json.id}`);
      const run = await callee;
      stop();
      remove();
      const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
      // Ended by baresip's BYE, or by the 30 s RTP inactivity timeout when a loaded baresip quit before it.
      await eventually(() => expect(ended().length, log).toBe(endedBefore + 1), 40_000);
      const call = ended().at(-1)!;
      const offer = sdps.find((s) => s.includes('o=switchboard')) ?? '';
      const answer = sdps.find((s) => !s.includes('o=switchboard')) ?? '';
      expect(offer, log).toMatch(/m=audio \d+ RTP\/SAVP/);
      expect([...offer.matchAll(/a=crypto:\d+ (\S+)/g)].map((m) => m[1])).toEqual([
        'AEAD_AES_128_GCM',
        'AES_CM_128_HMAC_SHA1_80',
        'AES_CM_128_HMAC_SHA1_32',
      ]);
      const chosen = /a=crypto:\d+ (\S+)/.exec(answer)?.[1];
      expect(chosen, answer).toBeDefined();
      console.log(`outbound SRTP: baresip answered ${chosen}`);
      expect(call.rtp.srtpSuite, log).toBe(chosen);
      expect(call.rtp.srtpRejected ?? 0, JSON.stringify(call.rtp)).toBe(0);
      // We decrypted baresip's speech (the echo repeated it) and baresip decrypted the echo.
      expect(call.rtp.packetsReceived, log).toBeGreaterThan(100);
      expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
      const heard = readPcm16Wav(run.heardWav!);
      expect(activeMs(heard), log).toBeGreaterThan(activeMs(source) * 0.5);
      expectNoKeyMaterial(sdps, JSON.stringify(listed.json) + JSON.stringify(dial.json));
    },
  );

  /** baresip dials `user`; the server refuses the offer with 488 and logs why (`detail`). */
  async function expectRefused(options: BaresipOptions, user: string, detail: RegExp): Promise<void> {
    const run = await runBaresip(options, [`/dial sip:${user}@127.0.0.1:${srv.sipPort}`], 8);
    const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
    await eventually(() => {
      const refused = srv.logs.filter((l) => l.includes('SDP offer refused')).map((l) => JSON.parse(l));
      expect(
        refused.some((r) => r.status === 488 && detail.test(r.detail)),
        log,
      ).toBe(true);
    }, 10_000);
    expect(log).toMatch(/488/);
    expect(srv.server.calls.size).toBe(0);
  }

  it('a plain RTP offer to a `srtp: required` number gets 488', { timeout: 60_000 }, async () => {
    await expectRefused(BARESIP, 'secure', /srtp is required/);
  });

  it('an RTP/SAVP offer to a `srtp: off` number gets 488', { timeout: 60_000 }, async () => {
    await expectRefused({ ...BARESIP, mediaenc: 'srtp-mand' }, 'plain', /srtp is off/);
  });
});
