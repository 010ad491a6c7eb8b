/**
 * Conformance end to end with a real softphone: baresip calls the production server (echo agent), streams
 * test/fixtures/audio/caller-billing-question.wav (8 kHz), and records what it hears. The echo agent plays
 * each caller turn back once it ends, so the recording must hold the caller's own speech, after it.
 * Ports: baresip SIP 43500, ctrl 43501, RTP 43560–43599 on 127.0.0.3.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeMs, readPcm16Wav, rms, runBaresip, speechThenSilence } from '../../support/baresip.js';
import {
  endedCalls,
  eventually,
  expectNothingLeaked,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const SOURCE_WAV = fileURLToPath(
  new URL('../../fixtures/audio/caller-billing-question.wav', import.meta.url),
);

describe('SIP conformance: baresip (production server, echo agent)', () => {
  let sut: ServerUnderTest;

  beforeAll(async () => {
    sut = await startConformanceServer();
  });
  afterAll(async () => {
    await sut?.close();
  });

  it('baresip hears its own speech back from the echo agent', { timeout: 60_000 }, async () => {
    const source = readPcm16Wav(readFileSync(SOURCE_WAV));
    // baresip hangs up when its source file ends: the speech, then silence while the echo plays back.
    const { path: padded, remove } = speechThenSilence(SOURCE_WAV);
    const run = await runBaresip(
      { sipHost: '127.0.0.3', sipPort: 43500, ctrlPort: 43501, sourceWav: padded, codecs: ['PCMU'] },
      [`/dial sip:agent@${sut.sipHost}:${sut.sipPort}`],
      // The speech, the VAD's end-of-turn silence, then the echo of the whole turn.
      2 * Math.ceil(source.durationMs / 1000) + 5,
    );
    remove();
    const log = `${run.stdout}\n${run.stderr}`.slice(-4000);
    await eventually(() => expect(endedCalls(sut), log).toHaveLength(1), 8000);
    expect(endedCalls(sut)[0]!.rtp.packetsReceived, log).toBeGreaterThan(100);
    await expectNothingLeaked(sut);

    expect(run.heardWav, `no -dec.wav dump\n${log}`).toBeDefined();
    const heard = readPcm16Wav(run.heardWav!);
    const sourceActive = activeMs(source);
    // The echo agent returns the whole turn, so baresip hears roughly as much speech as it sent (G.711,
    // jitter buffering and the VAD's edges shave a little off both ends).
    expect(heard.durationMs, log).toBeGreaterThan(source.durationMs * 0.7);
    expect(rms(heard.samples), log).toBeGreaterThan(rms(source.samples) * 0.3);
    expect(activeMs(heard), log).toBeGreaterThan(sourceActive * 0.6);
  });
});
