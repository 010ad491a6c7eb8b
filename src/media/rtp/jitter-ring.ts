/**
 * The jitter buffer's storage: a power-of-two ring of frame slots with preallocated payload bytes.
 *
 * A slot holds one playout frame (frameSamples RTP timestamp units). In sample mode (G.711, G.722, L16:
 * a fixed number of bytes per timestamp unit) a packet of any duration is cut into the frames it overlaps,
 * so 10 ms packets fill half a 20 ms frame each and a 30 ms packet fills one and a half (issue 10: placing
 * whole packets by rounded timestamp dropped 40 % of 10 ms packets and concealed 57 % of 30 ms frames). Which
 * parts of a frame arrived is a 32-bit mask of granules (frameSamples / 32 units each, rounded up); a part
 * that never arrives keeps the codec's silence byte. In packet mode (Opus and other codecs whose payload
 * cannot be cut) a packet fills one slot whole.
 *
 * Allocation-free: typed arrays and Buffer views made once.
 */
import type { JitterFrame, JitterFrameKind, JitterPacket } from './jitter-types.js';

/** pop()'s reused result; the unsigned timestamp sits in a Uint32Array so setting it never allocates. */
export class ReusableJitterFrame implements JitterFrame {
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

/** How packets map to slot bytes: `bytesPerUnit` 0 is packet mode (one packet = one frame). */
export interface SlotLayout {
  readonly frameUnits: number;
  readonly bytesPerUnit: number;
  readonly frameBytes: number;
  readonly fillByte: number;
}

export const SLOT_EMPTY = 0;
export const SLOT_FILLED = 1;
export const SLOT_PLAYED = 2;

/** Payloads up to this size are copied with a loop instead of Buffer#copy (see write()). */
const INLINE_COPY_BYTES = 512;
const GRANULES = 32;

export class JitterRing {
  readonly size: number;
  readonly indexMask: number;
  readonly frame: Float64Array;
  readonly state: Uint8Array;
  /**
   * Granules written, one bit each. Masks are signed int32 (bit 31 makes them negative): an unsigned value
   * ≥ 2^31 would be a boxed HeapNumber in V8 and allocate whenever it is passed around.
   */
  readonly filled: Int32Array;
  readonly seq: Uint16Array;
  readonly ts: Uint32Array;
  readonly len: Uint16Array;
  readonly marker: Uint8Array;
  readonly views: Buffer[];
  /** Timestamp units per granule, and the mask of a complete frame. */
  readonly granuleUnits: number;
  readonly fullMask: number;
  readonly #fallback: Buffer;

  constructor(minSlots: number, slotBytes: number, frameUnits: number) {
    let size = 8;
    while (size < minSlots) size *= 2;
    this.size = size;
    this.indexMask = size - 1;
    this.frame = new Float64Array(size);
    this.state = new Uint8Array(size);
    this.filled = new Int32Array(size);
    this.seq = new Uint16Array(size);
    this.ts = new Uint32Array(size);
    this.len = new Uint16Array(size);
    this.marker = new Uint8Array(size);
    const storage = Buffer.alloc(size * slotBytes);
    this.views = [];
    for (let i = 0; i < size; i++) this.views.push(storage.subarray(i * slotBytes, (i + 1) * slotBytes));
    this.#fallback = storage.subarray(0, 0);
    this.granuleUnits = Math.max(1, Math.ceil(frameUnits / GRANULES));
    const n = Math.ceil(frameUnits / this.granuleUnits);
    this.fullMask = n >= 32 ? -1 : (1 << n) - 1;
  }

  view(slot: number): Buffer {
    return this.views[slot] ?? this.#fallback;
  }

  /** Granule bits covering units [from, to) of a frame. */
  bits(from: number, to: number): number {
    const g = this.granuleUnits;
    const lo = Math.floor(from / g) | 0;
    const hi = Math.ceil(to / g) | 0;
    const upper = hi >= 32 ? -1 : (1 << hi) - 1;
    return upper & ~((1 << lo) - 1);
  }

  /** True when `frame` is in its slot (filled or played) with all of `bits` already written. */
  has(frame: number, bits: number): boolean {
    const slot = frame & this.indexMask;
    return (
      this.frame[slot] === frame &&
      this.state[slot] !== SLOT_EMPTY &&
      ((this.filled[slot] ?? 0) & bits) === bits
    );
  }

  /**
   * Makes `frame`'s slot hold that frame, unplayed: a slot holding another frame (or nothing) is reset,
   * its first `fillBytes` bytes set to `fillByte`. Returns true when the slot was (re)claimed.
   */
  claim(frame: number, fillBytes: number, fillByte: number): boolean {
    const slot = frame & this.indexMask;
    if (this.frame[slot] === frame && this.state[slot] === SLOT_FILLED) return false;
    this.frame[slot] = frame;
    this.state[slot] = SLOT_FILLED;
    this.filled[slot] = 0;
    this.marker[slot] = 0;
    const view = this.view(slot);
    for (let i = 0; i < fillBytes; i++) view[i] = fillByte;
    return true;
  }

  /** Copies `src[from, from+n)` to byte `at` of the slot of `frame`. */
  write(frame: number, at: number, src: Buffer, from: number, n: number): void {
    const dst = this.view(frame & this.indexMask);
    if (n <= INLINE_COPY_BYTES) {
      // Buffer#copy from a non-zero offset allocates a Uint8Array view per call (Node 20 _copyActual); a
      // plain loop does not, and is as fast for voice-sized payloads.
      for (let i = 0; i < n; i++) dst[at + i] = src[from + i] ?? 0;
    } else {
      src.copy(dst, at, from, from + n);
    }
  }

  clear(): void {
    this.state.fill(SLOT_EMPTY);
  }

  /**
   * True when every part of a packet at (`frame`, unit offset `off`) of `units` units is already held —
   * a duplicate. `frameUnits` 0: packet mode.
   */
  hasSpan(frame: number, off: number, units: number, frameUnits: number): boolean {
    if (frameUnits === 0) return this.has(frame, this.fullMask);
    let f = frame;
    let from = off;
    let left = units;
    while (left > 0) {
      const n = Math.min(left, frameUnits - from);
      if (!this.has(f, this.bits(from, from + n))) return false;
      left -= n;
      from = 0;
      f++;
    }
    return true;
  }

  /**
   * Writes the packet into the frames it covers from `playIndex` on (earlier ones were played already).
   * Returns how many frames became pending (slots newly claimed).
   */
  writeSpan(
    packet: JitterPacket,
    frame: number,
    off: number,
    units: number,
    playIndex: number,
    layout: SlotLayout,
  ): number {
    const src = packet.buffer;
    let claimed = 0;
    if (layout.bytesPerUnit === 0) {
      if (this.#claimFor(frame, packet, 0, layout)) claimed++;
      const slot = frame & this.indexMask;
      this.write(frame, 0, src, packet.payloadOffset, packet.payloadLength);
      this.len[slot] = packet.payloadLength;
      this.filled[slot] = this.fullMask;
      this.marker[slot] = packet.marker ? 1 : 0;
      return claimed;
    }
    const F = layout.frameUnits;
    const bpu = layout.bytesPerUnit;
    let f = frame;
    let from = off;
    let left = units;
    let at = packet.payloadOffset;
    while (left > 0) {
      const n = Math.min(left, F - from);
      if (f >= playIndex) {
        if (this.#claimFor(f, packet, (f - frame) * F - off, layout)) claimed++;
        const slot = f & this.indexMask;
        this.write(f, from * bpu, src, at, n * bpu);
        this.filled[slot] = (this.filled[slot] ?? 0) | this.bits(from, from + n);
        if (f === frame && packet.marker) this.marker[slot] = 1;
      }
      at += n * bpu;
      left -= n;
      from = 0;
      f++;
    }
    return claimed;
  }

  /** claim() plus the frame's metadata; `unitsIn`: how far into the packet the frame starts. */
  #claimFor(frame: number, packet: JitterPacket, unitsIn: number, layout: SlotLayout): boolean {
    if (!this.claim(frame, layout.frameBytes, layout.fillByte)) return false;
    const slot = frame & this.indexMask;
    this.seq[slot] = packet.sequence;
    this.ts[slot] = (packet.timestamp + unitsIn) >>> 0;
    this.len[slot] = layout.frameBytes;
    return true;
  }
}
