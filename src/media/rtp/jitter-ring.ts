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
  /** Granules written, one bit each. */
  readonly filled: Uint32Array;
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
    this.filled = new Uint32Array(size);
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
    this.fullMask = n >= 32 ? 0xffffffff : (1 << n) - 1;
  }

  view(slot: number): Buffer {
    return this.views[slot] ?? this.#fallback;
  }

  /** Granule bits covering units [from, to) of a frame. */
  bits(from: number, to: number): number {
    const g = this.granuleUnits;
    const lo = Math.floor(from / g);
    const hi = Math.ceil(to / g);
    const upper = hi >= 32 ? 0xffffffff : (1 << hi) - 1;
    return (upper & ~((1 << lo) - 1)) >>> 0;
  }

  /** True when `frame` is in its slot (filled or played) with all of `bits` already written. */
  has(frame: number, bits: number): boolean {
    const slot = frame & this.indexMask;
    return (
      this.frame[slot] === frame &&
      this.state[slot] !== SLOT_EMPTY &&
      ((this.filled[slot] ?? 0) & bits) >>> 0 === bits
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
    if (fillBytes > 0) this.view(slot).fill(fillByte, 0, fillBytes);
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
}
