import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ToneDetector, type ToneEvent } from '../../../src/media/dsp/tone-detector.js';
import { Resampler } from '../../../src/media/dsp/resampler.js';
import { readWav } from '../../../src/media/wav.js';
import {
  addNoise,
  concat,
  dtmf,
  feedFrames,
  type Rate,
  silence,
  sit,
  speak,
  tone,
  ulawLine,
} from '../../support/amd-audio.js';

const RATES: readonly Rate[] = [8000, 16000];
const AUDIO = join(import.meta.dirname, '../../fixtures/audio');

function detect(rate: Rate, pcm: Int16Array): ToneEvent[] {
  const events: ToneEvent[] = [];
  const detector = new ToneDetector({ sampleRateHz: rate, onTone: (e) => events.push(e) });
  feedFrames(rate, pcm, (f) => detector.process(f));
  // Trailing silence so a tone at the very end closes.
  feedFrames(rate, silence(rate, 200), (f) => detector.process(f));
  return events;
}

function line(rate: Rate, pcm: Int16Array): Int16Array {
  addNoise(pcm, -55);
  return rate === 8000 ? ulawLine(pcm) : pcm;
}

function fixtureAt(rate: Rate, name: string): Int16Array {
  const wav = readWav(readFileSync(join(AUDIO, name)));
  if (wav.sampleRateHz === rate) return wav.samples;
  const resampler = new Resampler(wav.sampleRateHz, rate);
  const out = new Int16Array(resampler.maxOutputSamples(wav.samples.length));
  return out.subarray(0, resampler.process(wav.samples, out));
}

describe.each(RATES)('ToneDetector at %i Hz', (rate) => {
  it('reports a 1 kHz voicemail beep with its frequency, start and duration (±20 ms)', () => {
    const pcm = line(rate, concat([silence(rate, 730), tone(rate, 500, [1000]), silence(rate, 300)]));
    const beeps = detect(rate, pcm).filter((e) => e.kind === 'beep');
    expect(beeps).toHaveLength(1);
    const b = beeps[0] as Extract<ToneEvent, { kind: 'beep' }>;
    expect(Math.abs(b.frequencyHz - 1000)).toBeLessThanOrEqual(5);
    expect(Math.abs(b.startMs - 730)).toBeLessThanOrEqual(20);
    expect(Math.abs(b.durationMs - 500)).toBeLessThanOrEqual(20);
  });

  it.each([425, 850, 1400, 1950])('reports a %i Hz beep of 220 ms; not one of 150 ms', (hz) => {
    const long = detect(rate, line(rate, concat([silence(rate, 200), tone(rate, 220, [hz], -20)])));
    expect(long.filter((e) => e.kind === 'beep').map((e) => (e.kind === 'beep' ? e.frequencyHz : 0))).toEqual(
      [expect.closeTo(hz, -1)],
    );
    const short = detect(rate, line(rate, concat([silence(rate, 200), tone(rate, 150, [hz], -20)])));
    expect(short).toEqual([]);
  });

  it('reports a beep right after speech (the end of a voicemail greeting)', () => {
    const greeting = speak(rate, 'Please leave a message after the tone.');
    const pcm = line(rate, concat([greeting, silence(rate, 300), tone(rate, 400, [1000], -15)]));
    const events = detect(rate, pcm);
    expect(events.map((e) => e.kind)).toEqual(['beep']);
    const startMs = (greeting.length / rate) * 1000 + 300;
    expect(
      Math.abs((events[0] as Extract<ToneEvent, { kind: 'beep' }>).startMs - startMs),
    ).toBeLessThanOrEqual(20);
  });

  it('does not trigger on speech: the caller fixtures and espeak-ng voices at several speeds', () => {
    const speech = [
      ...[
        'caller-billing-question.wav',
        'caller-transfer-request.wav',
        'caller-goodbye.wav',
        'caller-interrupt.wav',
        'caller-account-number.wav',
      ].map((n) => fixtureAt(rate, n)),
      speak(rate, 'Hello? Who is this?', 'en-us', 120),
      speak(
        rate,
        'Hi, you have reached the Miller family. We cannot come to the phone right now.',
        'en-gb',
        175,
      ),
      speak(rate, 'Ooooh noooo, weeell, alriiight.', 'en-us+f3', 90),
      speak(rate, 'The person you are calling is not available.', 'en-us+m3', 220),
    ];
    for (const s of speech) expect(detect(rate, line(rate, s.slice()))).toEqual([]);
  });

  it('does not trigger on DTMF, short or held for 300 ms', () => {
    expect(detect(rate, line(rate, dtmf(rate, '0123456789*#')))).toEqual([]);
    expect(detect(rate, line(rate, dtmf(rate, '159#', 300, 100)))).toEqual([]);
  });

  it('detects SIT (274/274/380 and 380/380/380 ms) and reports no beep for its tones', () => {
    for (const lengths of [
      [274, 274, 380],
      [380, 380, 380],
    ] as const) {
      const pcm = line(rate, concat([silence(rate, 500), sit(rate, lengths), silence(rate, 500)]));
      const events = detect(rate, pcm);
      expect(events.map((e) => e.kind)).toEqual(['sit']);
      const endMs = 500 + lengths[0] + lengths[1] + lengths[2];
      expect(Math.abs((events[0] as { atMs: number }).atMs - endMs)).toBeLessThanOrEqual(30);
    }
  });

  it('detects fax CNG (1100 Hz 0.5 s on / 3 s off) at the second burst', () => {
    const burst = (): Int16Array => concat([tone(rate, 500, [1100], -15), silence(rate, 3000)]);
    const events = detect(rate, line(rate, concat([silence(rate, 300), burst(), burst(), burst()])));
    const cng = events.filter((e) => e.kind === 'cng');
    expect(cng).toHaveLength(2);
    expect(Math.abs((cng[0] as { atMs: number }).atMs - (300 + 3500 + 500))).toBeLessThanOrEqual(30);
  });

  it('detects fax CED (2100 Hz, 3.3 s, with ANSam phase reversals every 450 ms) at 2.6 s', () => {
    const n = Math.round(rate * 3.3);
    const ced = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const reversals = Math.floor(i / (rate * 0.45));
      ced[i] = Math.round(8000 * Math.sin((2 * Math.PI * 2100 * i) / rate + Math.PI * reversals));
    }
    const events = detect(rate, line(rate, concat([silence(rate, 200), ced])));
    expect(events.map((e) => e.kind)).toEqual(['ced']);
    expect(Math.abs((events[0] as { atMs: number }).atMs - 2800)).toBeLessThanOrEqual(30);
  });

  it('a 1100 Hz tone alone, a 2100 Hz tone under 2.6 s and a lone SIT tone are not fax or SIT', () => {
    const events = detect(
      rate,
      line(
        rate,
        concat([
          tone(rate, 500, [1100]),
          silence(rate, 6000),
          tone(rate, 2000, [2100]),
          silence(rate, 500),
          tone(rate, 380, [1776.7]),
        ]),
      ),
    );
    expect(events.map((e) => e.kind)).toEqual(['beep', 'beep']);
  });
});
