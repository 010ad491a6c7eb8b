/**
 * Adaptive jitter buffer for one inbound RTP audio stream: push packets as they arrive, pop one frame per
 * ptime on the media clock.
 *
 * Frames are placed by RTP timestamp (RFC 3550 §5.1: it is the sampling instant), not by sequence number,
 * so silence suppression gaps and RFC 4733 events that share the sequence space (they are diverted to the
 * DTMF receiver) keep their real duration. Sequence numbers give the loss, reorder and duplicate statistics.
 *
 * Timing: every pop() advances the playout point by exactly one frame, whether the frame was there or not —
 * a loss never shifts time. The depth changes only at deliberate points:
 * - grow: at a gap (a frame missing while later ones are buffered) with the depth below target, or when
 *   the buffer has run empty and the next packet would be played with less than the target depth,
 *   concealment frames are inserted without advancing ("hold") — the listener hears concealment anyway;
 * - shrink: at the start of a talkspurt (marker bit, RFC 3551 §4.1) we jump straight to the target depth,
 *   and in a continuous stream, when the depth stayed above target for a whole adaptation window (clock
 *   drift or calmer network), one frame is skipped.
 * The target is the larger of what the RFC 3550 §A.8 interarrival jitter estimate suggests and the depth the
 * worst recent reordered or late packet would have needed (held for 10 s, then relaxed frame by frame),
 * within [minDepthMs, maxDepthMs].
 *
 * Memory is a fixed ring of slots with preallocated payload storage; push() copies the payload in and
 * neither push() nor pop() allocates.
 */
import { tsDiff } from './packet.js';
import { ReceptionStats } from './reception-stats.js';
import type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterFrame,
  JitterFrameKind,
  JitterPacket,
  JitterPushResult,
} from './jitter-types.js';

export type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterFrame,
  JitterFrameKind,
  JitterPacket,
  JitterPushResult,
} from './jitter-types.js';

/** pop()'s reused result; the unsigned timestamp sits in a Uint32Array so setting it never allocates. */
class ReusableJitterFrame implements JitterFrame {
  kind: JitterFrameKind = 'idle';
  payloadLength = 0;
  sequence = 0;
  marker = false;
  readonly #u32 = new Uint32Array(1);

  constructor(public payload: Buffer) {}

  get timestamp(): number {
    return this.#u32[0] ?? 0;
  }

  set timestamp(value: number) {
    this.#u32[0] = value;
  }
}

const EMPTY = 0;
const FILLED = 1;
const PLAYED = 2;
/** Consecutive out-of-window packets that mean the sender jumped its timestamp: resync to them. */
const RESYNC_AFTER = 3;
/** Payloads up to this size are copied with a loop instead of Buffer#copy (see #store). */
const INLINE_COPY_BYTES = 512;
/** Pops without a packet needing the peak depth before the peak decays by one frame (10 s at 20 ms). */
const PEAK_HOLD_FRAMES = 500;
/** "No minimum yet" for the shrink window; a small integer (not Infinity) keeps the field a V8 Smi. */
const NO_MIN = 0x3fffffff;

export class JitterBuffer {
  readonly #frameSamples: number;
  readonly #frameMs: number;
  readonly #minFrames: number;
  readonly #maxFrames: number;
  readonly #maxPayload: number;
  readonly #window: number;
  readonly #now: () => number;
  readonly #ring: number;
  readonly #mask: number;
  readonly #slotFrame: Float64Array;
  readonly #slotState: Uint8Array;
  readonly #slotSeq: Uint16Array;
  readonly #slotTs: Uint32Array;
  readonly #slotLen: Uint16Array;
  readonly #slotMarker: Uint8Array;
  readonly #slotViews: Buffer[];
  readonly #frame: JitterFrame;

  #started = false;
  // 32-bit values kept as signed int32 (`| 0`) so V8 stores them unboxed; compared and diffed mod 2^32.
  #ssrc = 0;
  #refTs = 0;
  #highestFrame = 0;
  #firstFrame = 0;
  #playIndex = 0;
  #pending = 0;
  #hold = 0;
  #gapIndex = -1;
  #gapHolds = 0;
  #target: number;
  #outOfWindowRun = 0;
  readonly #reception: ReceptionStats;
  /** Depth (frames) the worst recent reordered or late packet needed; decays after PEAK_HOLD_FRAMES. */
  #peakFrames = 0;
  #popsSincePeak = 0;
  #windowPops = 0;
  #windowMin = NO_MIN;
  readonly #stats = {
    received: 0,
    late: 0,
    duplicate: 0,
    reordered: 0,
    concealed: 0,
    underruns: 0,
    inserted: 0,
    skipped: 0,
    ssrcChanges: 0,
    resyncs: 0,
    oversize: 0,
    outOfRange: 0,
  };

  constructor(options: JitterBufferOptions) {
    if (!(options.frameSamples > 0)) throw new RangeError('frameSamples must be positive');
    this.#frameSamples = options.frameSamples;
    this.#frameMs = options.frameDurationMs ?? 20;
    const minMs = options.minDepthMs ?? 20;
    const maxMs = Math.max(minMs, options.maxDepthMs ?? 120);
    this.#minFrames = Math.max(1, Math.ceil(minMs / this.#frameMs));
    this.#maxFrames = Math.max(this.#minFrames, Math.ceil(maxMs / this.#frameMs));
    // The jitter estimate starts as a prior worth the initial depth and converges from there (the 1/16 gain
    // of RFC 3550 §A.8), so one calm second does not throw away the safety margin at once.
    const initialMs = options.initialDepthMs ?? 40;
    this.#reception = new ReceptionStats(Math.max(0, (initialMs - 1) / 3));
    this.#target = this.#clampFrames(Math.ceil(initialMs / this.#frameMs));
    this.#maxPayload = options.maxPayloadBytes ?? 1500;
    this.#window = options.adaptWindowFrames ?? 50;
    this.#now = options.nowMs ?? (() => performance.now());
    // Room for the deepest target plus as much again for reordering and bursts, as a power of two.
    let ring = 8;
    while (ring < this.#maxFrames * 2 + 4) ring *= 2;
    this.#ring = ring;
    this.#mask = ring - 1;
    this.#slotFrame = new Float64Array(ring);
    this.#slotState = new Uint8Array(ring);
    this.#slotSeq = new Uint16Array(ring);
    this.#slotTs = new Uint32Array(ring);
    this.#slotLen = new Uint16Array(ring);
    this.#slotMarker = new Uint8Array(ring);
    const storage = Buffer.alloc(ring * this.#maxPayload);
    this.#slotViews = [];
    for (let i = 0; i < ring; i++) {
      this.#slotViews.push(storage.subarray(i * this.#maxPayload, (i + 1) * this.#maxPayload));
    }
    this.#frame = new ReusableJitterFrame(storage.subarray(0, 0));
  }

  /** Number of slots in the ring (frames the buffer can hold ahead of the playout point). */
  get capacityFrames(): number {
    return this.#ring;
  }

  /** Current target depth in ms. */
  get targetDepthMs(): number {
    return this.#target * this.#frameMs;
  }

  /**
   * Copies the packet's payload into its slot. Never throws on bad input; the result says what happened.
   * `arrivalMs` (monotonic) defaults to the `nowMs` clock. That clock read is the one per-packet allocation
   * left (Node's performance.now() allocates internally); pass a time you already have to avoid it.
   */
  push(packet: JitterPacket, arrivalMs: number = this.#now()): JitterPushResult {
    const s = this.#stats;
    s.received++;
    if (packet.payloadLength > this.#maxPayload) {
      s.oversize++;
      return 'oversize';
    }
    if (!this.#started || (packet.ssrc | 0) !== this.#ssrc) {
      // RFC 3550 §8.2: a new SSRC is a new stream (the peer restarted or media was re-pointed): resync.
      if (this.#started) s.ssrcChanges++;
      this.#resync(packet, arrivalMs);
      return this.#store(packet, this.#highestFrame);
    }
    const frame = this.#frameOf(packet.timestamp);

    // Buffer ran dry and this packet starts playout again: re-anchor to the target depth.
    if (this.#pending === 0 && frame >= this.#playIndex) this.#reanchor(frame, packet.marker);

    const rel = frame - this.#playIndex;
    if (rel >= this.#ring || rel < -this.#ring) {
      // Far outside the window: a stray packet, or the sender jumped its timestamp without a new SSRC.
      s.outOfRange++;
      if (++this.#outOfWindowRun < RESYNC_AFTER) return 'out-of-range';
      s.resyncs++;
      this.#resync(packet, arrivalMs);
      return this.#store(packet, this.#highestFrame);
    }
    this.#outOfWindowRun = 0;

    const slot = frame & this.#mask;
    if (this.#slotFrame[slot] === frame && this.#slotState[slot] !== EMPTY) {
      s.duplicate++;
      return 'duplicate';
    }
    if (this.#reception.noteSequence(packet.sequence) < 0 && rel >= 0) s.reordered++;
    this.#noteArrival(frame, arrivalMs);
    if (rel < 0) {
      s.late++;
      // It would have been in time with (playIndex − frame) more frames of depth.
      this.#notePeak(this.#target + (this.#playIndex - frame));
      return 'late';
    }
    // A reordered packet needed the depth to cover its distance behind the newest frame.
    if (frame < this.#highestFrame) this.#notePeak(this.#highestFrame - frame + 1);
    if (frame > this.#highestFrame) {
      this.#refTs = packet.timestamp | 0;
      this.#highestFrame = frame;
    }
    if (frame < this.#firstFrame) this.#firstFrame = frame;
    return this.#store(packet, frame);
  }

  /**
   * Accounts for a packet of this stream that is consumed elsewhere — RFC 4733 events share the audio
   * stream's SSRC and sequence space (§2.1) — so its sequence number is not counted as lost.
   */
  noteDiverted(sequence: number, ssrc: number): void {
    if (this.#started && (ssrc | 0) === this.#ssrc) this.#reception.noteSequence(sequence);
  }

  /**
   * Plays out the next frame; call exactly once per frame duration. The returned object is reused by the
   * next call.
   */
  pop(): JitterFrame {
    const out = this.#frame;
    out.payloadLength = 0;
    out.marker = false;
    if (!this.#started) {
      out.kind = 'idle';
      return out;
    }
    if (++this.#popsSincePeak > PEAK_HOLD_FRAMES && this.#peakFrames > 0) {
      // Nothing needed the peak depth for a while: relax it one frame at a time.
      this.#peakFrames--;
      this.#popsSincePeak = 0;
      this.#updateTarget();
    }
    if (this.#hold > 0) {
      // Growing the depth: play a concealment frame without advancing.
      this.#hold--;
      this.#stats.inserted++;
      this.#stats.concealed++;
      out.kind = 'lost';
      return out;
    }
    this.#adaptShrink();

    const index = this.#playIndex++;
    if (index < this.#firstFrame) {
      out.kind = 'idle';
      return out;
    }
    const slot = index & this.#mask;
    if (this.#slotFrame[slot] === index && this.#slotState[slot] === FILLED) {
      this.#slotState[slot] = PLAYED;
      this.#pending--;
      out.kind = 'frame';
      out.payload = this.#slotViews[slot] ?? out.payload;
      out.payloadLength = this.#slotLen[slot] ?? 0;
      out.sequence = this.#slotSeq[slot] ?? 0;
      out.timestamp = this.#slotTs[slot] ?? 0;
      out.marker = this.#slotMarker[slot] === 1;
      return out;
    }
    if (this.#pending > 0) {
      // A gap with later frames buffered. If the depth is below target (late packets were seen), grow by
      // holding here one frame: the missing packet gets another frame time to arrive, and the listener hears
      // concealment either way.
      // At most `target` holds per missing frame, so a stream that stops mid-gap still drains.
      if (index !== this.#gapIndex) {
        this.#gapIndex = index;
        this.#gapHolds = 0;
      }
      if (this.#highestFrame - index + 1 < this.#target && this.#gapHolds < this.#target) {
        this.#gapHolds++;
        this.#playIndex = index;
        this.#stats.inserted++;
      }
      this.#stats.concealed++;
      out.kind = 'lost';
    } else {
      this.#stats.underruns++;
      out.kind = 'empty';
    }
    return out;
  }

  /** Forgets the stream; the next packet starts a new one. Counters are kept. */
  reset(): void {
    this.#reception.stop();
    this.#started = false;
    this.#slotState.fill(EMPTY);
    this.#pending = 0;
    this.#hold = 0;
  }

  /** A snapshot of the counters. Allocates; call it for metrics, not per packet. */
  stats(): JitterBufferStats {
    const depthFrames = this.#started ? Math.max(0, this.#highestFrame - this.#playIndex + 1) : 0;
    return {
      ...this.#stats,
      lost: this.#reception.lost,
      depthMs: depthFrames * this.#frameMs,
      targetDepthMs: this.#target * this.#frameMs,
      jitterMs: this.#reception.jitterMs,
    };
  }

  #frameOf(timestamp: number): number {
    // Relative to the newest frame so 32-bit timestamp wrap-around is handled (RFC 3550 §5.1).
    return this.#highestFrame + Math.round(tsDiff(timestamp, this.#refTs) / this.#frameSamples);
  }

  #store(packet: JitterPacket, frame: number): JitterPushResult {
    const slot = frame & this.#mask;
    const dst = this.#slotViews[slot] ?? this.#frame.payload;
    const src = packet.buffer;
    const from = packet.payloadOffset;
    const n = packet.payloadLength;
    if (n <= INLINE_COPY_BYTES) {
      // Buffer#copy from a non-zero offset allocates a Uint8Array view per call (Node 20 _copyActual); a
      // plain loop does not, and is as fast for voice-sized payloads.
      for (let i = 0; i < n; i++) dst[i] = src[from + i] ?? 0;
    } else {
      src.copy(dst, 0, from, from + n);
    }
    this.#slotFrame[slot] = frame;
    this.#slotState[slot] = FILLED;
    this.#slotLen[slot] = packet.payloadLength;
    this.#slotSeq[slot] = packet.sequence;
    this.#slotTs[slot] = packet.timestamp;
    this.#slotMarker[slot] = packet.marker ? 1 : 0;
    this.#pending++;
    return 'accepted';
  }

  /** Starts a new stream at `packet`, keeping the counters. */
  #resync(packet: JitterPacket, arrivalMs: number): void {
    this.reset();
    this.#started = true;
    this.#ssrc = packet.ssrc | 0;
    this.#refTs = packet.timestamp | 0;
    this.#highestFrame = 0;
    this.#firstFrame = 0;
    this.#playIndex = 1 - this.#target;
    this.#outOfWindowRun = 0;
    this.#reception.restart(packet.sequence);
    this.#noteArrival(0, arrivalMs);
  }

  /**
   * The buffer is empty and `frame` is the next to play. Depth it would get: frame − playIndex + 1. Below
   * target: insert concealment frames now (already in a gap). Above target: skip ahead only at a talkspurt
   * start or beyond maxDepth — in a continuous stream the frames in between may still be in flight.
   */
  #reanchor(frame: number, marker: boolean): void {
    const desired = frame - this.#target + 1;
    if (desired < this.#playIndex) {
      this.#hold = Math.min(this.#playIndex - desired, this.#target);
    } else if (desired > this.#playIndex && (marker || frame - this.#playIndex + 1 > this.#maxFrames)) {
      this.#playIndex = desired;
      this.#hold = 0;
    }
  }

  /** Skips one frame when the depth stayed above target for a whole window (clock drift, calmer network). */
  #adaptShrink(): void {
    const depth = this.#highestFrame - this.#playIndex + 1;
    if (depth < this.#windowMin) this.#windowMin = depth;
    if (++this.#windowPops < this.#window) return;
    if (this.#windowMin > this.#target && this.#pending > 0) {
      const slot = this.#playIndex & this.#mask;
      if (this.#slotFrame[slot] === this.#playIndex && this.#slotState[slot] === FILLED) {
        this.#slotState[slot] = PLAYED;
        this.#pending--;
      }
      this.#playIndex++;
      this.#stats.skipped++;
    }
    this.#windowPops = 0;
    this.#windowMin = NO_MIN;
  }

  #noteArrival(frame: number, arrivalMs: number): void {
    this.#reception.noteArrival(arrivalMs, frame * this.#frameMs);
    this.#updateTarget();
  }

  #updateTarget(): void {
    // About three mean deviations cover most of the arrival spread; the reorder/late peak covers outliers
    // that the smoothed RFC 3550 estimate averages away.
    const jitterFrames = Math.ceil((3 * this.#reception.jitterMs) / this.#frameMs);
    this.#target = this.#clampFrames(Math.max(jitterFrames, this.#peakFrames));
  }

  #notePeak(neededFrames: number): void {
    if (neededFrames < this.#peakFrames) return;
    this.#popsSincePeak = 0;
    if (neededFrames === this.#peakFrames) return;
    this.#peakFrames = Math.min(neededFrames, this.#maxFrames);
    this.#updateTarget();
  }

  #clampFrames(frames: number): number {
    return Math.min(this.#maxFrames, Math.max(this.#minFrames, frames));
  }
}
