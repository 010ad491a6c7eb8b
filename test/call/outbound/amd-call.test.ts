/**
 * What an outbound call does with the AMD decision (src/call/outbound/amd-call.ts), with recording fakes for
 * the session's actions: fax and SIT end the call with their reason; a machine with `agent` goes on; a human
 * goes on; voicemail cuts the agent, asks for the message, waits for it to play, then ends. The counter by
 * result and the timeline event are checked too. (The hangup and voicemail paths over SIP are in
 * test/e2e/amd-outbound.test.ts.)
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createCallMetrics } from '../../../src/call/call-metrics.js';
import { AmdCall, type AmdCallActions } from '../../../src/call/outbound/amd-call.js';
import type { AmdSettings } from '../../../src/routing/dialplan.js';
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

function harness(settings: AmdSettings) {
  const calls: string[] = [];
  const timeline: { kind: string; data: Record<string, unknown> }[] = [];
  let replyPlayed: () => void = () => undefined;
  const actions: AmdCallActions = {
    cutAgent: () => calls.push('cut'),
    say: (text) => (calls.push(`say:${text}`), Promise.resolve()),
    waitForNextReply: () => new Promise<void>((r) => (replyPlayed = () => (calls.push('played'), r()))),
    end: (reason) => (calls.push(`end:${reason}`), Promise.resolve()),
    timeline: (kind, data) => timeline.push({ kind, data }),
  };
  const registry = new Registry();
  const metrics = createCallMetrics(registry);
  const amd = AmdCall.create({ amd: settings, metrics }, 8000, pino({ level: 'silent' }), actions);
  if (amd === undefined) throw new Error('AMD off');
  const feed = (pcm: Int16Array): void =>
    feedFrames(8000, ulawLine(addNoise(pcm, -55)), (f) => amd.process(f));
  const count = async (): Promise<string> =>
    await registry.getSingleMetricAsString('switchboard_amd_results_total');
  return { amd, calls, timeline, feed, count, played: () => replyPlayed() };
}

const HANGUP: AmdSettings = { enabled: true, on_machine: 'hangup' };

describe('AmdCall', () => {
  it('is off when disabled or the codec is not 8/16 kHz', () => {
    const noop = {} as AmdCallActions;
    const metrics = createCallMetrics(new Registry());
    const log = pino({ level: 'silent' });
    expect(AmdCall.create({ amd: { ...HANGUP, enabled: false }, metrics }, 8000, log, noop)).toBeUndefined();
    expect(AmdCall.create({ metrics }, 8000, log, noop)).toBeUndefined();
    expect(AmdCall.create({ amd: HANGUP, metrics }, 48000, log, noop)).toBeUndefined();
  });

  it('ends a fax call (CNG) with reason fax, and counts it', async () => {
    const h = harness(HANGUP);
    h.feed(concat([0, 1].flatMap(() => [tone(8000, 500, [1100], -15), silence(8000, 3000)])));
    expect(h.calls).toEqual(['end:fax']);
    expect(h.timeline[0]).toMatchObject({ kind: 'amd', data: { result: 'fax', cue: 'tone' } });
    expect(await h.count()).toMatch(/switchboard_amd_results_total\{result="fax"\} 1/);
  });

  it('ends a SIT call with reason sit', () => {
    const h = harness(HANGUP);
    h.feed(concat([silence(8000, 300), sit(8000), silence(8000, 1000)]));
    expect(h.calls).toEqual(['end:sit']);
  });

  it('a human and a machine with on_machine "agent" go on', () => {
    const human = harness(HANGUP);
    human.feed(concat([silence(8000, 300), speak(8000, 'Hello?'), silence(8000, 3000)]));
    expect(human.amd.summary()).toMatchObject({ result: 'human' });
    expect(human.calls).toEqual([]);
    const machine = harness({ enabled: true, on_machine: 'agent' });
    machine.feed(
      concat([
        speak(8000, 'Hi, leave a message for the Millers after the tone, thank you.'),
        tone(8000, 500, [1000], -16),
        silence(8000, 500),
      ]),
    );
    expect(machine.amd.summary()).toMatchObject({ result: 'machine' });
    expect(machine.calls).toEqual([]);
  });

  it('voicemail: at the beep cuts the agent, asks for the message, ends only once it played', async () => {
    const h = harness({ enabled: true, on_machine: 'voicemail', voicemail_message: 'Call Acme back.' });
    h.feed(
      concat([
        speak(8000, 'You have reached Jenny, please leave a message after the tone.'),
        silence(8000, 300),
        tone(8000, 500, [1000], -16),
        silence(8000, 500),
      ]),
    );
    await Promise.resolve();
    expect(h.calls[0]).toBe('cut');
    expect(h.calls[1]).toMatch(/^say:.*word for word.*"Call Acme back\."$/);
    expect(h.calls).not.toContain('end:voicemail-left');
    h.played();
    await new Promise((r) => setImmediate(r));
    expect(h.calls.slice(2)).toEqual(['played', 'end:voicemail-left']);
    expect(h.amd.summary()).toMatchObject({
      result: 'machine',
      greetingEnd: { cause: 'beep' },
      onMachine: 'voicemail',
    });
    expect(h.timeline.map((t) => t.kind)).toEqual(['amd', 'amd.greeting-end']);
  });
});
