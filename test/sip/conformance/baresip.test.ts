/**
 * Conformance end to end with a real softphone: baresip calls the server, streams
 * test/fixtures/audio/caller-billing-question.wav (8 kHz), and records what it hears. With the echo app the
 * recording must hold the caller's own speech. Ports: baresip SIP 43500, ctrl 43501, RTP 43560–43599 on 127.0.0.3.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMs, readPcm16Wav, rms, runBaresip } from '../../support/baresip.js';
import { EchoApp } from './echo-app.js';
import { eventually, selectBackend, type BackendUnderTest } from './harness.js';

const factory = await selectBackend();
if (!factory.available) console.warn(`[conformance] skipped: ${factory.reason}`);

const SOURCE_WAV = fileURLToPath(
  new URL('../../fixtures/audio/caller-billing-question.wav', import.meta.url),
);

describe.skipIf(!factory.available)(`SIP conformance: baresip (${factory.name})`, () => {
  let sut: BackendUnderTest;
  let app: EchoApp;

  beforeAll(async () => {
    if (!factory.available) return;
    sut = await factory.create();
    app = new EchoApp(sut.signaling, { mediaHost: sut.mediaHost });
  });
  afterAll(async () => {
    app?.close();
    await sut?.stop();
  });

  it('baresip hears its own speech back through the echo app', { timeout: 40_000 }, async () => {
    const source = readPcm16Wav(readFileSync(SOURCE_WAV));
    const run = await runBaresip(
      { sipHost: '127.0.0.3', sipPort: 43500, ctrlPort: 43501, sourceWav: SOURCE_WAV, codecs: ['PCMU'] },
      [`/dial sip:agent@${sut.sipHost}:${sut.sipPort}`],
      Math.ceil(source.durationMs / 1000) + 4,
    );
    const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
    expect(app.calls.length, log).toBeGreaterThanOrEqual(1);
    const call = app.calls[0]!;
    expect(call.outcome, log).toBe('answered');
    await eventually(() => expect(call.endReason, log).toBeDefined(), 8000);
    expect(call.rtpReceived, log).toBeGreaterThan(100);

    expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
    const heard = readPcm16Wav(run.heardWav!);
    const sourceActive = activeMs(source);
    // The echo returns every packet, so baresip hears roughly as much speech as it sent (G.711 and jitter
    // buffering shave a little off both ends).
    expect(heard.durationMs, log).toBeGreaterThan(source.durationMs * 0.7);
    expect(rms(heard.samples), log).toBeGreaterThan(rms(source.samples) * 0.3);
    expect(activeMs(heard), log).toBeGreaterThan(sourceActive * 0.6);
  });
});
