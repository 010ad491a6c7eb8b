/**
 * Adaptive jitter buffer for one inbound RTP audio stream: push packets as they arrive, pop one frame per
 * ptime on the media clock.
 *
 * Placement is by RTP timestamp (RFC 3550 §5.1: it is the sampling instant), not by sequence number, so
 * silence-suppression gaps and RFC 4733 events that share the sequence space keep their real duration.
 * Packets of any duration are cut into (or merged from) frames when the codec allows it (jitter-ring.ts:
 * 10, 30, 40 or 60 ms packets on a 20 ms leg). Sequence numbers give loss, reorder and duplicate statistics,
 * and tell a sender's discontinuity from a late packet:
 * - a packet newer by sequence whose timestamp went backwards (an SBC switching source without a new SSRC)
 *   or, with frames still buffered, jumped beyond the ring: the timeline is rebased so it follows the last
 *   packet by its sequence distance — no gap, no packet "late" forever (jitter-timeline.ts);
 * - a new SSRC continues right after the old stream's last packet; a confirmed sequence jump restarts the
 *   numbering (jitter-stream.ts);
 * - newest packets late in a row for 200 ms of media mean the path got slower for good: the stream is
 *   re-anchored at the target depth (jitter-adapt.ts).
 *
 * Every pop() advances one frame (a loss never shifts time); the depth changes only as jitter-adapt.ts says
 * (grow by holding, jump at a talkspurt start, shrink at silence only), toward jitter-depth.ts's target.
 * Slots: jitter-ring.ts; timeline: jitter-timeline.ts; silence: jitter-silence.ts. push/pop: no allocation.
 */
import { seqDiff } from './packet.js';
import { DepthAdaptation, SHRINK_ANY, SHRINK_LOST, SHRINK_NONE } from './jitter-adapt.js';
import { DepthTarget } from './jitter-depth.js';
import { JitterRing, ReusableJitterFrame, SLOT_FILLED, SLOT_PLAYED, type SlotLayout } from './jitter-ring.js';
import {
  frameKindAt,
  LOST_FRAME,
  SPEECH_FRAME,
  silentFrameTestFor,
  type SilentFrameTest,
} from './jitter-silence.js';
import {
  CONFIRMED_JUMP,
  MAX_DROPOUT,
  MAX_MISORDER,
  NEW_SSRC,
  STALE_STREAM,
  StreamIdentity,
} from './jitter-stream.js';
import { JitterTimeline, PLACE_STRAY, PLACED_RESYNC } from './jitter-timeline.js';
import { ReceptionStats } from './reception-stats.js';
import {
  newJitterCounters,
  type JitterBufferOptions,
  type JitterBufferStats,
  type JitterFrame,
  type JitterPacket,
  type JitterPushResult,
} from './jitter-types.js';

export type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterFrame,
  JitterFrameKind,
  JitterPacket,
  JitterPushResult,
} from './jitter-types.js';

/** No horizon for placeNewer(): the buffer is empty, any jump ahead is a silence. */
const NO_HORIZON = 0x3fffffff;

export class JitterBuffer {
  readonly #frameSamples: number;
  readonly #frameMs: number;
  /** Timestamp units per ms of media (frameSamples / frameDurationMs). */
  readonly #unitsPerMs: number;
  readonly #maxPayload: number;
  /** Bytes per RTP timestamp unit in sample mode; 0 in packet mode. */
  readonly #bytesPerUnit: number;
  readonly #isSilent: SilentFrameTest;
  readonly #now: () => number;
  readonly #ring: JitterRing;
  /** How packets map to slot bytes (see JitterRing.writeSpan). */
  readonly #layout: SlotLayout;
  readonly #frame: JitterFrame;

  #started = false;
  readonly #stream = new StreamIdentity();
  readonly #timeline: JitterTimeline;
  /** The next #place is the packet a (re)started ReceptionStats already counted. */
  #counted = false;
  #highestFrame = 0;
  #firstFrame = 0;
  #playIndex = 0;
  #pending = 0;
  /** Sequence number of the last frame played: an empty frame before its successor is a silence gap. */
  #playedSeq = -1;
  readonly #depth: DepthTarget;
  readonly #adapt: DepthAdaptation;
  readonly #reception: ReceptionStats;
  readonly #stats = newJitterCounters();

  constructor(options: JitterBufferOptions) {
    if (!(options.frameSamples > 0)) throw new RangeError('frameSamples must be positive');
    const F = options.frameSamples;
    this.#frameSamples = F;
    this.#frameMs = options.frameDurationMs ?? 20;
    this.#unitsPerMs = F / this.#frameMs;
    const minMs = options.minDepthMs ?? 20;
    const maxMs = Math.max(minMs, options.maxDepthMs ?? 120);
    const maxFrames = Math.max(1, Math.ceil(minMs / this.#frameMs), Math.ceil(maxMs / this.#frameMs));
    // The jitter estimate starts as a prior worth the initial depth and converges from there (the 1/16 gain
    // of RFC 3550 §A.8), so one calm second does not throw away the safety margin at once.
    const initialMs = options.initialDepthMs ?? 40;
    this.#reception = new ReceptionStats(Math.max(0, (initialMs - 1) / 3));
    this.#maxPayload = options.maxPayloadBytes ?? 1500;
    this.#bytesPerUnit = Math.max(0, options.bytesPerTimestampUnit ?? 0);
    const frameBytes = this.#bytesPerUnit > 0 ? Math.ceil(F * this.#bytesPerUnit) : 0;
    this.#now = options.nowMs ?? (() => performance.now());
    // Room for the deepest target, the longest packet, and as much again for reordering and bursts.
    const longest = this.#bytesPerUnit > 0 ? Math.ceil(this.#maxPayload / this.#bytesPerUnit / F) : 1;
    this.#ring = new JitterRing(
      (maxFrames + longest) * 2 + 4,
      this.#bytesPerUnit > 0 ? frameBytes : this.#maxPayload,
      F,
    );
    this.#timeline = new JitterTimeline(F, this.#bytesPerUnit > 0);
    this.#layout = {
      frameUnits: F,
      bytesPerUnit: this.#bytesPerUnit,
      frameBytes,
      fillByte: options.fillByte ?? 0,
    };
    this.#isSilent = options.silentFrame ?? silentFrameTestFor(this.#bytesPerUnit, this.#layout.fillByte);
    this.#depth = new DepthTarget(
      this.#reception,
      this.#frameMs,
      { minMs, maxMs, initialMs },
      this.#ring.size,
    );
    this.#adapt = new DepthAdaptation(options.adaptWindowFrames ?? 50, this.#depth, F, this.#frameMs);
    this.#frame = new ReusableJitterFrame(this.#ring.view(0).subarray(0, 0));
  }

  /** Number of slots in the ring (frames the buffer can hold ahead of the playout point). */
  get capacityFrames(): number {
    return this.#ring.size;
  }

  /** Current target depth in ms. */
  get targetDepthMs(): number {
    return this.#depth.frames * this.#frameMs;
  }

  /**
   * Copies the packet's payload into its frame slot(s). Never throws on bad input; the result says what
   * happened. `arrivalMs` (monotonic) defaults to the `nowMs` clock. That clock read is the one per-packet
   * allocation left (Node's performance.now() allocates internally); pass a time you already have.
   */
  push(packet: JitterPacket, arrivalMs: number = this.#now()): JitterPushResult {
    const s = this.#stats;
    s.received++;
    const length = packet.payloadLength;
    if (length > this.#maxPayload) {
      s.oversize++;
      return 'oversize';
    }
    const units = this.#bytesPerUnit > 0 ? Math.floor(length / this.#bytesPerUnit) | 0 : this.#frameSamples;
    if (length === 0 || units === 0) {
      s.noPayload++; // RFC 6263 keepalive or a truncated payload: nothing to play
      return 'no-payload';
    }
    const seq = packet.sequence;
    if (!this.#started) {
      this.#startStream(packet);
      return this.#place(packet, units, 0, 0, 1, arrivalMs);
    }
    const identity = this.#stream.classify(packet.ssrc, seq);
    if (identity === STALE_STREAM) {
      s.stale++; // a straggler of the stream we switched away from
      return 'stale';
    }
    if (identity === NEW_SSRC || identity === CONFIRMED_JUMP) {
      if (identity === NEW_SSRC) s.ssrcChanges++;
      else s.resyncs++;
      return this.#continueWith(packet, units, arrivalMs);
    }
    const tl = this.#timeline;
    const d = seqDiff(seq, tl.lastSeq);
    if (d > MAX_DROPOUT || d < -MAX_MISORDER) return this.#stray(seq);

    if (d > 0) {
      // Newer: at its timestamp unless that contradicts its sequence number (a sender's discontinuity).
      const horizon = this.#pending > 0 ? this.#playIndex + this.#ring.size : NO_HORIZON;
      const placed = tl.placeNewer(packet.timestamp, d, units, horizon);
      if (placed === PLACE_STRAY) return this.#stray(seq);
      if (placed === PLACED_RESYNC) s.resyncs++;
    } else {
      tl.locate(packet.timestamp);
    }
    return this.#place(packet, units, tl.frame, tl.offset, d, arrivalMs);
  }

  /**
   * Accounts for a packet of this stream that is consumed elsewhere — RFC 4733 events share the audio
   * stream's SSRC and sequence space (§2.1) — so its sequence number is neither lost nor a discontinuity.
   */
  noteDiverted(sequence: number, ssrc: number): void {
    if (!this.#started || !this.#stream.isCurrent(ssrc)) return;
    this.#reception.noteSequence(sequence);
    const d = seqDiff(sequence, this.#timeline.lastSeq);
    if (d > 0 && d <= MAX_DROPOUT) this.#timeline.lastSeq = sequence;
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
    this.#depth.onPop();
    if (this.#adapt.takeHold()) {
      // Growing the depth: play a concealment frame without advancing.
      this.#stats.inserted++;
      this.#stats.concealed++;
      out.kind = 'lost';
      return out;
    }
    const depth = this.#highestFrame - this.#playIndex + 1;
    const shrink = this.#adapt.shrinkDue(depth, this.#pending);
    if (shrink !== SHRINK_NONE) this.#shrink(shrink);

    const index = this.#playIndex++;
    if (index < this.#firstFrame) {
      out.kind = 'idle';
      return out;
    }
    const ring = this.#ring;
    const slot = index & ring.indexMask;
    if (ring.frame[slot] === index && ring.state[slot] === SLOT_FILLED) {
      ring.state[slot] = SLOT_PLAYED;
      this.#pending--;
      if (this.#bytesPerUnit > 0 && ring.filled[slot] !== ring.fullMask) this.#stats.partial++;
      out.kind = 'frame';
      out.payload = ring.view(slot);
      out.payloadLength = ring.len[slot] ?? 0;
      out.sequence = ring.seq[slot] ?? 0;
      out.timestamp = ring.ts[slot] ?? 0;
      out.marker = ring.marker[slot] === 1;
      this.#playedSeq = out.sequence;
      return out;
    }
    if (this.#pending > 0) {
      // A gap with later frames buffered: below target depth, hold here (grow) — jitter-adapt.ts.
      if (this.#adapt.holdAtGap(index, this.#highestFrame)) {
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
    this.#stream.forget();
    this.#ring.clear();
    this.#pending = 0;
    this.#playedSeq = -1;
    this.#adapt.reset();
  }

  /** A snapshot of the counters. Allocates; call it for metrics, not per packet. */
  stats(): JitterBufferStats {
    const depthFrames = this.#started ? Math.max(0, this.#highestFrame - this.#playIndex + 1) : 0;
    return {
      ...this.#stats,
      lost: this.#reception.lost,
      depthMs: depthFrames * this.#frameMs,
      targetDepthMs: this.#depth.frames * this.#frameMs,
      jitterMs: this.#reception.jitterMs,
    };
  }

  #startStream(packet: JitterPacket): void {
    this.reset();
    this.#started = true;
    this.#stream.start(packet.ssrc);
    this.#timeline.start(packet.timestamp, packet.sequence);
    this.#highestFrame = -1;
    this.#firstFrame = 0;
    this.#adapt.endLateRun();
    // Before the first frame: pops are idle until the packet has the target depth ahead of it.
    this.#playIndex = 1 - this.#depth.frames;
    this.#reception.restart(packet.sequence);
    this.#counted = true;
  }

  /**
   * The stream goes on with a new clock (SSRC change, restarted numbering): `packet` follows the last one
   * directly when audio is still buffered, else it starts a new talkspurt at the playout point.
   */
  #continueWith(packet: JitterPacket, units: number, arrivalMs: number): JitterPushResult {
    this.#reception.restart(packet.sequence);
    this.#counted = true;
    this.#stream.settle();
    this.#adapt.endLateRun();
    let frame = this.#timeline.lastEndFrame;
    let off = this.#timeline.lastEndOff;
    if (this.#pending === 0 || frame < this.#playIndex) {
      frame = Math.max(frame + (off > 0 ? 1 : 0), this.#playIndex);
      off = 0;
    }
    this.#timeline.rebase(packet.timestamp, frame, off);
    return this.#place(packet, units, frame, off, 1, arrivalMs);
  }

  #stray(seq: number): JitterPushResult {
    this.#stats.outOfRange++;
    this.#stream.stray(seq);
    return 'out-of-range';
  }

  /** Stores a located packet (`d`: its sequence distance from the newest). */
  #place(
    packet: JitterPacket,
    units: number,
    frame: number,
    off: number,
    d: number,
    arrivalMs: number,
  ): JitterPushResult {
    const s = this.#stats;
    const F = this.#frameSamples;
    const counted = this.#counted;
    this.#counted = false;
    let lastFrame = (frame + Math.floor((off + units - 1) / F)) | 0;
    if (units > F) this.#depth.noteSpan((Math.ceil(units / F) - 1) | 0);
    if (this.#pending === 0 && lastFrame >= this.#playIndex)
      this.#playIndex = this.#adapt.onArrivalWhenEmpty(lastFrame, packet.marker, d === 1, this.#playIndex);
    if (lastFrame - this.#playIndex >= this.#ring.size || this.#playIndex - frame >= this.#ring.size) {
      // Far outside the window (a stray older packet, or one too far ahead to hold).
      s.outOfRange++;
      return 'out-of-range';
    }
    if (this.#ring.hasSpan(frame, off, units, this.#bytesPerUnit > 0 ? F : 0)) {
      s.duplicate++;
      return 'duplicate';
    }
    if (!counted && this.#reception.noteSequence(packet.sequence) < 0 && lastFrame >= this.#playIndex)
      s.reordered++;
    this.#reception.noteArrival(arrivalMs, frame * F + off, this.#unitsPerMs);
    this.#stream.settle();
    if (lastFrame < this.#playIndex) {
      if (d <= 0 || !this.#adapt.lateNewestReanchors(units)) {
        s.late++;
        // It would have been in time with (playIndex − frame) more frames of depth.
        this.#depth.notePeak(this.#depth.frames + (this.#playIndex - lastFrame));
        if (d > 0) this.#timeline.advance(packet.sequence, packet.timestamp, frame, off, units);
        return 'late';
      }
      // The newest packets keep arriving late: the path delay stepped up. Re-anchor at the target depth.
      s.resyncs++;
      const shift = this.#playIndex + this.#depth.frames - 1 - lastFrame;
      frame += shift;
      lastFrame += shift;
      this.#timeline.rebase(packet.timestamp, frame, off);
    }
    if (d > 0) this.#adapt.endLateRun();
    this.#depth.update();
    // A reordered packet needed the depth to cover its distance behind the newest frame.
    if (lastFrame < this.#highestFrame) this.#depth.notePeak(this.#highestFrame - lastFrame + 1);
    if (lastFrame > this.#highestFrame) this.#highestFrame = lastFrame;
    if (frame < this.#firstFrame) this.#firstFrame = frame;
    this.#pending += this.#ring.writeSpan(packet, frame, off, units, this.#playIndex, this.#layout);
    if (d > 0) this.#timeline.advance(packet.sequence, packet.timestamp, frame, off, units);
    return 'accepted';
  }

  /** The depth is over target: drop the frame at the playout point if `level` allows (jitter-adapt.ts). */
  #shrink(level: number): void {
    const ring = this.#ring;
    const index = this.#playIndex;
    const kind = frameKindAt(ring, index, this.#highestFrame, this.#playedSeq, this.#isSilent);
    if (kind === SPEECH_FRAME ? level < SHRINK_ANY : kind === LOST_FRAME && level < SHRINK_LOST) return;
    const slot = index & ring.indexMask;
    if (ring.frame[slot] === index && ring.state[slot] === SLOT_FILLED) {
      ring.state[slot] = SLOT_PLAYED;
      this.#pending--;
    }
    this.#playIndex++;
    this.#stats.skipped++;
    this.#adapt.shrank(kind !== SPEECH_FRAME && kind !== LOST_FRAME);
  }
}
