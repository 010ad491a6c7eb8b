/**
 * Codec factory keyed by the encoding name of an SDP rtpmap line. Registration is explicit (a switch), not an
 * import side effect.
 */
import { SwitchboardError } from '../../errors.js';
import type { Codec, CodecName } from './codec.js';
import { G711Codec } from './g711.js';
import { G722Codec } from './g722.js';
import { OpusCodec } from './opus.js';

export type { Codec, CodecName } from './codec.js';

/** Codecs createCodec() can build, spelled as in SDP (RFC 3551 Table 4, RFC 7587 §7). */
export const supportedCodecNames: readonly CodecName[] = Object.freeze(['PCMU', 'PCMA', 'G722', 'opus']);

/** True when `name` (any case, as in an rtpmap line) names a codec createCodec() can build. */
export function isCodecSupported(name: string): boolean {
  return canonicalName(name) !== undefined;
}

function canonicalName(name: string): CodecName | undefined {
  const lower = name.toLowerCase();
  return supportedCodecNames.find((n) => n.toLowerCase() === lower);
}

/**
 * Builds a fresh codec instance for one call. `name` is matched case-insensitively (SDP encoding names are
 * case-insensitive, RFC 4566 §6). Throws MEDIA_CODEC_UNSUPPORTED for anything else.
 */
export function createCodec(name: string, payloadType: number): Codec {
  switch (canonicalName(name)) {
    case 'PCMU':
      return new G711Codec('PCMU', payloadType);
    case 'PCMA':
      return new G711Codec('PCMA', payloadType);
    case 'G722':
      return new G722Codec(payloadType);
    case 'opus':
      return new OpusCodec(payloadType);
    case undefined:
      throw new SwitchboardError('MEDIA_CODEC_UNSUPPORTED', `codec ${name} is not supported`);
  }
}
