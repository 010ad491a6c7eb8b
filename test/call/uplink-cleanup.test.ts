/**
 * The uplink clean-up chain (issue 14) picks its stages from the profile and the call's rate: the noise
 * suppressor on 8 and 16 kHz calls only, the echo canceller as before, nothing at all when both are off (the
 * InboundBridge then passes G.711 straight through); its stats carry one key per stage that ran, and it
 * cleans in place as a bridge frame would be. The media leg here is an emitter with the call's codec (the
 * chain only reads the codec and listens for 'tick').
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { InboundBridge } from '../../src/call/audio-bridge.js';
import type { MediaLeg } from '../../src/call/media-leg.js';
import { UplinkCleanup } from '../../src/call/uplink-cleanup.js';
import { createCodec } from '../../src/media/codecs/index.js';
import { rmsDbfs } from '../../src/media/dsp/level.js';
import { noise } from '../media/dsp/echo-fixture.js';

function leg(codecName: string, payloadType: number): MediaLeg {
  return Object.assign(new EventEmitter(), {
    codec: createCodec(codecName, payloadType),
  }) as unknown as MediaLeg;
}

const audio = (echo: boolean, ns: boolean) => ({
  echo_cancel: echo,
  echo_tail_ms: 128,
  noise_suppression: ns,
});

describe('UplinkCleanup', () => {
  it('has no stage when both are off, and none for noise on a 48 kHz Opus call', () => {
    expect(UplinkCleanup.create(leg('PCMU', 0), audio(false, false))).toBeUndefined();
    expect(UplinkCleanup.create(leg('opus', 111), audio(false, true))).toBeUndefined();
  });

  it('runs the stages the profile asks for and reports one stats key per stage', () => {
    const noiseOnly = UplinkCleanup.create(leg('PCMA', 8), audio(false, true));
    expect(Object.keys(noiseOnly?.stats() ?? {})).toEqual(['noise']);
    const both = UplinkCleanup.create(leg('G722', 9), audio(true, true));
    expect(Object.keys(both?.stats() ?? {})).toEqual(['echo', 'noise']);
    const echoOnly = UplinkCleanup.create(leg('PCMU', 0), audio(true, false));
    expect(Object.keys(echoOnly?.stats() ?? {})).toEqual(['echo']);
    for (const c of [noiseOnly, both, echoOnly]) c?.close();
  });

  it('a G.711 passthrough call with noise suppression is decoded, cleaned and re-encoded', () => {
    const media = leg('PCMU', 0);
    const cleanup = UplinkCleanup.create(media, audio(false, true));
    const pushed: Buffer[] = [];
    const bridge = new InboundBridge(
      media.codec,
      { encoding: 'pcmu', sampleRateHz: 8000 },
      (a) => {
        pushed.push(Buffer.from(a as Buffer));
      },
      { echo: cleanup },
    );
    expect(bridge.mode).toBe('passthrough');
    // 3 s of steady −30 dBFS noise: the suppressor learns it and takes it down towards its −18 dB floor.
    const hiss = noise(8000 * 3, -30, 5);
    const pcm = Int16Array.from(hiss, (v) => Math.round(v));
    const payload = Buffer.alloc(160);
    for (let at = 0; at < pcm.length; at += 160) {
      media.codec.encode(pcm.subarray(at, at + 160), payload);
      bridge.frame(payload);
    }
    expect(pushed).toHaveLength(150);
    const decoded = new Int16Array(160 * 50);
    const last = Buffer.concat(pushed.slice(100));
    media.codec.decode(last, decoded);
    const inDb = rmsDbfs(pcm, 8000 * 2);
    const outDb = rmsDbfs(decoded);
    expect(inDb - outDb).toBeGreaterThanOrEqual(10);
    expect(cleanup?.stats().noise?.hops).toBe(300);
  });
});
