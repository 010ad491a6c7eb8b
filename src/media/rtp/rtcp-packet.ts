/**
 * RTCP packets (RFC 3550 §6): compose and parse compound packets of SR, RR, SDES (CNAME) and BYE.
 *
 * Parsing follows the validity checks of RFC 3550 Appendix A.2 for a compound packet: every packet has
 * version 2, the first one is an SR or RR, only the last one may carry padding, and the packet lengths add
 * up to exactly the datagram. Each packet's counts (RC, SC) must fit in its own length. Anything else is
 * refused as a whole with a reason (the caller counts it and drops the datagram); nothing here throws on
 * peer input and every loop is bounded by the datagram's length.
 *
 * RTCP is rare (one compound every few seconds), so parsing returns fresh objects; composing writes into a
 * caller-owned buffer.
 */

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;

/** RFC 3550 §6.5: SDES item type of the canonical name. */
const SDES_CNAME = 1;
/** RFC 3550 §6.4: at most 31 report blocks (5-bit RC). */
export const MAX_REPORT_BLOCKS = 31;
/** More packets than this in one datagram is not a sane compound (bounds the work per datagram). */
const MAX_PACKETS = 32;
const REPORT_BLOCK_BYTES = 24;
const SENDER_INFO_BYTES = 20;

/** RFC 3550 §6.4.1: one reception report block. */
export interface ReportBlock {
  /** The source this block reports on. */
  readonly ssrc: number;
  /** Fraction lost since the previous report, as the 8-bit fixed point value (0–255 = 0–255/256). */
  readonly fractionLost: number;
  /** Cumulative packets lost (24-bit signed: duplicates can make it negative). */
  readonly cumulativeLost: number;
  /** Extended highest sequence number received (cycles << 16 | highest). */
  readonly extendedHighestSeq: number;
  /** Interarrival jitter in RTP timestamp units (§A.8). */
  readonly jitter: number;
  /** Middle 32 bits of the NTP timestamp of the last SR received from that source (0: none). */
  readonly lsr: number;
  /** Delay since that SR, in 1/65536 s (0: none). */
  readonly dlsr: number;
}

/** RFC 3550 §6.4.1: the sender information of an SR. */
export interface SenderInfo {
  /** NTP timestamp, seconds since 1900 (unsigned 32 bits). */
  readonly ntpSeconds: number;
  /** NTP timestamp, fraction of a second in 1/2^32 units. */
  readonly ntpFraction: number;
  /** The RTP timestamp of the same instant. */
  readonly rtpTimestamp: number;
  readonly packetCount: number;
  /** Payload octets sent (headers and padding excluded). */
  readonly octetCount: number;
}

export type RtcpPacket =
  | {
      readonly type: 'sr';
      readonly ssrc: number;
      readonly sender: SenderInfo;
      readonly reports: readonly ReportBlock[];
    }
  | { readonly type: 'rr'; readonly ssrc: number; readonly reports: readonly ReportBlock[] }
  | { readonly type: 'sdes'; readonly chunks: readonly { readonly ssrc: number; readonly cname?: string }[] }
  | { readonly type: 'bye'; readonly ssrcs: readonly number[]; readonly reason?: string }
  /** APP, feedback (RFC 4585), XR (RFC 3611) …: valid, not interpreted. */
  | { readonly type: 'other'; readonly packetType: number };

export type RtcpParseResult =
  | { readonly ok: true; readonly packets: readonly RtcpPacket[] }
  | { readonly ok: false; readonly reason: string };

/** Parses a compound RTCP packet from `buf[0, length)` (after SRTCP unprotect, when in use). */
export function parseRtcp(buf: Buffer, length: number = buf.length): RtcpParseResult {
  if (length > buf.length) return fail('length beyond buffer');
  if (length < 8) return fail('shorter than an RR');
  if (length % 4 !== 0) return fail('not a multiple of 32 bits');
  const first = buf[1] ?? 0;
  // RFC 3550 §A.2: the first packet of a compound is an SR or RR (and its padding bit is clear, below).
  if (first !== RTCP_SR && first !== RTCP_RR) return fail('compound does not start with SR or RR');
  const packets: RtcpPacket[] = [];
  let offset = 0;
  while (offset < length) {
    if (packets.length === MAX_PACKETS) return fail('too many packets in compound');
    if (offset + 4 > length) return fail('truncated header');
    const b0 = buf[offset] ?? 0;
    if (b0 >> 6 !== 2) return fail('version is not 2');
    const bytes = (buf.readUInt16BE(offset + 2) + 1) * 4;
    const end = offset + bytes;
    if (end > length) return fail('packet length runs past the datagram');
    let bodyEnd = end;
    if ((b0 & 0x20) !== 0) {
      // Only the last packet of a compound may be padded (§A.2), and the count covers itself.
      if (end !== length) return fail('padding before the last packet');
      const pad = buf[end - 1] ?? 0;
      if (pad === 0 || pad > bytes - 4) return fail('invalid padding count');
      bodyEnd = end - pad;
    }
    const parsed = parseOne(buf, offset, bodyEnd, b0 & 0x1f, buf[offset + 1] ?? 0);
    if (typeof parsed === 'string') return fail(parsed);
    packets.push(parsed);
    offset = end;
  }
  return { ok: true, packets };
}

function fail(reason: string): RtcpParseResult {
  return { ok: false, reason };
}

/** One packet of the compound: `count` is the 5-bit RC/SC field; `end` excludes padding. */
function parseOne(buf: Buffer, start: number, end: number, count: number, type: number): RtcpPacket | string {
  switch (type) {
    case RTCP_SR: {
      if (start + 8 + SENDER_INFO_BYTES + count * REPORT_BLOCK_BYTES > end) return 'SR too short for RC';
      const p = start + 8;
      const sender: SenderInfo = {
        ntpSeconds: buf.readUInt32BE(p),
        ntpFraction: buf.readUInt32BE(p + 4),
        rtpTimestamp: buf.readUInt32BE(p + 8),
        packetCount: buf.readUInt32BE(p + 12),
        octetCount: buf.readUInt32BE(p + 16),
      };
      const reports = readBlocks(buf, p + SENDER_INFO_BYTES, count);
      return { type: 'sr', ssrc: buf.readUInt32BE(start + 4), sender, reports };
    }
    case RTCP_RR: {
      if (start + 8 + count * REPORT_BLOCK_BYTES > end) return 'RR too short for RC';
      return { type: 'rr', ssrc: buf.readUInt32BE(start + 4), reports: readBlocks(buf, start + 8, count) };
    }
    case RTCP_SDES:
      return parseSdes(buf, start + 4, end, count);
    case RTCP_BYE:
      return parseBye(buf, start + 4, end, count);
    default:
      if (type < 192 || type > 223) return `packet type ${type} is not RTCP`;
      return { type: 'other', packetType: type };
  }
}

function readBlocks(buf: Buffer, offset: number, count: number): ReportBlock[] {
  const blocks: ReportBlock[] = [];
  for (let i = 0; i < count; i++) {
    const p = offset + i * REPORT_BLOCK_BYTES;
    blocks.push({
      ssrc: buf.readUInt32BE(p),
      fractionLost: buf[p + 4] ?? 0,
      cumulativeLost: buf.readIntBE(p + 5, 3),
      extendedHighestSeq: buf.readUInt32BE(p + 8),
      jitter: buf.readUInt32BE(p + 12),
      lsr: buf.readUInt32BE(p + 16),
      dlsr: buf.readUInt32BE(p + 20),
    });
  }
  return blocks;
}

/** RFC 3550 §6.5: SC chunks, each an SSRC then items ended by a null octet and padded to 32 bits. */
function parseSdes(buf: Buffer, offset: number, end: number, count: number): RtcpPacket | string {
  const chunks: { ssrc: number; cname?: string }[] = [];
  let p = offset;
  for (let c = 0; c < count; c++) {
    if (p + 4 > end) return 'SDES chunk truncated';
    const chunk: { ssrc: number; cname?: string } = { ssrc: buf.readUInt32BE(p) };
    p += 4;
    for (;;) {
      if (p >= end) return 'SDES items not terminated';
      const itemType = buf[p] ?? 0;
      if (itemType === 0) break;
      if (p + 2 > end) return 'SDES item truncated';
      const itemBytes = buf[p + 1] ?? 0;
      if (p + 2 + itemBytes > end) return 'SDES item runs past the packet';
      if (itemType === SDES_CNAME) chunk.cname = buf.toString('utf8', p + 2, p + 2 + itemBytes);
      p += 2 + itemBytes;
    }
    // The null item, then null octets up to the next 32-bit boundary (relative to the packet start).
    p = offset + Math.ceil((p + 1 - offset) / 4) * 4;
    if (p > end) return 'SDES chunk padding runs past the packet';
    chunks.push(chunk);
  }
  return { type: 'sdes', chunks };
}

/** RFC 3550 §6.6: SC SSRC/CSRCs, then an optional length-prefixed reason. */
function parseBye(buf: Buffer, offset: number, end: number, count: number): RtcpPacket | string {
  if (offset + count * 4 > end) return 'BYE too short for SC';
  const ssrcs: number[] = [];
  for (let i = 0; i < count; i++) ssrcs.push(buf.readUInt32BE(offset + i * 4));
  const r = offset + count * 4;
  if (r < end) {
    const reasonBytes = buf[r] ?? 0;
    if (r + 1 + reasonBytes > end) return 'BYE reason runs past the packet';
    if (reasonBytes > 0)
      return { type: 'bye', ssrcs, reason: buf.toString('utf8', r + 1, r + 1 + reasonBytes) };
  }
  return { type: 'bye', ssrcs };
}

// ---- composing ----

/** What one compound we send holds: SR (with `sender`) or RR, then SDES CNAME, then BYE when `bye`. */
export interface RtcpCompound {
  readonly ssrc: number;
  /** Present while we send RTP: the packet is an SR (§6.4.1), else an RR (§6.4.2). */
  readonly sender?: SenderInfo;
  readonly reports: readonly ReportBlock[];
  /** Our CNAME (§6.5.1); required in every compound. At most 255 bytes of UTF-8. */
  readonly cname: string;
  /** Append a BYE for `ssrc` (§6.6), with an optional reason. */
  readonly bye?: { readonly reason?: string };
}

/** Upper bound of a compound's size for a buffer: SR + 31 blocks + SDES + BYE with 255-byte texts. */
export const MAX_RTCP_COMPOUND_BYTES =
  8 + SENDER_INFO_BYTES + MAX_REPORT_BLOCKS * REPORT_BLOCK_BYTES + 272 + 268;

/**
 * Writes the compound into `out` from offset 0 and returns its length. Throws RangeError for our own bad
 * arguments (too many blocks, a CNAME over 255 bytes, a buffer too small): never peer input.
 */
export function writeRtcp(out: Buffer, compound: RtcpCompound): number {
  const n = compound.reports.length;
  if (n > MAX_REPORT_BLOCKS) throw new RangeError(`at most ${MAX_REPORT_BLOCKS} report blocks`);
  const cname = Buffer.from(compound.cname, 'utf8');
  if (cname.length === 0 || cname.length > 255) throw new RangeError('CNAME must be 1–255 bytes');
  const reason = compound.bye?.reason === undefined ? undefined : Buffer.from(compound.bye.reason, 'utf8');
  if (reason !== undefined && reason.length > 255) throw new RangeError('BYE reason over 255 bytes');
  const headBytes = 8 + (compound.sender === undefined ? 0 : SENDER_INFO_BYTES) + n * REPORT_BLOCK_BYTES;
  const sdesBytes = 4 + pad4(4 + 2 + cname.length + 1);
  const byeBytes = compound.bye === undefined ? 0 : 8 + (reason === undefined ? 0 : pad4(1 + reason.length));
  const total = headBytes + sdesBytes + byeBytes;
  if (out.length < total) throw new RangeError(`RTCP buffer too small (${out.length} < ${total})`);
  out.fill(0, 0, total);

  let p = header(out, 0, n, compound.sender === undefined ? RTCP_RR : RTCP_SR, headBytes);
  out.writeUInt32BE(compound.ssrc >>> 0, p);
  p += 4;
  const s = compound.sender;
  if (s !== undefined) {
    out.writeUInt32BE(s.ntpSeconds >>> 0, p);
    out.writeUInt32BE(s.ntpFraction >>> 0, p + 4);
    out.writeUInt32BE(s.rtpTimestamp >>> 0, p + 8);
    out.writeUInt32BE(s.packetCount >>> 0, p + 12);
    out.writeUInt32BE(s.octetCount >>> 0, p + 16);
    p += SENDER_INFO_BYTES;
  }
  for (const b of compound.reports) {
    out.writeUInt32BE(b.ssrc >>> 0, p);
    out[p + 4] = Math.max(0, Math.min(255, Math.floor(b.fractionLost)));
    // 24-bit signed, clamped (§6.4.1: saturates rather than wrapping).
    out.writeIntBE(Math.max(-0x800000, Math.min(0x7fffff, Math.trunc(b.cumulativeLost))), p + 5, 3);
    out.writeUInt32BE(b.extendedHighestSeq >>> 0, p + 8);
    out.writeUInt32BE(b.jitter >>> 0, p + 12);
    out.writeUInt32BE(b.lsr >>> 0, p + 16);
    out.writeUInt32BE(b.dlsr >>> 0, p + 20);
    p += REPORT_BLOCK_BYTES;
  }

  p = header(out, p, 1, RTCP_SDES, sdesBytes);
  out.writeUInt32BE(compound.ssrc >>> 0, p);
  out[p + 4] = SDES_CNAME;
  out[p + 5] = cname.length;
  cname.copy(out, p + 6);
  p += sdesBytes - 4; // the null item and padding are already zero

  if (compound.bye !== undefined) {
    p = header(out, p, 1, RTCP_BYE, byeBytes);
    out.writeUInt32BE(compound.ssrc >>> 0, p);
    p += 4;
    if (reason !== undefined) {
      out[p] = reason.length;
      reason.copy(out, p + 1);
      p += pad4(1 + reason.length);
    }
  }
  return p;
}

/** Writes a 4-byte common header (V=2, no padding) and returns the offset after it. */
function header(out: Buffer, offset: number, count: number, type: number, bytes: number): number {
  out[offset] = 0x80 | (count & 0x1f);
  out[offset + 1] = type;
  out.writeUInt16BE(bytes / 4 - 1, offset + 2);
  return offset + 4;
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

// ---- NTP time (RFC 3550 §4) ----

/** Seconds from the NTP epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** The NTP timestamp of a wall-clock time in ms since the Unix epoch (fractional ms kept). */
export function ntpFromUnixMs(unixMs: number): { readonly seconds: number; readonly fraction: number } {
  const totalS = unixMs / 1000 + NTP_UNIX_OFFSET_S;
  const seconds = Math.floor(totalS);
  const fraction = Math.min(0xffffffff, Math.floor((totalS - seconds) * 0x1_0000_0000));
  return { seconds: seconds >>> 0, fraction: fraction >>> 0 };
}

/** §6.4.1 LSR: the middle 32 bits of a 64-bit NTP timestamp. */
export function ntpMiddle32(seconds: number, fraction: number): number {
  return (((seconds & 0xffff) << 16) | (fraction >>> 16)) >>> 0;
}

/**
 * §6.4.1: round-trip time from a report block, given the middle 32 bits of the NTP time it arrived (A):
 * RTT = A − LSR − DLSR, in ms. Undefined when the block carries no LSR or the result is negative (clock
 * steps, a report about an SR we did not send).
 */
export function roundTripMs(arrivalMiddle32: number, lsr: number, dlsr: number): number | undefined {
  if (lsr === 0) return undefined;
  const units = (arrivalMiddle32 - lsr - dlsr) | 0;
  if (units < 0) return undefined;
  return (units / 65536) * 1000;
}
