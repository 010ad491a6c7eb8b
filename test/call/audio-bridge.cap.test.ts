/**
 * Issue 11: a provider that sends 4 × 60 MB of audio at once must not grow the call's memory without bound.
 * The outbound bridge stops at the playout's cap (60 s per call) before resampling or encoding anything more,
 * counts what it dropped, and the playout reports the overflow once.
 */
import { describe, expect, it } from 'vitest';
import { OutboundBridge } from '../../src/call/audio-bridge.js';
import { createCodec } from '../../src/media/codecs/index.js';
import { MAX_QUEUED_AUDIO_MS, PlayoutStream } from '../../src/media/playout.js';
import { RecordingSink } from '../media/playout.support.js';

const MB = 1024 * 1024;

describe('OutboundBridge: audio ahead of playout is capped per call', () => {
  it('4 × 60 MB of 24 kHz PCM from a provider: 60 s queued, the rest dropped and counted, RSS bounded', () => {
    const codec = createCodec('PCMU', 0);
    const playout = new PlayoutStream({ sink: new RecordingSink(), frameSamples: 160 });
    const overflows: unknown[] = [];
    playout.on('overflow', (e) => overflows.push(e));
    const bridge = new OutboundBridge({ encoding: 'pcm16', sampleRateHz: 24_000 }, codec, 20, playout);
    const chunk = Buffer.alloc(60 * MB);
    for (let i = 0; i < chunk.length; i += 2) chunk.writeInt16LE(((i >> 1) % 200) * 50 - 5000, i);
    const rssBefore = process.memoryUsage().rss;
    for (let i = 0; i < 4; i++) bridge.push(chunk, 'item-1', 'resp-1');
    const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / MB;

    const sentMs = (4 * chunk.length * 1000) / (24_000 * 2); // 5,242,880 ms of audio
    expect(playout.queuedMs).toBe(MAX_QUEUED_AUDIO_MS);
    expect(bridge.droppedMs).toBeCloseTo(sentMs - MAX_QUEUED_AUDIO_MS, -1);
    expect(playout.stats().overflowFrames).toBeGreaterThanOrEqual(Math.floor(bridge.droppedMs / 20));
    expect(overflows).toHaveLength(1);
    // 60 s of PCMU frames is ~10 MB of buffers; without the cap this run queued 5,243 s (~250k frames).
    expect(rssGrowthMb).toBeLessThan(120);
    process.stdout.write(
      `cap: pushed ${(sentMs / 1000).toFixed(0)} s, queued ${playout.queuedMs / 1000} s, dropped ` +
        `${(bridge.droppedMs / 1000).toFixed(0)} s, RSS +${rssGrowthMb.toFixed(1)} MB\n`,
    );
  });

  it('G.711 passthrough stops at the cap too, and takes audio again once frames were sent', () => {
    const codec = createCodec('PCMA', 8);
    const playout = new PlayoutStream({
      sink: new RecordingSink(),
      frameSamples: 240,
      ptimeMs: 30,
      maxQueuedMs: 3000,
    });
    const bridge = new OutboundBridge({ encoding: 'pcma', sampleRateHz: 8000 }, codec, 30, playout);
    bridge.push(Buffer.alloc(8000 * 10, 0x55), 'a', 'r'); // 10 s into a 3 s cap
    expect(playout.queuedMs).toBe(3000);
    expect(bridge.droppedMs).toBe(7000);
    for (let n = 0; n < 30; n++) playout.tick(n, 0); // 600 ms = 20 packets sent
    bridge.push(Buffer.alloc(8000, 0x55), 'a', 'r'); // 1 s: 600 ms fit
    expect(playout.queuedMs).toBe(3000);
    expect(bridge.droppedMs).toBe(7400);
  });

  it('counts a partial frame already pending against the room', () => {
    const codec = createCodec('PCMU', 0);
    const playout = new PlayoutStream({ sink: new RecordingSink(), frameSamples: 160, maxQueuedMs: 100 });
    const bridge = new OutboundBridge({ encoding: 'pcmu', sampleRateHz: 8000 }, codec, 20, playout);
    bridge.push(Buffer.alloc(80, 0x11), 'a', 'r'); // half a frame pending
    bridge.push(Buffer.alloc(8000, 0x11), 'a', 'r');
    expect(playout.queuedMs).toBe(100);
    expect(bridge.droppedMs).toBe(1000 - 90);
  });
});
