/**
 * DNS wire format (RFC 1035 §4) for the few record types RFC 3263 needs: A, AAAA (RFC 3596), SRV (RFC 2782),
 * NAPTR (RFC 3403) and CNAME. node:dns gives TTLs only for A/AAAA, and SRV/NAPTR caching needs theirs, so
 * queries are built and answers parsed here. Parsing is bounded and validated: every read is range-checked,
 * compression pointers may only point backwards and at most MAX_POINTER_HOPS times, a name is at most 255
 * octets, a section at most MAX_RECORDS records; anything else is a DnsFormatError, never an exception
 * of another kind and never a read past the buffer.
 */
import { SwitchboardError } from '../../../errors.js';

export const RR_TYPE = { A: 1, CNAME: 5, SOA: 6, AAAA: 28, SRV: 33, NAPTR: 35 } as const;
export type QueryType = 'A' | 'AAAA' | 'SRV' | 'NAPTR';

export interface AddressRecord {
  readonly type: 'A' | 'AAAA';
  readonly name: string;
  readonly ttlS: number;
  readonly address: string;
}
export interface SrvRecord {
  readonly type: 'SRV';
  readonly name: string;
  readonly ttlS: number;
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
}
export interface NaptrRecord {
  readonly type: 'NAPTR';
  readonly name: string;
  readonly ttlS: number;
  readonly order: number;
  readonly preference: number;
  readonly flags: string;
  readonly service: string;
  readonly regexp: string;
  readonly replacement: string;
}
export interface CnameRecord {
  readonly type: 'CNAME';
  readonly name: string;
  readonly ttlS: number;
  readonly target: string;
}
export type DnsRecord = AddressRecord | SrvRecord | NaptrRecord | CnameRecord;

export interface DnsResponse {
  readonly id: number;
  /** RFC 1035 §4.1.1 RCODE: 0 no error, 3 NXDOMAIN, … */
  readonly rcode: number;
  readonly truncated: boolean;
  readonly answers: readonly DnsRecord[];
  /** RFC 2308 §5: negative answers are cached for min(SOA TTL, SOA MINIMUM) when the authority has an SOA. */
  readonly negativeTtlS: number | undefined;
}

export class DnsFormatError extends SwitchboardError {
  constructor(message: string) {
    super('SIP_DNS_FORMAT', `dns: malformed response: ${message}`);
  }
}

const MAX_NAME_OCTETS = 255;
const MAX_POINTER_HOPS = 16;
const MAX_RECORDS = 64;
/** A UDP answer without EDNS0 is at most 512 octets (RFC 1035 §4.2.1); we accept a little more, no more. */
export const MAX_MESSAGE_BYTES = 4096;

/** `example.com.` → `example.com`, lower-cased: the form names are compared and cached in. */
export function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

/** A standard query (QR=0, OPCODE=0, RD=1) for one question. Throws on a name that cannot be encoded. */
export function encodeQuery(id: number, name: string, type: QueryType): Buffer {
  const labels = normalizeName(name).split('.');
  const nameBytes = labels.reduce((n, l) => n + 1 + Buffer.byteLength(l, 'ascii'), 1);
  if (nameBytes > MAX_NAME_OCTETS || labels.some((l) => l.length === 0 || l.length > 63)) {
    throw new DnsFormatError(`cannot query "${name}"`);
  }
  const out = Buffer.alloc(12 + nameBytes + 4);
  out.writeUInt16BE(id & 0xffff, 0);
  out.writeUInt16BE(0x0100, 2); // RD: dnsmasq and recursive resolvers answer either way
  out.writeUInt16BE(1, 4);
  let offset = 12;
  for (const label of labels) {
    out[offset++] = label.length;
    offset += out.write(label, offset, 'ascii');
  }
  out[offset++] = 0;
  out.writeUInt16BE(RR_TYPE[type], offset);
  out.writeUInt16BE(1, offset + 2); // class IN
  return out;
}

class Reader {
  constructor(readonly buf: Buffer) {}
  need(offset: number, bytes: number): void {
    if (offset < 0 || offset + bytes > this.buf.length) throw new DnsFormatError('truncated record');
  }
  u8(offset: number): number {
    this.need(offset, 1);
    return this.buf.readUInt8(offset);
  }
  u16(offset: number): number {
    this.need(offset, 2);
    return this.buf.readUInt16BE(offset);
  }
  u32(offset: number): number {
    this.need(offset, 4);
    return this.buf.readUInt32BE(offset);
  }
  /** A (possibly compressed) domain name at `start`; returns it and the offset just after it in place. */
  name(start: number): { name: string; end: number } {
    const labels: string[] = [];
    let offset = start;
    let end: number | undefined;
    let hops = 0;
    let octets = 1;
    for (;;) {
      const len = this.u8(offset);
      if ((len & 0xc0) === 0xc0) {
        const pointer = ((len & 0x3f) << 8) | this.u8(offset + 1);
        // Only backwards pointers: a forward or self pointer is how a hostile answer builds a loop.
        if (pointer >= offset || ++hops > MAX_POINTER_HOPS) throw new DnsFormatError('bad name pointer');
        end ??= offset + 2;
        offset = pointer;
        continue;
      }
      if ((len & 0xc0) !== 0) throw new DnsFormatError('bad label type');
      if (len === 0) break;
      this.need(offset + 1, len);
      octets += len + 1;
      if (octets > MAX_NAME_OCTETS) throw new DnsFormatError('name too long');
      labels.push(this.buf.toString('latin1', offset + 1, offset + 1 + len));
      offset += 1 + len;
    }
    return { name: labels.join('.').toLowerCase(), end: end ?? offset + 1 };
  }
  /** A name inside one record's RDATA: it must end before the record does. */
  nameWithin(start: number, limit: number): { name: string; end: number } {
    const read = this.name(start);
    if (read.end > limit) throw new DnsFormatError('name overruns its record');
    return read;
  }
  /** RFC 1035 <character-string>: one length octet, then that many octets. */
  text(offset: number, limit: number): { text: string; end: number } {
    const len = this.u8(offset);
    if (offset + 1 + len > limit) throw new DnsFormatError('character-string overruns its record');
    this.need(offset + 1, len);
    return { text: this.buf.toString('latin1', offset + 1, offset + 1 + len), end: offset + 1 + len };
  }
}

function ipv6Text(buf: Buffer, offset: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(offset + i * 2).toString(16));
  // RFC 5952 §4.2.2: the longest run of zero groups collapses to "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function readRecord(r: Reader, name: string, type: number, ttlS: number, at: number, len: number) {
  const limit = at + len;
  switch (type) {
    case RR_TYPE.A:
      if (len !== 4) throw new DnsFormatError('A record is not 4 octets');
      return { type: 'A', name, ttlS, address: [...r.buf.subarray(at, limit)].join('.') } as const;
    case RR_TYPE.AAAA:
      if (len !== 16) throw new DnsFormatError('AAAA record is not 16 octets');
      return { type: 'AAAA', name, ttlS, address: ipv6Text(r.buf, at) } as const;
    case RR_TYPE.CNAME:
      return { type: 'CNAME', name, ttlS, target: r.name(at).name } as const;
    case RR_TYPE.SRV: {
      if (len < 7) throw new DnsFormatError('SRV record too short');
      // RFC 2782: priority, weight, port (16 bits each), then the target name.
      const [priority, weight, port] = [r.u16(at), r.u16(at + 2), r.u16(at + 4)];
      const target = r.nameWithin(at + 6, limit).name;
      return { type: 'SRV', name, ttlS, priority, weight, port, target } as const;
    }
    case RR_TYPE.NAPTR: {
      const flags = r.text(at + 4, limit);
      const service = r.text(flags.end, limit);
      const regexp = r.text(service.end, limit);
      const replacement = r.nameWithin(regexp.end, limit).name;
      // RFC 3403 §4.1: order, preference, then flags, services, regexp and the replacement name.
      const naptr = { type: 'NAPTR', name, ttlS, order: r.u16(at), preference: r.u16(at + 2) } as const;
      const fields = { flags: flags.text.toLowerCase(), service: service.text.toUpperCase() };
      return { ...naptr, ...fields, regexp: regexp.text, replacement };
    }
    default:
      return undefined;
  }
}

/**
 * Parse an answer to the query `id`. Records of other types (OPT, RRSIG, …) are skipped. Answers whose
 * question or id differ from ours throw: an off-path spoofing attempt or a stale reply is never used.
 */
export function parseResponse(
  buf: Buffer,
  expect: { id: number; name: string; type: QueryType },
): DnsResponse {
  if (buf.length < 12 || buf.length > MAX_MESSAGE_BYTES) throw new DnsFormatError('bad length');
  const r = new Reader(buf);
  const id = r.u16(0);
  const flags = r.u16(2);
  if (id !== expect.id || (flags & 0x8000) === 0) throw new DnsFormatError('not the answer to our query');
  const counts = [r.u16(4), r.u16(6), r.u16(8)] as const;
  if (counts[0] !== 1 || counts[1] > MAX_RECORDS || counts[2] > MAX_RECORDS) {
    throw new DnsFormatError('unexpected section counts');
  }
  const question = r.name(12);
  const qtype = r.u16(question.end);
  if (question.name !== normalizeName(expect.name) || qtype !== RR_TYPE[expect.type]) {
    throw new DnsFormatError('question does not match');
  }
  let offset = question.end + 4;
  const answers: DnsRecord[] = [];
  let negativeTtlS: number | undefined;
  for (let i = 0; i < counts[1] + counts[2]; i++) {
    const owner = r.name(offset);
    const type = r.u16(owner.end);
    const cls = r.u16(owner.end + 2);
    // RFC 2181 §8: a TTL with the top bit set is treated as zero.
    const raw = r.u32(owner.end + 4);
    const ttlS = raw > 0x7fffffff ? 0 : raw;
    const len = r.u16(owner.end + 8);
    const at = owner.end + 10;
    r.need(at, len);
    offset = at + len;
    if (cls !== 1) continue;
    if (i < counts[1]) {
      const rec = readRecord(r, owner.name, type, ttlS, at, len);
      if (rec !== undefined) answers.push(rec);
    } else if (type === RR_TYPE.SOA) {
      const mname = r.name(at);
      const rname = r.name(mname.end);
      const minimum = r.u32(rname.end + 16);
      negativeTtlS = Math.min(ttlS, minimum);
    }
  }
  return { id, rcode: flags & 0x000f, truncated: (flags & 0x0200) !== 0, answers, negativeTtlS };
}
