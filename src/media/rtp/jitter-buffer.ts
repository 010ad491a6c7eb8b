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
 *   packet by its sequence distance — no gap, no packet "late" forever;
 * - a new SSRC (RFC 3550 §8.2) continues right after the old stream's last packet; stragglers of the old
 *   SSRC are dropped as `stale`; a sequence jump beyond RFC 3550 §A.1's MAX_DROPOUT restarts the stream
 *   once a second packet follows it (as RTP's own probation);
 * - newest packets late in a row for 200 ms of media mean the path got slower for good: the stream is
 *   re-anchored at the target depth rather than dropped packet after packet forever (a shorter run is a
 *   stall's tail: dropped, so time never shifts).
 *
 * Timing: every pop() advances the playout point by exactly one frame, whether the frame was there or not —
 * a loss never shifts time. The depth changes only at deliberate points:
 * - grow: at a gap (a frame missing while later ones are buffered) with the depth below target, or when
 *   the buffer has run empty and the next packet would be played with less than the target depth,
 *   concealment frames are inserted without advancing ("hold") — the listener hears concealment anyway;
 * - shrink: at the start of a talkspurt (marker bit, RFC 3551 §4.1, or the next sequence number after a
 *   timestamp gap: nothing can be in flight) we jump straight to the target depth, and in a continuous
 *   stream, when the depth stayed above target for a whole adaptation window, one frame is skipped.
 * The target depth is jitter-depth.ts; slot storage jitter-ring.ts; the timestamp timeline jitter-timeline.ts.
 *
 * Neither push() nor pop() allocates.
 */
import { seqDiff } from './packet.js';
import { DepthTarget } from './jitter-depth.js';
import { JitterRing, ReusableJitterFrame, SLOT_FILLED, SLOT_PLAYED, type SlotLayout } from './jitter-ring.js';
import { JitterTimeline } from './jitter-timeline.js';
import { ReceptionStats } from './reception-stats.js';
import type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterFrame,
  JitterPacket,
  JitterPushResult,
} from './jitter-types.js';
import { newJitterCounters } from './jitter-types.js';

export type {
  JitterBufferOptions,
  JitterBufferStats,
  JitterFrame,
  JitterFrameKind,
  JitterPacket,
  JitterPushResult,
} from './jitter-types.js';

/** RFC 3550 §A.1: sequence steps beyond these are not a reorder or a loss but a restart of the numbering. */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
/**
 * Newest packets late in a row, covering at least this much media time, mean the path delay stepped up for
 * good: re-anchor. Shorter runs are the tail of a stall: dropping them keeps time (no shift), which is what
 * the echo canceller and barge-in accounting want.
 */
const LATE_RUN_MS = 200;
/** "No minimum yet" for the shrink window; a small integer (not Infinity) keeps the field a V8 Smi. */
const NO_MIN = 0x3fffffff;

export class JitterBuffer {
  readonly #frameSamples: number;
  readonly #frameMs: number;
  /** Timestamp units per ms of media (frameSamples / frameDurationMs). */
  readonly #unitsPerMs: number;
  readonly #maxPayload: number;
  /** Bytes per RTP timestamp unit in sample mode; 0 in packet mode. */
  readonly #bytesPerUnit: number;
  readonly #window: number;
  readonly #now: () => number;
  readonly #ring: JitterRing;
  /** How packets map to slot bytes (see JitterRing.writeSpan). */
  readonly #layout: SlotLayout;
  readonly #frame: JitterFrame;

  #started = false;
  // 32-bit values kept as signed int32 (`| 0`) so V8 stores them unboxed; compared and diffed mod 2^32.
  #ssrc = 0;
  #prevSsrc = 0;
  #havePrev = false;
  readonly #timeline: JitterTimeline;
  #strayArmed = false;
  #straySeq = 0;
  /** Timestamp units covered by the current run of late newest packets, and the run that re-anchors. */
  #lateRun = 0;
  readonly #lateRunLimit: number;
  /** The next #place is the packet a (re)started ReceptionStats already counted. */
  #counted = false;
  #highestFrame = 0;
  #firstFrame = 0;
  #playIndex = 0;
  #pending = 0;
  #hold = 0;
  #gapIndex = -1;
  #gapHolds = 0;
  readonly #depth: DepthTarget;
  readonly #reception: ReceptionStats;
  #windowPops = 0;
  #windowMin = NO_MIN;
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
    this.#window = options.adaptWindowFrames ?? 50;
    this.#lateRunLimit = Math.max(3, Math.ceil(LATE_RUN_MS / this.#frameMs)) * F;
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
    this.#depth = new DepthTarget(
      this.#reception,
      this.#frameMs,
      { minMs, maxMs, initialMs },
      this.#ring.size,
    );
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
    if ((packet.ssrc | 0) !== this.#ssrc) {
      if (this.#havePrev && (packet.ssrc | 0) === this.#prevSsrc) {
        s.stale++; // a straggler of the stream we switched away from
        return 'stale';
      }
      // RFC 3550 §8.2: a new SSRC is a new stream (the peer restarted, or an SBC re-pointed media).
      s.ssrcChanges++;
      this.#prevSsrc = this.#ssrc;
      this.#havePrev = true;
      this.#ssrc = packet.ssrc | 0;
      return this.#continueWith(packet, units, arrivalMs);
    }
    if (this.#strayArmed && seq === ((this.#straySeq + 1) & 0xffff)) {
      // Two in a row on the far side of a jump: the sender really moved its numbering or its clock.
      s.resyncs++;
      return this.#continueWith(packet, units, arrivalMs);
    }
    const tl = this.#timeline;
    const d = seqDiff(seq, tl.lastSeq);
    if (d > MAX_DROPOUT || d < -MAX_MISORDER) return this.#stray(seq);

    tl.locate(packet.timestamp);
    let frame = tl.frame;
    let off = tl.offset;
    if (d > 0) {
      // Where the sequence number says this packet starts: after the newest, plus the packets in between.
      const F = this.#frameSamples;
      tl.expect(d);
      const eFrame = tl.frame;
      const eOff = tl.offset;
      const ahead = (frame - eFrame) * F + (off - eOff);
      const lastFrame = (frame + Math.floor((off + units - 1) / F)) | 0;
      if (ahead < 0 || (ahead > 0 && this.#pending > 0 && lastFrame - this.#playIndex >= this.#ring.size)) {
        // Timestamps never go backwards in sequence order (RFC 3550 §5.1): the sender rebased its clock.
        // A jump far ahead while audio is still buffered is the same event the other way (a silence that
        // long would have drained the buffer). One packet after the next is proof enough.
        if (ahead >= 0 && d > 1) return this.#stray(seq);
        s.resyncs++;
        frame = eFrame;
        off = eOff;
        tl.rebase(packet.timestamp, frame, off);
      }
    }
    return this.#place(packet, units, frame, off, d, arrivalMs);
  }

  /**
   * Accounts for a packet of this stream that is consumed elsewhere — RFC 4733 events share the audio
   * stream's SSRC and sequence space (§2.1) — so its sequence number is neither lost nor a discontinuity.
   */
  noteDiverted(sequence: number, ssrc: number): void {
    if (!this.#started || (ssrc | 0) !== this.#ssrc) return;
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
      return out;
    }
    if (this.#pending > 0) {
      // A gap with later frames buffered. If the depth is below target (late packets were seen), grow by
      // holding here one frame: the missing packet gets another frame time to arrive, and the listener hears
      // concealment either way. At most `target` holds per missing frame, so a stream that stops mid-gap
      // still drains.
      if (index !== this.#gapIndex) {
        this.#gapIndex = index;
        this.#gapHolds = 0;
      }
      if (this.#highestFrame - index + 1 < this.#depth.frames && this.#gapHolds < this.#depth.frames) {
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
    this.#havePrev = false;
    this.#ring.clear();
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
      targetDepthMs: this.#depth.frames * this.#frameMs,
      jitterMs: this.#reception.jitterMs,
    };
  }

  #startStream(packet: JitterPacket): void {
    this.reset();
    this.#started = true;
    this.#ssrc = packet.ssrc | 0;
    this.#timeline.start(packet.timestamp, packet.sequence);
    this.#highestFrame = -1;
    this.#firstFrame = 0;
    this.#strayArmed = false;
    this.#lateRun = 0;
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
    this.#strayArmed = false;
    this.#lateRun = 0;
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
    this.#strayArmed = true;
    this.#straySeq = seq;
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
      this.#reanchor(lastFrame, packet.marker, d === 1);
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
    this.#strayArmed = false;
    if (lastFrame < this.#playIndex) {
      if (d <= 0 || (this.#lateRun += units) < this.#lateRunLimit) {
        s.late++;
        // It would have been in time with (playIndex − frame) more frames of depth.
        this.#peak(this.#depth.frames + (this.#playIndex - lastFrame));
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
    if (d > 0) this.#lateRun = 0;
    this.#depth.update();
    // A reordered packet needed the depth to cover its distance behind the newest frame.
    if (lastFrame < this.#highestFrame) this.#peak(this.#highestFrame - lastFrame + 1);
    if (lastFrame > this.#highestFrame) this.#highestFrame = lastFrame;
    if (frame < this.#firstFrame) this.#firstFrame = frame;
    this.#pending += this.#ring.writeSpan(packet, frame, off, units, this.#playIndex, this.#layout);
    if (d > 0) this.#timeline.advance(packet.sequence, packet.timestamp, frame, off, units);
    return 'accepted';
  }

  /**
   * The buffer is empty and `lastFrame` (the packet's last) is the newest to play. Depth it would get:
   * lastFrame − playIndex + 1. Below target: insert concealment frames now (already in a gap). Above
   * target: skip ahead at a talkspurt start (marker, or the very next sequence number: nothing can be in
   * flight for the frames skipped) or beyond maxDepth — otherwise frames in between may still be coming.
   */
  #reanchor(lastFrame: number, marker: boolean, next: boolean): void {
    const desired = lastFrame - this.#depth.frames + 1;
    if (desired < this.#playIndex) {
      this.#hold = Math.min(this.#playIndex - desired, this.#depth.frames);
    } else if (
      desired > this.#playIndex &&
      (marker || next || lastFrame - this.#playIndex + 1 > this.#depth.maxFrames)
    ) {
      this.#playIndex = desired;
      this.#hold = 0;
    }
  }

  /** Skips one frame when the depth stayed above target for a whole window (clock drift, calmer network). */
  #adaptShrink(): void {
    const depth = this.#highestFrame - this.#playIndex + 1;
    if (depth < this.#windowMin) this.#windowMin = depth;
    if (++this.#windowPops < this.#window) return;
    if (this.#windowMin > this.#depth.frames && this.#pending > 0) {
      const ring = this.#ring;
      const slot = this.#playIndex & ring.indexMask;
      if (ring.frame[slot] === this.#playIndex && ring.state[slot] === SLOT_FILLED) {
        ring.state[slot] = SLOT_PLAYED;
        this.#pending--;
      }
      this.#playIndex++;
      this.#stats.skipped++;
    }
    this.#windowPops = 0;
    this.#windowMin = NO_MIN;
  }

  #peak(neededFrames: number): void {
    this.#depth.notePeak(neededFrames);
  }
}
