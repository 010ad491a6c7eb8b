/**
 * Which buffered frames are silence, for the jitter buffer's shrink: it may drop a frame to come down to
 * its target depth only when the listener cannot hear it go (linphone showed a mid-speech frame skip when
 * the shrink dropped whatever frame was next).
 *
 * G.711 is judged by level, straight from the codes (no decode): a frame is quiet when no sample reaches
 * QUIET_PEAK. The law is told by the codec's silence byte the buffer already gets as its fill byte (µ-law
 * 0xFF, A-law 0xD5 or its sign twin 0x55); other codecs (G.722, Opus) get no level test — for them only
 * the gaps between talkspurts are silence. Allocation-free.
 */
import { ALAW_DECODE_TABLE, ALAW_SILENCE, ULAW_DECODE_TABLE, ULAW_SILENCE } from '../codecs/g711.js';
import { SLOT_FILLED, type JitterRing } from './jitter-ring.js';

/** True when a frame's payload is silence (or comfort-noise level) that may be dropped unheard. */
export type SilentFrameTest = (payload: Buffer, payloadLength: number) => boolean;

/**
 * Peak level of a quiet frame, PCM16: −36 dBFS. Background noise of a handset sits near −50 dBFS; voiced
 * speech peaks well above −30 dBFS, so a frame under this holds at most a breath or the fade of a word.
 */
const QUIET_PEAK = 512;

function quietCodes(decode: Int16Array): Uint8Array {
  const table = new Uint8Array(256);
  for (let code = 0; code < 256; code++) table[code] = Math.abs(decode[code] ?? 0) < QUIET_PEAK ? 1 : 0;
  return table;
}

const ULAW_QUIET = quietCodes(ULAW_DECODE_TABLE);
const ALAW_QUIET = quietCodes(ALAW_DECODE_TABLE);

function quietTest(quiet: Uint8Array): SilentFrameTest {
  return (payload, payloadLength) => {
    const n = Math.min(payloadLength, payload.length);
    for (let i = 0; i < n; i++) if (quiet[payload[i] as number] !== 1) return false;
    return true;
  };
}

const ULAW_QUIET_TEST = quietTest(ULAW_QUIET);
const ALAW_QUIET_TEST = quietTest(ALAW_QUIET);
const NEVER_SILENT: SilentFrameTest = () => false;

/**
 * The level test for a sample-mode stream of one byte per timestamp unit whose silence byte is
 * `fillByte`; a test that never says silent for anything else.
 */
export function silentFrameTestFor(bytesPerUnit: number, fillByte: number): SilentFrameTest {
  if (bytesPerUnit !== 1) return NEVER_SILENT;
  if (fillByte === ULAW_SILENCE) return ULAW_QUIET_TEST;
  if (fillByte === ALAW_SILENCE || fillByte === (ALAW_SILENCE & 0x7f)) return ALAW_QUIET_TEST;
  return NEVER_SILENT;
}

/** frameKindAt(): a frame of speech; quiet; empty between talkspurts; empty because a packet was lost. */
export const SPEECH_FRAME = 0;
export const QUIET_FRAME = 1;
export const SILENCE_GAP = 2;
export const LOST_FRAME = 3;

/**
 * What frame `index` of the ring is for the shrink: a buffered frame `isSilent` calls quiet or not; an
 * empty frame between talkspurts — the next buffered frame (up to `highestFrame`) has the marker bit
 * (RFC 3551 §4.1) or follows `playedSeq`, the last frame played, by sequence number, so nothing is missing
 * in between; or an empty frame where a packet is missing (or late).
 */
export function frameKindAt(
  ring: JitterRing,
  index: number,
  highestFrame: number,
  playedSeq: number,
  isSilent: SilentFrameTest,
): number {
  const slot = index & ring.indexMask;
  if (ring.frame[slot] === index && ring.state[slot] === SLOT_FILLED)
    return isSilent(ring.view(slot), ring.len[slot] ?? 0) ? QUIET_FRAME : SPEECH_FRAME;
  for (let f = index + 1; f <= highestFrame && f - index < ring.size; f++) {
    const next = f & ring.indexMask;
    if (ring.frame[next] !== f || ring.state[next] !== SLOT_FILLED) continue;
    const follows = playedSeq >= 0 && ring.seq[next] === ((playedSeq + 1) & 0xffff);
    return ring.marker[next] === 1 || follows ? SILENCE_GAP : LOST_FRAME;
  }
  return LOST_FRAME;
}
