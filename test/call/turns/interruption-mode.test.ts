import { describe, expect, it } from 'vitest';
import { resolveInterruptions } from '../../../src/call/turns/interruption-mode.js';
import { agentProfileSchema } from '../../../src/routing/dialplan.js';

const profile = (barge_in: unknown) => agentProfileSchema.safeParse({ provider: 'openai', barge_in });

describe('barge_in profile fields (issue 14)', () => {
  it('defaults: enabled, mode chosen per provider, LiveKit-like timings', () => {
    const p = agentProfileSchema.parse({ provider: 'openai' });
    expect(p.barge_in).toEqual({
      enabled: true,
      min_speech_ms: 400,
      ignore_after_agent_start_ms: 300,
      false_interruption_timeout_ms: 1500,
      backchannel_max_ms: 500,
    });
    expect(profile({ enabled: true, mode: 'server', min_words: 2 }).success).toBe(true);
  });

  it('rejects values out of range, unknown modes and unknown fields, naming the field', () => {
    for (const [bad, field] of [
      [{ min_speech_ms: 50 }, 'min_speech_ms'],
      [{ false_interruption_timeout_ms: 60_000 }, 'false_interruption_timeout_ms'],
      [{ backchannel_max_ms: -1 }, 'backchannel_max_ms'],
      [{ ignore_after_agent_start_ms: 1.5 }, 'ignore_after_agent_start_ms'],
      [{ min_words: 0 }, 'min_words'],
      [{ mode: 'local' }, 'mode'],
    ] as const) {
      const r = profile(bad);
      expect(r.success, JSON.stringify(bad)).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['barge_in', field]);
    }
    expect(profile({ min_speech: 400 }).success).toBe(false);
  });
});

describe('resolveInterruptions', () => {
  const server = { serverInterruptions: true };
  it('server where the provider can switch its auto-interrupt off, provider elsewhere, off when disabled', () => {
    expect(resolveInterruptions({ enabled: true }, server)).toBe('server');
    expect(resolveInterruptions({ enabled: true, mode: 'provider' }, server)).toBe('provider');
    expect(resolveInterruptions({ enabled: true }, {})).toBe('provider');
    expect(resolveInterruptions({ enabled: true, mode: 'server' }, {})).toBe('provider');
    expect(resolveInterruptions({ enabled: true }, { serverInterruptions: true, duplex: true })).toBe(
      'provider',
    );
    expect(resolveInterruptions({ enabled: false, mode: 'server' }, server)).toBe('off');
    expect(resolveInterruptions({ enabled: false }, undefined)).toBe('off');
  });
});
