import { describe, expect, it } from 'vitest';
import type { BargeInDecision } from '../../../src/call/barge-in.js';
import {
  InterruptionPolicy,
  type InterruptionSettings,
} from '../../../src/call/turns/interruption-policy.js';
import type { InterruptionMode } from '../../../src/agent/agent.js';
import { PlayoutStream } from '../../../src/media/playout.js';
import { FakeClock, RecordingSink, frame } from '../../media/playout.support.js';

const DEFAULTS: InterruptionSettings = {
  min_speech_ms: 400,
  ignore_after_agent_start_ms: 300,
  false_interruption_timeout_ms: 1500,
  backchannel_max_ms: 500,
};
const LAG_MS = 300;

/**
 * A real PlayoutStream (frames tagged 1…n in order) driven by a fake clock: one tick per 20 ms advanced, so
 * media time and the policy's timers move together.
 */
function setup(mode: InterruptionMode = 'server', settings: Partial<InterruptionSettings> = {}) {
  const clock = new FakeClock(0);
  const sink = new RecordingSink();
  const playout = new PlayoutStream({ sink, frameSamples: 160, initialSequence: 0, initialTimestamp: 0 });
  const decisions: BargeInDecision[] = [];
  const interrupts: { playedMs: number; itemId?: string }[] = [];
  const verdicts: boolean[] = [];
  let falseCount = 0;
  const policy = new InterruptionPolicy({
    mode,
    settings: { ...DEFAULTS, ...settings },
    playout,
    interrupt: (heard) => interrupts.push(heard),
    onDecision: (d) => decisions.push(d),
    userTurn: ({ respond }) => verdicts.push(respond),
    falseInterruption: () => falseCount++,
    speechEndLagMs: LAG_MS,
    now: clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
  });
  let tickIndex = 0;
  /** Real time: 20 ms of wall clock, one playout tick and 20 ms of caller audio pushed, together. */
  const advance = (ms: number): void => {
    for (let t = 0; t < ms; t += 20) {
      clock.advanceBy(20);
      playout.tick(tickIndex++, 0);
      policy.audioPushed(20);
    }
  };
  /** A loaded machine: wall clock passes but no caller audio is processed (nor any tick sent). */
  const stall = (ms: number): void => clock.advanceBy(ms);
  /** The backlog then: `ms` of caller audio pushed at once, no wall time. */
  const burst = (ms: number): void => {
    for (let t = 0; t < ms; t += 20) policy.audioPushed(20);
  };
  /** A reply of `frames` 20 ms frames arrives at once (faster than real time), then its turn ends. */
  const reply = (frames: number, responseId = 'r1', itemId = 'i1'): void => {
    for (let i = 0; i < frames; i++) {
      if (policy.acceptAudio(responseId)) playout.enqueue(frame(1 + (i % 250)), itemId, responseId);
    }
    policy.turnEnded(responseId);
  };
  const tags = (): number[] => sink.packets.map((p) => p.tag);
  const actions = (): string[] => decisions.map((d) => d.action);
  return {
    clock,
    playout,
    policy,
    advance,
    stall,
    burst,
    reply,
    tags,
    actions,
    decisions,
    interrupts,
    verdicts,
    falseCount: () => falseCount,
  };
}

const inOrder = (n: number): number[] => Array.from({ length: n }, (_, i) => 1 + (i % 250));

describe('InterruptionPolicy, server mode (issue 14)', () => {
  it('a 300 ms cough pauses the reply, which then resumes with nothing skipped and nothing cancelled', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000); // 50 frames heard
    t.policy.userSpeechStarted(5000);
    expect(t.actions()).toEqual(['paused']);
    expect(t.decisions[0]?.playedMs).toBe(1000);
    t.advance(300 + LAG_MS); // the provider reports the end one silence window late
    expect(t.tags()).toHaveLength(50); // nothing sent while paused
    t.policy.userSpeechEnded(5300);
    expect(t.actions()).toEqual(['paused', 'resumed']);
    t.advance(2000);
    expect(t.tags()).toEqual(inOrder(150));
    expect(t.interrupts).toEqual([]);
    expect(t.verdicts).toEqual([false]);
    expect(t.falseCount()).toBe(1);
    expect(t.policy.bargeIns).toBe(0);
  });

  it('a 450 ms "mhm" (a backchannel, ≤ backchannel_max_ms) never interrupts', () => {
    const t = setup();
    t.reply(150);
    t.advance(800);
    t.policy.userSpeechStarted(2000);
    t.advance(440);
    t.policy.userSpeechEnded(2450);
    t.advance(3000);
    expect(t.tags()).toEqual(inOrder(150));
    expect(t.interrupts).toEqual([]);
    expect(t.actions()).toEqual(['paused', 'resumed']);
    expect(t.verdicts).toEqual([false]);
  });

  it('speech that lasts is confirmed: flush + interrupt at what was heard before the pause, then answered', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(7000);
    // Confirmed once max(min_speech_ms, backchannel_max_ms) + the end-of-speech lag has passed.
    t.advance(500 + LAG_MS - 20);
    expect(t.interrupts).toEqual([]);
    t.advance(20);
    expect(t.interrupts).toEqual([{ playedMs: 1000, itemId: 'i1' }]);
    expect(t.actions()).toEqual(['paused', 'interrupted']);
    expect(t.playout.queuedMs).toBe(0);
    t.advance(700);
    t.policy.userSpeechEnded(8500);
    expect(t.verdicts).toEqual([true]);
    expect(t.tags()).toHaveLength(50);
    // Late audio of the interrupted reply is refused; the next reply plays.
    expect(t.policy.acceptAudio('r1')).toBe(false);
    t.reply(5, 'r2', 'i2');
    t.advance(200);
    expect(t.tags()).toHaveLength(55);
    expect(t.policy.bargeIns).toBe(1);
    expect(t.falseCount()).toBe(0);
  });

  it('an end reported before the confirmation timer still confirms a long utterance', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(1000);
    t.advance(200);
    t.policy.userSpeechEnded(1000 + 700); // 700 ms of speech, end reported early
    expect(t.interrupts).toHaveLength(1);
    expect(t.verdicts).toEqual([true]);
  });

  it('ignores speech in the first ignore_after_agent_start_ms of a reply, but not speech that goes on', () => {
    const t = setup();
    t.reply(150);
    t.advance(100);
    t.policy.userSpeechStarted(100);
    t.advance(100);
    t.policy.userSpeechEnded(200);
    expect(t.actions()).toEqual([]);
    expect(t.verdicts).toEqual([false]);

    t.reply(150, 'r2', 'i2');
    t.advance(100);
    t.policy.userSpeechStarted(3000);
    t.advance(180);
    expect(t.actions()).toEqual([]);
    t.advance(40); // the window closed while the caller still speaks
    expect(t.actions()).toEqual(['paused']);
  });

  it('an ordinary turn while nothing plays is answered without pausing anything', () => {
    const t = setup();
    t.policy.userSpeechStarted(0);
    t.advance(1200);
    t.policy.userSpeechEnded(1200);
    expect(t.actions()).toEqual([]);
    expect(t.verdicts).toEqual([true]);
  });

  it('min_words: a medium utterance waits for its transcript; enough words confirm, too few resume', () => {
    const settings = { min_speech_ms: 1200, min_words: 2 };
    const a = setup('server', settings);
    a.reply(200);
    a.advance(1000);
    a.policy.userSpeechStarted(1000);
    a.advance(700 + LAG_MS);
    a.policy.userSpeechEnded(1700);
    expect(a.actions()).toEqual(['paused']);
    a.policy.userTranscript('wait stop', true);
    expect(a.actions()).toEqual(['paused', 'interrupted']);
    expect(a.verdicts).toEqual([true]);

    const b = setup('server', settings);
    b.reply(200);
    b.advance(1000);
    b.policy.userSpeechStarted(1000);
    b.advance(700 + LAG_MS);
    b.policy.userSpeechEnded(1700);
    b.policy.userTranscript('hmm', true);
    expect(b.actions()).toEqual(['paused', 'resumed']);
    expect(b.verdicts).toEqual([false]);

    // No transcript at all: resumed at false_interruption_timeout_ms after the pause.
    const c = setup('server', settings);
    c.reply(200);
    c.advance(1000);
    c.policy.userSpeechStarted(1000);
    c.advance(700 + LAG_MS);
    c.policy.userSpeechEnded(1700);
    c.advance(1500 - 700 - LAG_MS - 20);
    expect(c.actions()).toEqual(['paused']);
    c.advance(20);
    expect(c.actions()).toEqual(['paused', 'resumed']);
    expect(c.verdicts).toEqual([false]);
    c.advance(4000);
    expect(c.tags()).toEqual(inOrder(200));
  });

  it('under load (wall clock ahead of the audio) a 450 ms "mhm" is not confirmed by elapsed wall time', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(2000);
    t.advance(200);
    t.stall(1400); // far past threshold + lag (800 ms) in wall time, below false_interruption_timeout × 2
    expect(t.actions()).toEqual(['paused']);
    t.burst(240 + LAG_MS); // the backlog: the rest of the "mhm" and the silence window
    expect(t.interrupts).toEqual([]);
    t.policy.userSpeechEnded(2450); // the late speech_stopped
    expect(t.actions()).toEqual(['paused', 'resumed']);
    expect(t.verdicts).toEqual([false]);
    t.advance(3000);
    expect(t.tags()).toEqual(inOrder(150));
  });

  it('confirms at threshold + lag of caller audio pushed, however little wall time passed', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(7000);
    t.burst(500 + LAG_MS - 20);
    expect(t.interrupts).toEqual([]);
    t.burst(20);
    expect(t.interrupts).toEqual([{ playedMs: 1000, itemId: 'i1' }]);
    expect(t.actions()).toEqual(['paused', 'interrupted']);
  });

  it('a stall longer than false_interruption_timeout_ms does not resume a real interruption', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(1000);
    t.advance(100);
    t.stall(1600); // > 1500 ms of wall clock, 100 ms of media
    expect(t.actions()).toEqual(['paused']);
    t.burst(700 + 20);
    expect(t.actions()).toEqual(['paused', 'interrupted']);
    expect(t.falseCount()).toBe(0);
  });

  it('a silent uplink (no caller audio at all) resumes at 2 × false_interruption_timeout_ms of wall clock', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(1000);
    t.stall(3000 - 20);
    expect(t.actions()).toEqual(['paused']);
    t.stall(20);
    expect(t.actions()).toEqual(['paused', 'resumed']);
    expect(t.interrupts).toEqual([]);
  });

  it('close() cancels every timer', () => {
    const t = setup();
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(1000);
    t.policy.close();
    expect(t.clock.pendingTimers).toBe(0);
  });
});

describe('InterruptionPolicy, provider and off modes: today’s barge-in', () => {
  it('provider: the first speech event flushes and interrupts at once', () => {
    const t = setup('provider');
    t.reply(150);
    t.advance(1000);
    t.policy.userSpeechStarted(1000);
    expect(t.actions()).toEqual(['interrupted']);
    expect(t.interrupts).toEqual([{ playedMs: 1000, itemId: 'i1' }]);
    t.policy.userSpeechEnded(1300);
    expect(t.verdicts).toEqual([]);
    t.advance(2000); // caller audio counted in server mode only: nothing more happens here
    expect(t.actions()).toEqual(['interrupted']);
    expect(t.interrupts).toHaveLength(1);
  });

  it('off: nothing is interrupted', () => {
    const t = setup('off');
    t.reply(50);
    t.advance(200);
    t.policy.userSpeechStarted(200);
    t.advance(1000);
    expect(t.actions()).toEqual(['ignored-disabled']);
    expect(t.interrupts).toEqual([]);
    expect(t.tags()).toEqual(inOrder(50));
  });
});
