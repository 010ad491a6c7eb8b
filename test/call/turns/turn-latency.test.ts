import { describe, expect, it } from 'vitest';
import { TurnLatency, type TurnLatencySample } from '../../../src/call/turns/turn-latency.js';

describe('TurnLatency', () => {
  it('places the end of speech in media time and splits off our shares', () => {
    let now = 10_000;
    const seen: TurnLatencySample[] = [];
    const t = new TurnLatency({ now: () => now, inboundDelayMs: () => 40, observe: (s) => seen.push(s) });
    for (let i = 0; i < 150; i++) t.pushed(20); // 3000 ms pushed
    // The provider says speech ended at 2500 ms of its audio: 500 ms before now, plus 40 ms in the jitter buffer.
    t.speechEnded(2500);
    now += 200;
    t.agentAudio('r1');
    t.agentAudio('r1');
    now += 15;
    t.itemStarted('other');
    t.itemStarted('r1');
    expect(seen).toEqual([{ totalMs: 540 + 215, inboundMs: 40, outboundMs: 15 }]);
    t.itemStarted('r1'); // only the first frame of the answer counts
    expect(seen).toHaveLength(1);
  });

  it('does not measure a turn the caller took back, and summarises p50/p95', () => {
    let now = 0;
    const t = new TurnLatency({ now: () => now, inboundDelayMs: () => 20, observe: () => undefined });
    t.speechEnded(undefined);
    t.speechStarted();
    t.agentAudio('r0');
    t.itemStarted('r0');
    expect(t.summary()).toEqual({ turns: 0 });
    for (const [i, wait] of [300, 400, 500, 1000].entries()) {
      t.speechEnded(undefined);
      now += wait - 20;
      t.agentAudio(`r${i + 1}`);
      t.itemStarted(`r${i + 1}`);
    }
    expect(t.summary()).toMatchObject({
      turns: 4,
      p50Ms: 400,
      p95Ms: 1000,
      inboundP50Ms: 20,
      outboundP95Ms: 0,
    });
  });
});
