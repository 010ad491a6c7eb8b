/**
 * RTP fixed header parse/serialize (RFC 3550 §5.1) and wrap-around arithmetic for sequence numbers and
 * timestamps.
 *
 * The parser fills a caller-owned {@link RtpPacket} and describes the payload by `buffer` + offset + length,
 * so parsing a packet allocates nothing (STYLE.md §10). Malformed input returns `false`; it never throws,
 * because every byte on an RTP port comes from the network and may be garbage or hostile.
 */

/** RFC 3550 §5.1: the fixed header is 12 bytes. */
export const RTP_HEADER_BYTES = 12;

/**
 * A parsed RTP packet. The object is meant to be reused from packet to packet: `buffer` is the datagram it
 * was parsed from and every region is an offset + length into it. Copy out whatever you keep.
 */
export interface RtpPacket {
  /** The datagram this packet was parsed from (not copied). */
  buffer: Buffer;
  padding: boolean;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  /** Number of CSRC identifiers; they start at byte 12 of `buffer`, 4 bytes each. */
  csrcCount: number;
  /** True when the X bit is set; `extensionProfile` and the extension data region are then valid. */
  hasExtension: boolean;
  /** RFC 3550 §5.3.1 "defined by profile" 16-bit field (0xBEDE for RFC 8285 one-byte headers). */
  extensionProfile: number;
  /** Byte offset of the extension data (after the 4-byte extension header). */
  extensionOffset: number;
  /** Length of the extension data in bytes (the header's length field × 4). */
  extensionBytes: number;
  /** Byte offset of the payload in `buffer`. */
  payloadOffset: number;
  /** Payload length in bytes, padding already removed. */
  payloadLength: number;
  /** Number of padding bytes removed from the end (0 when P is clear). */
  paddingBytes: number;
}

/** The header fields a sender chooses per packet (the rest of the fixed header is constant). */
export interface RtpHeaderFields {
  readonly payloadType: number;
  readonly marker: boolean;
  readonly sequence: number;
  readonly timestamp: number;
  readonly ssrc: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * The reusable packet behind {@link createRtpPacket}. Timestamp and SSRC are unsigned 32-bit values; V8
 * boxes numbers ≥ 2^31 in a fresh HeapNumber whenever one is stored in an object field, so they live in a
 * Uint32Array and are exposed through accessors (inlined by the JIT) to keep parsing allocation-free.
 */
class ReusableRtpPacket implements RtpPacket {
  buffer: Buffer = EMPTY;
  padding = false;
  marker = false;
  payloadType = 0;
  sequence = 0;
  csrcCount = 0;
  hasExtension = false;
  extensionProfile = 0;
  extensionOffset = 0;
  extensionBytes = 0;
  payloadOffset = 0;
  payloadLength = 0;
  paddingBytes = 0;
  readonly #u32 = new Uint32Array(2);

  get timestamp(): number {
    return this.#u32[0] ?? 0;
  }

  set timestamp(value: number) {
    this.#u32[0] = value;
  }

  get ssrc(): number {
    return this.#u32[1] ?? 0;
  }

  set ssrc(value: number) {
    this.#u32[1] = value;
  }
}

/** A blank packet to pass to {@link parseRtp}; allocate one per socket and reuse it. */
export function createRtpPacket(): RtpPacket {
  return new ReusableRtpPacket();
}

/**
 * True when the datagram looks like RTCP rather than RTP. RFC 5761 §4: when RTP and RTCP share a port, the
 * second byte of an RTCP packet is its packet type, 192–223 (SR 200, RR 201, SDES 202, BYE 203, APP 204,
 * RTPFB 205, PSFB 206, XR 207, ...), which RTP can only produce with marker set and payload type 64–95 —
 * a range RFC 5761 forbids for RTP when multiplexing. We recognise and ignore RTCP.
 */
export function isRtcp(buf: Buffer, length: number = buf.length): boolean {
  if (length < 2) return false;
  const first = buf[0] ?? 0;
  const second = buf[1] ?? 0;
  return first >> 6 === 2 && second >= 192 && second <= 223;
}

/**
 * Parses one RTP packet from `buf[0, length)` into `out`. Returns false, leaving `out` in an unspecified
 * state, for anything that is not a well-formed RTP packet: shorter than the fixed header, version ≠ 2,
 * CSRC list or header extension running past the end, a padding count of 0 or larger than what follows the
 * header, or an RTCP packet (see {@link isRtcp}). Never throws, never allocates.
 */
export function parseRtp(buf: Buffer, out: RtpPacket, length: number = buf.length): boolean {
  if (length > buf.length || length < RTP_HEADER_BYTES) return false;
  const b0 = buf[0] ?? 0;
  const b1 = buf[1] ?? 0;
  // RFC 3550 §5.1: V is the top two bits and must be 2.
  if (b0 >> 6 !== 2) return false;
  if (b1 >= 192 && b1 <= 223) return false; // RTCP on a shared port (RFC 5761 §4)

  const csrcCount = b0 & 0x0f;
  let offset = RTP_HEADER_BYTES + csrcCount * 4;
  if (offset > length) return false;

  const hasExtension = (b0 & 0x10) !== 0;
  let extensionProfile = 0;
  let extensionOffset = 0;
  let extensionBytes = 0;
  if (hasExtension) {
    // RFC 3550 §5.3.1: 16-bit profile, 16-bit length in 32-bit words excluding this 4-byte header.
    if (offset + 4 > length) return false;
    extensionProfile = buf.readUInt16BE(offset);
    extensionBytes = buf.readUInt16BE(offset + 2) * 4;
    extensionOffset = offset + 4;
    offset = extensionOffset + extensionBytes;
    if (offset > length) return false;
  }

  let end = length;
  let paddingBytes = 0;
  const padding = (b0 & 0x20) !== 0;
  if (padding) {
    // RFC 3550 §5.1: the last octet counts the padding octets including itself, so 0 is invalid, and the
    // padding cannot reach back into the header or extension.
    paddingBytes = buf[length - 1] ?? 0;
    if (paddingBytes === 0 || paddingBytes > length - offset) return false;
    end = length - paddingBytes;
  }

  out.buffer = buf;
  out.padding = padding;
  out.marker = (b1 & 0x80) !== 0;
  out.payloadType = b1 & 0x7f;
  out.sequence = buf.readUInt16BE(2);
  out.timestamp = buf.readUInt32BE(4);
  out.ssrc = buf.readUInt32BE(8);
  out.csrcCount = csrcCount;
  out.hasExtension = hasExtension;
  out.extensionProfile = extensionProfile;
  out.extensionOffset = extensionOffset;
  out.extensionBytes = extensionBytes;
  out.payloadOffset = offset;
  out.payloadLength = end - offset;
  out.paddingBytes = paddingBytes;
  return true;
}

/** The payload as a Buffer view. Allocates a small view object: use offsets on hot paths. */
export function payloadView(packet: RtpPacket): Buffer {
  return packet.buffer.subarray(packet.payloadOffset, packet.payloadOffset + packet.payloadLength);
}

/** The header extension data as a Buffer view (empty when there is none). Allocates a view object. */
export function extensionView(packet: RtpPacket): Buffer {
  return packet.buffer.subarray(packet.extensionOffset, packet.extensionOffset + packet.extensionBytes);
}

/** CSRC number `index` (0-based), or undefined when out of range. */
export function csrcAt(packet: RtpPacket, index: number): number | undefined {
  if (index < 0 || index >= packet.csrcCount) return undefined;
  return packet.buffer.readUInt32BE(RTP_HEADER_BYTES + index * 4);
}

/**
 * Writes a 12-byte RTP fixed header (V=2, no padding, no extension, no CSRC) at `offset` and returns 12.
 * The payload goes right after it. Allocation-free: senders keep one packet buffer per stream.
 */
export function writeRtpHeader(buf: Buffer, offset: number, fields: RtpHeaderFields): number {
  buf[offset] = 0x80;
  buf[offset + 1] = (fields.marker ? 0x80 : 0) | (fields.payloadType & 0x7f);
  buf.writeUInt16BE(fields.sequence & 0xffff, offset + 2);
  buf.writeUInt32BE(fields.timestamp >>> 0, offset + 4);
  buf.writeUInt32BE(fields.ssrc >>> 0, offset + 8);
  return RTP_HEADER_BYTES;
}

/** Options for {@link serializeRtp} beyond the basic header: for tests and tools, not hot paths. */
export interface SerializeRtpOptions extends RtpHeaderFields {
  readonly csrcs?: readonly number[];
  readonly extension?: { readonly profile: number; readonly data: Buffer };
  /** Padding bytes to append (1–255), count included (RFC 3550 §5.1). */
  readonly paddingBytes?: number;
}

/** Builds a complete RTP packet in a new Buffer. Allocates; meant for tests and tools. */
export function serializeRtp(fields: SerializeRtpOptions, payload: Buffer): Buffer {
  const csrcs = fields.csrcs ?? [];
  if (csrcs.length > 15) throw new RangeError('at most 15 CSRCs');
  const ext = fields.extension;
  if (ext !== undefined && ext.data.length % 4 !== 0)
    throw new RangeError('extension data must be 32-bit aligned');
  const pad = fields.paddingBytes ?? 0;
  if (pad < 0 || pad > 255) throw new RangeError('paddingBytes must be 0..255');
  const extBytes = ext === undefined ? 0 : 4 + ext.data.length;
  const total = RTP_HEADER_BYTES + csrcs.length * 4 + extBytes + payload.length + pad;
  const buf = Buffer.alloc(total);
  writeRtpHeader(buf, 0, fields);
  buf[0] = 0x80 | (pad > 0 ? 0x20 : 0) | (ext !== undefined ? 0x10 : 0) | csrcs.length;
  let offset = RTP_HEADER_BYTES;
  for (const csrc of csrcs) {
    buf.writeUInt32BE(csrc >>> 0, offset);
    offset += 4;
  }
  if (ext !== undefined) {
    buf.writeUInt16BE(ext.profile & 0xffff, offset);
    buf.writeUInt16BE(ext.data.length / 4, offset + 2);
    ext.data.copy(buf, offset + 4);
    offset += extBytes;
  }
  payload.copy(buf, offset);
  if (pad > 0) buf[total - 1] = pad;
  return buf;
}

/**
 * Signed distance `a − b` between two 16-bit sequence numbers, in [-32768, 32767] (RFC 3550 §A.1 treats
 * the sequence space as circular).
 */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** True when sequence `a` comes after `b` modulo 2^16 (so 0 is newer than 65535). */
export function seqNewer(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/** Signed distance `a − b` between two 32-bit RTP timestamps, in [-2^31, 2^31). */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when timestamp `a` comes after `b` modulo 2^32. */
export function tsNewer(a: number, b: number): boolean {
  return tsDiff(a, b) > 0;
}
