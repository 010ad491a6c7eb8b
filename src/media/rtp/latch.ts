/**
 * Which source an RTP socket accepts: symmetric-RTP latching with probation (issue 11).
 *
 * Before this, the first valid packet from anywhere latched the call, so an attacker spraying RTP at a port
 * before the caller's first packet took the call over. Now a source is latched only after it has sent
 * `probationPackets` packets of one SSRC with consecutive sequence numbers from one address:port — the
 * probation of RFC 3550 §A.1 (MIN_SEQUENTIAL), applied per source. Sources are ranked:
 *
 * - preferred: the SIP signaling source address (the INVITE came from it; RFC 3261 §18.2.1 `received`), and
 *   the SDP connection address (a private one too, when packets do come from exactly it; a private SDP
 *   address alone does not make other sources wait, see isPrivateAddress);
 * - others: latchable only when no preferred address is known at all (a NAT'd peer we cannot match), or,
 *   under 'sdp-or-nat', as a fallback once `allowForeign()` was called (the socket calls it after a grace
 *   period without any preferred packet: a carrier whose media comes from yet another address), and then
 *   only until a preferred source proves itself, which takes over.
 *
 * Once latched, a packet from another address:port is dropped (`foreign`), except from a source that proves
 * it is the same stream: the latched SSRC, its first packet continuing the latched sequence numbers, then
 * consecutive ones (NAT rebinding mid-call). A different SSRC from elsewhere never takes over.
 *
 * A small class with no I/O (STYLE.md §4): the socket feeds it each parsed packet and acts on the verdict.
 * Allocation-free per packet: candidate state lives in fixed typed arrays.
 */
import { seqDiff } from './packet.js';

export type LatchPolicy = 'sdp-or-nat' | 'sdp-only' | 'first-source';

/** What to do with one packet. */
export const LatchVerdict = {
  /** From the latched source: deliver. */
  Accept: 0,
  /** This packet completed a probation: the source is now latched (first time, rebinding or upgrade). */
  Latched: 1,
  /** From a source on probation: drop (delivering would let an unproven source into the call). */
  Probation: 2,
  /** From a source that may not latch now: drop. */
  Foreign: 3,
} as const;
export type LatchVerdict = (typeof LatchVerdict)[keyof typeof LatchVerdict];

export interface RtpLatchOptions {
  readonly policy?: LatchPolicy;
  /** Consecutive packets a source must send before it is latched. Default 3, at least 2 (RFC 3550 §A.1). */
  readonly probationPackets?: number;
  /**
   * The same for a source whose address matches the signaling or (matchable) SDP address; default
   * `probationPackets`. A client that dialled the peer itself (our softphone) sets 1: that source is who it
   * expects, and dropping its first packets would cut the start of what the agent says.
   */
  readonly matchedProbationPackets?: number;
}

/** How far ahead of the latched stream a rebinding source's first packet may be (lost packets between). */
const MAX_REBIND_GAP = 16;
/** Sources on probation tracked at once; half of them are reserved for preferred addresses. */
const CANDIDATES = 4;
const NONE = -1;

export class RtpLatch {
  readonly #policy: LatchPolicy;
  readonly #needed: number;
  readonly #neededMatched: number;
  #signaling: string | undefined;
  #sdp: string | undefined;
  #sdpMatchable = false;
  #foreignAllowed = false;
  #preferredSeen = false;

  #address: string | undefined;
  #port = 0;
  #ssrc = 0;
  #seq = 0;
  #latchedPreferred = false;

  readonly #cAddress: (string | undefined)[] = new Array<string | undefined>(CANDIDATES).fill(undefined);
  readonly #cPort = new Int32Array(CANDIDATES);
  readonly #cSsrc = new Int32Array(CANDIDATES);
  readonly #cSeq = new Int32Array(CANDIDATES);
  readonly #cCount = new Int32Array(CANDIDATES);
  readonly #cTouched = new Int32Array(CANDIDATES);
  #clock = 0;

  constructor(options: RtpLatchOptions = {}) {
    this.#policy = options.policy ?? 'sdp-or-nat';
    this.#needed = Math.max(2, Math.floor(options.probationPackets ?? 3));
    this.#neededMatched = Math.max(1, Math.floor(options.matchedProbationPackets ?? this.#needed));
  }

  get latched(): boolean {
    return this.#address !== undefined;
  }

  get address(): string | undefined {
    return this.#address;
  }

  get port(): number {
    return this.#port;
  }

  /** True once a packet from a preferred address has been seen since the last SDP change. */
  get preferredSeen(): boolean {
    return this.#preferredSeen;
  }

  /** Whether a non-preferred source could latch now or after allowForeign() (the socket's grace timer). */
  get foreignNeedsGrace(): boolean {
    return this.#policy === 'sdp-or-nat' && this.#hasPreference() && !this.#foreignAllowed;
  }

  /** The address the SIP request came from; an IPv4-mapped IPv6 form is reduced to IPv4. */
  setSignalingAddress(address: string | undefined): void {
    const a = address === undefined || address === '' ? undefined : address;
    this.#signaling = a?.toLowerCase().startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
  }

  /**
   * The SDP connection address (undefined when unknown or 0.0.0.0/::) and whether it can be matched
   * against packet sources. A change of address or port unlatches (re-INVITE moving media, RFC 3264 §8):
   * the new source goes through probation like the first.
   */
  setSdp(address: string | undefined, matchable: boolean, changed: boolean): void {
    this.#sdp = address;
    this.#sdpMatchable = address !== undefined && (matchable || this.#policy === 'sdp-only');
    if (!changed) return;
    this.#address = undefined;
    this.#port = 0;
    this.#latchedPreferred = false;
    this.#preferredSeen = false;
    this.#foreignAllowed = false;
    this.#cCount.fill(0);
    this.#cAddress.fill(undefined);
  }

  /** The grace period ran out with no preferred packet: other sources may latch ('sdp-or-nat' only). */
  allowForeign(): void {
    this.#foreignAllowed = true;
  }

  /** Classifies one parsed packet from `address:port`. */
  check(address: string, port: number, ssrc: number, seq: number): LatchVerdict {
    const ssrc32 = ssrc | 0;
    const preferred = this.#isPreferred(address);
    if (preferred) this.#preferredSeen = true;
    if (this.#address !== undefined) {
      if (address === this.#address && port === this.#port) {
        // The latched source may restart its stream (new SSRC, RFC 3550 §8.2): it is still the peer.
        this.#ssrc = ssrc32;
        this.#seq = seq;
        return LatchVerdict.Accept;
      }
      if (preferred && !this.#latchedPreferred && this.#policy !== 'first-source') {
        return this.#probe(address, port, ssrc32, seq, true, false);
      }
      if (ssrc32 === this.#ssrc) return this.#probe(address, port, ssrc32, seq, preferred, true);
      return LatchVerdict.Foreign;
    }
    const eligible = preferred || this.#mayLatchOther();
    const verdict = this.#probe(address, port, ssrc32, seq, preferred, false, eligible);
    return eligible ? verdict : LatchVerdict.Foreign;
  }

  #hasPreference(): boolean {
    return this.#signaling !== undefined || this.#sdpMatchable;
  }

  #isPreferred(address: string): boolean {
    if (this.#policy === 'first-source') return true;
    if (this.#policy === 'sdp-only') return this.#sdp === undefined || address === this.#sdp;
    if (!this.#hasPreference()) return true; // nothing to match: every source is equal (NAT, unknown SDP)
    return this.#matches(address);
  }

  /** The address is the one signaling or SDP named (not merely "anyone", as when nothing is known). */
  #matches(address: string): boolean {
    if (this.#policy === 'first-source') return false;
    if (this.#policy === 'sdp-only') return this.#sdp !== undefined && address === this.#sdp;
    // A packet from exactly the SDP address is who the SDP named even when that address is private: a
    // caller on the same network, or a media server behind the signaling proxy (Kamailio record-routes
    // the INVITE from its own address; the RTP comes from the caller's). A private SDP address only
    // cannot tell us, by itself, which *other* source to expect (#hasPreference).
    return address === this.#signaling || (this.#sdp !== undefined && address === this.#sdp);
  }

  #mayLatchOther(): boolean {
    return this.#policy === 'sdp-or-nat' && this.#foreignAllowed && !this.#preferredSeen;
  }

  /**
   * One more packet of a candidate source. `rebind`: it must continue the latched stream's sequence
   * numbers. Returns Latched when the probation completes (and `eligible`), else Probation.
   */
  #probe(
    address: string,
    port: number,
    ssrc: number,
    seq: number,
    preferred: boolean,
    rebind: boolean,
    eligible = true,
  ): LatchVerdict {
    this.#clock = (this.#clock + 1) | 0;
    let i = this.#find(address, port);
    if (i === NONE) {
      if (rebind) {
        const d = seqDiff(seq, this.#seq);
        if (d < 1 || d > MAX_REBIND_GAP) return LatchVerdict.Foreign;
      }
      i = this.#slotFor(preferred);
      this.#cAddress[i] = address;
      this.#cPort[i] = port;
      this.#cCount[i] = 0;
    }
    this.#cTouched[i] = this.#clock;
    if (this.#cCount[i] !== 0 && this.#cSsrc[i] === ssrc && seqDiff(seq, this.#cSeq[i] ?? 0) === 1) {
      this.#cCount[i] = (this.#cCount[i] ?? 0) + 1;
    } else {
      // A new SSRC, a gap or a reorder restarts the count (RFC 3550 §A.1: "sequence not in order").
      this.#cCount[i] = 1;
      this.#cSsrc[i] = ssrc;
    }
    this.#cSeq[i] = seq;
    const needed = preferred && this.#matches(address) ? this.#neededMatched : this.#needed;
    if ((this.#cCount[i] ?? 0) < needed || !eligible) return LatchVerdict.Probation;
    this.#address = address;
    this.#port = port;
    this.#ssrc = ssrc;
    this.#seq = seq;
    this.#latchedPreferred = preferred;
    this.#cCount.fill(0);
    this.#cAddress.fill(undefined);
    return LatchVerdict.Latched;
  }

  #find(address: string, port: number): number {
    for (let i = 0; i < CANDIDATES; i++) {
      if (this.#cPort[i] === port && this.#cAddress[i] === address) return i;
    }
    return NONE;
  }

  /**
   * A slot for a new candidate. Half the slots are reserved for preferred addresses: a flood from other
   * addresses (many ports, random SSRCs) only ever evicts its own kind, never a preferred source's
   * probation. A preferred source may also take a free slot of the other half.
   */
  #slotFor(preferred: boolean): number {
    const half = CANDIDATES / 2;
    if (preferred) {
      const free = this.#freeSlot(0) ?? this.#freeSlot(half);
      return free ?? this.#oldest(0);
    }
    return this.#freeSlot(half) ?? this.#oldest(half);
  }

  #freeSlot(from: number): number | undefined {
    for (let i = from; i < from + CANDIDATES / 2; i++) if (this.#cAddress[i] === undefined) return i;
    return undefined;
  }

  #oldest(from: number): number {
    let best = from;
    let oldest = -1;
    for (let i = from; i < from + CANDIDATES / 2; i++) {
      const age = (this.#clock - (this.#cTouched[i] ?? 0)) | 0;
      if (age > oldest) {
        best = i;
        oldest = age;
      }
    }
    return best;
  }
}
