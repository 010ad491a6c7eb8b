import { describe, expect, it } from 'vitest';
import { agentProfileSchema } from '../../../src/routing/dialplan.js';

const issues = (input: Record<string, unknown>): string[] => {
  const r = agentProfileSchema.safeParse({ provider: 'openai', ...input });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('profile fields of issue 14', () => {
  it('accepts fillers, reprompts and the outbound first turn', () => {
    const p = agentProfileSchema.parse({
      provider: 'openai',
      tools: {
        filler_after_ms: 800,
        filler: { audio: 'prompts/one-moment.wav' },
        hold_audio: 'prompts/hold.wav',
      },
      limits: { reprompt_after_s: 8, reprompts: 2, reprompt_text: 'Check on the caller.' },
      outbound: { greet_after_ms: 1500 },
    });
    expect(p.tools.filler_after_ms).toBe(800);
    expect(p.limits).toMatchObject({ reprompt_after_s: 8, reprompts: 2, idle_timeout_s: 30 });
    expect(p.outbound?.greet_after_ms).toBe(1500);
  });

  it('names what is wrong', () => {
    expect(issues({ tools: { filler_after_ms: 500 } })).toEqual([
      'tools.filler.audio: filler_after_ms needs a filler clip (filler.audio) or hold_audio to play',
    ]);
    expect(issues({ tools: { filler_after_ms: 50, hold_audio: 'h.wav' } })[0]).toMatch(
      /^tools\.filler_after_ms:/,
    );
    expect(issues({ tools: { filler: { text: 'One moment' } } })[0]).toMatch(/^tools\.filler/);
    expect(issues({ limits: { reprompts: 2 } })).toEqual([
      'limits.reprompt_after_s: reprompts needs reprompt_after_s (how long a silence is)',
    ]);
    expect(issues({ limits: { reprompts: 11, reprompt_after_s: 5 } })[0]).toMatch(/^limits\.reprompts:/);
    expect(issues({ outbound: { greet_after_ms: 60_000 } })[0]).toMatch(/^outbound\.greet_after_ms:/);
  });
});
