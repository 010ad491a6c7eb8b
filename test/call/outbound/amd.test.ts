/**
 * The answering-machine classifier over a generated set of callee audio (issue 18): espeak-ng voices at
 * several speeds — short human greetings, voicemail greetings ending in a 1 kHz beep, call-screening prompts —
 * plus silence, fax CNG and SIT, over an 8 kHz µ-law line with −55 dBFS noise. Each sample runs twice: without
 * transcripts (cadence and tones only) and with the provider's final user transcript arriving 400 ms after
 * the callee stops speaking. The confusion matrices and decision times are printed.
 */
import { describe, expect, it } from 'vitest';
import { rmsDbfs } from '../../../src/media/dsp/level.js';
import {
  AnsweringMachineDetector,
  keywordCue,
  type AmdDecision,
  type AmdResult,
  type GreetingEnd,
} from '../../../src/call/outbound/amd.js';
import {
  addNoise,
  concat,
  feedFrames,
  silence,
  sit,
  speak,
  tone,
  ulawLine,
} from '../../support/amd-audio.js';

const RATE = 8000;
type Truth = AmdResult;

interface Sample {
  readonly name: string;
  readonly truth: Truth;
  readonly pcm: Int16Array;
  /** Media ms where the callee's speech ends (the transcript arrives 400 ms later), if it speaks. */
  readonly speechEndMs?: number;
  readonly text?: string;
  /** Media ms where the beep ends, for machines. */
  readonly beepEndMs?: number;
}

const ms = (pcm: Int16Array): number => (pcm.length * 1000) / RATE;

/** espeak-ng pads its output with silence: cut it 20 ms after the last frame above −45 dBFS. */
function trimTrailing(pcm: Int16Array): Int16Array {
  const frame = RATE / 50;
  let end = 0;
  for (let at = 0; at + frame <= pcm.length; at += frame) {
    if (rmsDbfs(pcm, at, at + frame) >= -45) end = at + 2 * frame;
  }
  return pcm.subarray(0, Math.min(pcm.length, end));
}

function spoken(
  name: string,
  truth: Truth,
  text: string,
  voice: string,
  wpm: number,
  leadMs: number,
  beep?: { gapMs: number; hz: number },
): Sample {
  const lead = silence(RATE, leadMs);
  const speech = trimTrailing(speak(RATE, text, voice, wpm));
  const parts = [lead, speech];
  let beepEndMs: number | undefined;
  if (beep !== undefined) {
    parts.push(silence(RATE, beep.gapMs), tone(RATE, 500, [beep.hz], -16));
    beepEndMs = leadMs + ms(speech) + beep.gapMs + 500;
  }
  parts.push(silence(RATE, 4000));
  const pcm = ulawLine(addNoise(concat(parts), -55, name.length));
  return {
    name,
    truth,
    pcm,
    speechEndMs: leadMs + ms(speech),
    text,
    ...(beepEndMs !== undefined && { beepEndMs }),
  };
}

function samples(): Sample[] {
  const s: Sample[] = [
    spoken('hello-us', 'human', 'Hello?', 'en-us', 160, 400),
    spoken('hello-gb-fast', 'human', 'Hello?', 'en-gb', 220, 250),
    spoken('hello-f3-slow', 'human', 'Hello?', 'en-us+f3', 110, 600),
    spoken('yes', 'human', 'Yes?', 'en-us+m3', 170, 300),
    spoken('hi-sam', 'human', 'Hi, this is Sam.', 'en-us', 180, 500),
    spoken('speaking', 'human', 'Hello, speaking.', 'en-gb+f2', 160, 350),
    spoken('who', 'human', 'Hello, who is it?', 'en-us+f4', 190, 450),
    spoken('miller', 'human', 'Miller residence.', 'en-us+m1', 150, 800),
    spoken(
      'vm-keywords',
      'machine',
      'Hi, you have reached Jenny. I am not available right now. Please leave a message after the tone.',
      'en-us+f2',
      160,
      500,
      { gapMs: 400, hz: 1000 },
    ),
    spoken(
      'vm-long-slow',
      'machine',
      'Hello. You have reached the voicemail of Doctor Robert Anderson at the downtown clinic. I am either on the ' +
        'phone or away from my desk. Leave your name, number and a short message, and I will call you back as ' +
        'soon as I can.',
      'en-gb',
      130,
      300,
      { gapMs: 600, hz: 1000 },
    ),
    spoken(
      'vm-no-keywords',
      'machine',
      'Hey, it is Mike. I am out on the boat this weekend, so text me instead, I check my phone every evening.',
      'en-us+m3',
      190,
      400,
      { gapMs: 300, hz: 1000 },
    ),
    spoken(
      'vm-carrier',
      'machine',
      'The person you are calling is not available. At the tone, please record your message. When you have ' +
        'finished recording, you may hang up.',
      'en-us+f3',
      175,
      200,
      { gapMs: 500, hz: 1000 },
    ),
    spoken(
      'vm-business',
      'machine',
      'Thank you for calling Acme Plumbing. Our office hours are eight to five, Monday through Friday. Please ' +
        'leave a message and we will return your call.',
      'en-us',
      200,
      600,
      { gapMs: 450, hz: 850 },
    ),
    spoken(
      'vm-fast',
      'machine',
      'You have reached five five five, one two three four. Nobody is available to take your call.',
      'en-us+m1',
      240,
      300,
      { gapMs: 350, hz: 1400 },
    ),
    spoken(
      'vm-f4',
      'machine',
      'Hi, this is Laura, sorry I missed you. Leave me a message and I will get back to you.',
      'en-us+f4',
      170,
      700,
      { gapMs: 500, hz: 1000 },
    ),
    spoken(
      'vm-gb-f2',
      'machine',
      'Hello, you are through to the Smiths. We cannot come to the phone right now, please leave a message.',
      'en-gb+f2',
      150,
      400,
      { gapMs: 400, hz: 1000 },
    ),
    spoken(
      'screen-google',
      'screening',
      'Hi, the person you are calling is using a screening service. Go ahead and say your name and why you are ' +
        'calling.',
      'en-us+f2',
      170,
      400,
    ),
    spoken(
      'screen-carrier',
      'screening',
      'Please record your name and reason for calling, and I will see if this person is available.',
      'en-us',
      160,
      300,
    ),
    spoken(
      'screen-gb',
      'screening',
      'This call is being screened. Please state your name after the tone and wait to be connected.',
      'en-gb',
      150,
      500,
    ),
    spoken(
      'screen-fast',
      'screening',
      'Hello, before I connect you, may I ask who is calling and why you are calling today?',
      'en-us+m3',
      210,
      250,
    ),
    {
      name: 'silence-a',
      truth: 'unknown',
      pcm: ulawLine(addNoise(silence(RATE, 7000), -55, 3)),
    },
    {
      name: 'silence-b',
      truth: 'unknown',
      pcm: ulawLine(addNoise(silence(RATE, 7000), -48, 4)),
    },
    {
      name: 'fax-cng',
      truth: 'fax',
      pcm: ulawLine(
        addNoise(
          concat([
            silence(RATE, 300),
            ...[0, 1, 2].flatMap(() => [tone(RATE, 500, [1100], -15), silence(RATE, 3000)]),
          ]),
          -55,
          5,
        ),
      ),
    },
    {
      name: 'sit',
      truth: 'sit',
      pcm: ulawLine(
        addNoise(
          concat([
            silence(RATE, 400),
            sit(RATE),
            speak(RATE, 'The number you have dialed is not in service.'),
          ]),
          -55,
          6,
        ),
      ),
    },
  ];
  return s;
}

interface Run {
  readonly sample: Sample;
  readonly decision: AmdDecision | undefined;
  readonly end: GreetingEnd | undefined;
}

function run(sample: Sample, withTranscripts: boolean): Run {
  let decision: AmdDecision | undefined;
  let end: GreetingEnd | undefined;
  const amd = new AnsweringMachineDetector({
    sampleRateHz: RATE,
    expectTranscripts: withTranscripts,
    onDecision: (d) => (decision ??= d),
    onGreetingEnd: (e) => (end = e),
  });
  let fedMs = 0;
  const transcriptAtMs =
    withTranscripts && sample.speechEndMs !== undefined ? sample.speechEndMs + 400 : Number.POSITIVE_INFINITY;
  let sent = false;
  feedFrames(RATE, sample.pcm, (frame) => {
    amd.process(frame);
    fedMs += ms(frame);
    if (!sent && fedMs >= transcriptAtMs && sample.text !== undefined) {
      sent = true;
      amd.transcript(sample.text);
    }
  });
  return { sample, decision, end };
}

const CLASSES: readonly AmdResult[] = ['human', 'machine', 'screening', 'unknown', 'fax', 'sit'];

function matrix(runs: readonly Run[]): { text: string; correct: number } {
  const rows = CLASSES.map((t) =>
    CLASSES.map(
      (p) => runs.filter((r) => r.sample.truth === t && (r.decision?.result ?? 'unknown') === p).length,
    ),
  );
  const pad = (v: string): string => v.padStart(10);
  const lines = [`${pad('truth\\got')}${CLASSES.map(pad).join('')}`];
  CLASSES.forEach((t, i) => lines.push(`${pad(t)}${(rows[i] ?? []).map((n) => pad(String(n))).join('')}`));
  const correct = runs.filter((r) => r.decision?.result === r.sample.truth).length;
  return { text: lines.join('\n'), correct };
}

describe('AnsweringMachineDetector over a generated set', () => {
  const set = samples();

  it('keyword cues: screening wins over machine', () => {
    expect(keywordCue('Please record your name and reason for calling')).toBe('screening');
    expect(keywordCue('record your name after the tone')).toBe('machine');
    expect(keywordCue('Leave a message')).toBe('machine');
    expect(keywordCue('Hello, who is this?')).toBeUndefined();
  });

  for (const withTranscripts of [false, true]) {
    it(`classifies ${set.length} samples ${withTranscripts ? 'with' : 'without'} transcripts`, () => {
      expect(set.length).toBeGreaterThanOrEqual(20);
      const runs = set.map((s) => run(s, withTranscripts));
      const { text, correct } = matrix(runs);
      const detail = runs
        .map(
          (r) =>
            `${r.sample.name.padEnd(16)} ${r.sample.truth.padEnd(9)} → ${(r.decision?.result ?? '-').padEnd(9)} ` +
            `${r.decision?.cue ?? ''} at ${r.decision?.decisionMs ?? '-'} ms` +
            (r.decision?.speechStartMs !== undefined ? ` (speech at ${r.decision.speechStartMs} ms)` : '') +
            (r.end !== undefined ? `; greeting end ${r.end.cause} at ${r.end.atMs} ms` : ''),
        )
        .join('\n');
      console.log(
        `AMD ${withTranscripts ? 'with' : 'without'} transcripts: ${correct}/${runs.length} correct\n${text}\n${detail}`,
      );

      // Humans: never machine, decided 0.7 s after their greeting ends (±200 ms: the VAD's −40 dBFS
      // threshold against the −45 dBFS used to find the speech's end here), and a one-word "Hello?" or
      // "Yes?" within 1.5 s of its start.
      for (const r of runs.filter((x) => x.sample.truth === 'human')) {
        expect(r.decision?.result, r.sample.name).toBe('human');
        const d = r.decision as AmdDecision;
        expect(Math.abs(d.decisionMs - (r.sample.speechEndMs ?? 0) - 700), r.sample.name).toBeLessThanOrEqual(
          200,
        );
        if (/^(Hello|Yes)\?$/.test(r.sample.text ?? '')) {
          expect(d.decisionMs - (d.speechStartMs ?? 0), r.sample.name).toBeLessThan(1500);
        }
      }
      // Machines: machine, and the greeting's end is the beep (±30 ms).
      for (const r of runs.filter((x) => x.sample.truth === 'machine')) {
        expect(r.decision?.result, r.sample.name).toBe('machine');
        expect(r.end?.cause, r.sample.name).toBe('beep');
        expect(Math.abs((r.end?.atMs ?? 0) - (r.sample.beepEndMs ?? 0)), r.sample.name).toBeLessThanOrEqual(
          30,
        );
      }
      for (const r of runs.filter((x) => ['unknown', 'fax', 'sit'].includes(x.sample.truth))) {
        expect(r.decision?.result, r.sample.name).toBe(r.sample.truth);
      }
      // Screening needs the words: without transcripts a screening prompt is long speech, i.e. machine.
      const screening = runs.filter((x) => x.sample.truth === 'screening');
      for (const r of screening) {
        expect(r.decision?.result, r.sample.name).toBe(withTranscripts ? 'screening' : 'machine');
      }
      expect(correct / runs.length).toBeGreaterThanOrEqual(
        withTranscripts ? 1 : (runs.length - screening.length) / runs.length,
      );
    });
  }
});
