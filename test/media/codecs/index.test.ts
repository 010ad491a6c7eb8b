import { describe, expect, it } from 'vitest';
import { SwitchboardError } from '../../../src/errors.js';
import { createCodec, isCodecSupported, supportedCodecNames } from '../../../src/media/codecs/index.js';

describe('createCodec', () => {
  it('builds every supported codec from its rtpmap name, case-insensitively', () => {
    expect(supportedCodecNames).toEqual(['PCMU', 'PCMA', 'G722', 'opus']);
    for (const [name, canonical, rateHz] of [
      ['PCMU', 'PCMU', 8000],
      ['pcmu', 'PCMU', 8000],
      ['PcMa', 'PCMA', 8000],
      ['G722', 'G722', 16000],
      ['g722', 'G722', 16000],
      ['OPUS', 'opus', 48000],
      ['opus', 'opus', 48000],
    ] as const) {
      const codec = createCodec(name, 101);
      expect(codec.name).toBe(canonical);
      expect(codec.payloadType).toBe(101);
      expect(codec.sampleRateHz).toBe(rateHz);
      expect(codec.channels).toBe(1);
      codec.close?.();
      expect(isCodecSupported(name)).toBe(true);
    }
  });

  it('returns independent instances for stateful codecs', () => {
    expect(createCodec('opus', 111)).not.toBe(createCodec('opus', 111));
    expect(createCodec('G722', 9)).not.toBe(createCodec('G722', 9));
  });

  it.each(['G729', 'g729', 'telephone-event', ''])('throws MEDIA_CODEC_UNSUPPORTED for %j', (name) => {
    expect(isCodecSupported(name)).toBe(false);
    expect(() => createCodec(name, 9)).toThrow(SwitchboardError);
    try {
      createCodec(name, 9);
    } catch (err) {
      expect((err as SwitchboardError).code).toBe('MEDIA_CODEC_UNSUPPORTED');
    }
  });
});
