/**
 * One call's SRTP: our master key protects what we send, the peer's master key what we receive (SDES,
 * RFC 4568 §6.1: each side announces the key it sends with). {@link SrtpSession} is what the RTP socket
 * runs every datagram through ({@link PacketProtector}); it counts refusals by reason and never throws on
 * peer input.
 *
 * Re-keying (a re-INVITE with a new a=crypto, RFC 4568 §7.1.4): {@link SrtpSession.rekey} installs the new
 * keys; the previous receive keys are still tried for packets that fail under the new ones, since the peer
 * may send under its old key until our answer reached it.
 */
import { deriveKeys } from './kdf.js';
import { SrtcpContext } from './srtcp.js';
import { SrtpRejection, SrtpRtpContext } from './srtp-rtp.js';
import { SRTP_SUITES, type SrtpSuite, type SrtpSuiteName } from './suites.js';

/** A master key and salt (SDES `inline:` key||salt) with its optional lifetime in packets. */
export interface MasterKey {
  readonly key: Buffer;
  readonly salt: Buffer;
  /** RFC 4568 §6.1 lifetime; default 2^48 (RFC 3711 §9.2). */
  readonly lifetimePackets?: number;
}

export interface SrtpKeying {
  readonly suite: SrtpSuiteName;
  /** Our key: protects what we send. */
  readonly local: MasterKey;
  /** The peer's key: what we receive was protected with it. */
  readonly remote: MasterKey;
}

/** The transform the RTP socket applies; results below 0 are refusals (see {@link SrtpRejection}). */
export interface PacketProtector {
  protectRtp(buf: Buffer, length: number): number;
  unprotectRtp(buf: Buffer, length: number): number;
  protectRtcp(buf: Buffer, length: number): number;
  unprotectRtcp(buf: Buffer, length: number): number;
}

export interface SrtpCounters {
  protectedRtp: number;
  unprotectedRtp: number;
  protectedRtcp: number;
  unprotectedRtcp: number;
  authFailed: number;
  replayed: number;
  malformed: number;
  keyExpired: number;
}

interface Direction {
  readonly rtp: SrtpRtpContext;
  readonly rtcp: SrtcpContext;
}

function direction(suite: SrtpSuite, master: MasterKey): Direction {
  const keys = deriveKeys(suite, master.key, master.salt);
  return {
    rtp: new SrtpRtpContext(suite, keys.rtp, master.lifetimePackets),
    rtcp: new SrtcpContext(suite, keys.rtcp),
  };
}

export class SrtpSession implements PacketProtector {
  readonly counters: SrtpCounters = {
    protectedRtp: 0,
    unprotectedRtp: 0,
    protectedRtcp: 0,
    unprotectedRtcp: 0,
    authFailed: 0,
    replayed: 0,
    malformed: 0,
    keyExpired: 0,
  };
  #suite: SrtpSuite;
  #send: Direction;
  #receive: Direction;
  #previousReceive: Direction | undefined;

  /** Throws a RangeError for key or salt lengths that do not fit the suite (SDES parsing checks first). */
  constructor(keying: SrtpKeying) {
    this.#suite = SRTP_SUITES[keying.suite];
    this.#send = direction(this.#suite, keying.local);
    this.#receive = direction(this.#suite, keying.remote);
  }

  get suite(): SrtpSuiteName {
    return this.#suite.name;
  }

  /**
   * New keys from a re-offer. An unchanged local key keeps the send contexts (ROC and SRTCP index go on);
   * a new remote key becomes the one tried first, the old one stays as a fallback.
   */
  rekey(keying: SrtpKeying, localChanged: boolean, remoteChanged: boolean): void {
    const suite = SRTP_SUITES[keying.suite];
    const suiteChanged = suite !== this.#suite;
    this.#suite = suite;
    if (localChanged || suiteChanged) this.#send = direction(suite, keying.local);
    if (remoteChanged || suiteChanged) {
      this.#previousReceive = suiteChanged ? undefined : this.#receive;
      this.#receive = direction(suite, keying.remote);
    }
  }

  protectRtp(buf: Buffer, length: number): number {
    const n = this.#send.rtp.protect(buf, length);
    return this.#count(n, 'protectedRtp');
  }

  unprotectRtp(buf: Buffer, length: number): number {
    let n = this.#receive.rtp.unprotect(buf, length);
    if (n === SrtpRejection.AuthFailed && this.#previousReceive !== undefined) {
      n = this.#previousReceive.rtp.unprotect(buf, length);
    }
    return this.#count(n, 'unprotectedRtp');
  }

  protectRtcp(buf: Buffer, length: number): number {
    return this.#count(this.#send.rtcp.protect(buf, length), 'protectedRtcp');
  }

  unprotectRtcp(buf: Buffer, length: number): number {
    let n = this.#receive.rtcp.unprotect(buf, length);
    if (n === SrtpRejection.AuthFailed && this.#previousReceive !== undefined) {
      n = this.#previousReceive.rtcp.unprotect(buf, length);
    }
    return this.#count(n, 'unprotectedRtcp');
  }

  #count(n: number, ok: 'protectedRtp' | 'unprotectedRtp' | 'protectedRtcp' | 'unprotectedRtcp'): number {
    const c = this.counters;
    if (n >= 0) c[ok]++;
    else if (n === SrtpRejection.AuthFailed) c.authFailed++;
    else if (n === SrtpRejection.Replayed) c.replayed++;
    else if (n === SrtpRejection.KeyExpired) c.keyExpired++;
    else c.malformed++;
    return n;
  }
}
