/**
 * RFC 3264 offer/answer for one audio stream, over sdp-transform.
 *
 * Pure functions: no clock, no randomness unless the caller omits the session id. Nothing here throws on
 * peer input; malformed SDP becomes a `{ ok: false }` result the signaling layer turns into a 400/488.
 */
import { parse, write, type MediaDescription, type SessionDescription } from 'sdp-transform';
import { randomInt } from 'node:crypto';
import { z } from 'zod';
import type { CryptoLine, SdesKeying } from './sdp-crypto.js';

export type CodecName = 'PCMU' | 'PCMA' | 'G722' | 'opus';
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export const DEFAULT_CODECS: readonly CodecName[] = ['PCMU', 'PCMA', 'G722', 'opus'];
export const DEFAULT_PTIME_MS = 20;

export interface SdpOrigin {
  readonly sessionId: string;
  readonly sessionVersion: number;
}

export interface LocalMedia {
  /** Our public host (IPv4 or IPv6 literal) for o= and c=. */
  readonly address: string;
  /** Our RTP port. */
  readonly port: number;
  /** Codecs we accept, in no particular order (the offer's order wins when answering). */
  readonly supported?: readonly CodecName[];
  /** o= session id; random when omitted. Keep it for the whole dialog. */
  readonly sessionId?: string | number;
  /** o= session version; increment for every new SDP in the dialog (see {@link nextVersion}). */
  readonly sessionVersion?: number;
  /**
   * The packet duration this stream already sends (answering a re-offer): kept when the offer's maxptime
   * allows it, since a running leg does not change its packetization and the answer must say what we send.
   */
  readonly ptimeMs?: number;
  /** SRTP/SDES policy for answering (sdp-crypto.ts SdesAnswerer); absent: plain RTP/AVP(F) only. */
  readonly security?: MediaSecurity;
}

/**
 * What negotiateAnswer asks of the SRTP layer (implemented by SdesAnswerer, sdp-crypto.ts): which RTP
 * profiles to answer, and for the chosen stream the a=crypto to answer with and the keys agreed.
 */
export interface MediaSecurity {
  accepts(protocol: string): boolean;
  answer(
    offered: MediaDescription,
  ): { readonly ok: true; readonly crypto?: CryptoLine; readonly srtp?: SdesKeying } | SdpFailure;
  /** The failure to report when no audio stream had a profile accepts() took. */
  readonly refusal: SdpFailure;
}

export interface NegotiatedCodec {
  readonly name: CodecName;
  readonly payloadType: number;
  readonly clockRateHz: number;
  readonly channels: number;
  readonly ptimeMs: number;
  readonly fmtp?: string;
}

export interface TelephoneEventFormat {
  readonly payloadType: number;
  readonly clockRateHz: number;
}

export interface NegotiatedMedia {
  readonly ok: true;
  readonly codec: NegotiatedCodec;
  readonly telephoneEvent?: TelephoneEventFormat;
  /** Where to send RTP (0.0.0.0 for an RFC 2543 hold). */
  readonly remote: { readonly address: string; readonly port: number };
  /** The direction in effect for *our* side of the stream (what we may do). */
  readonly direction: MediaDirection;
  /** The stream is held: a direction other than sendrecv, or c=0.0.0.0. */
  readonly hold: boolean;
  /** Where the peer takes RTCP: its RTP port when rtcp-mux is in effect (RFC 5761), else `a=rtcp:` or port + 1. */
  readonly rtcp?: RtcpAddress;
  /** SRTP keys agreed by SDES (RFC 4568); absent: plain RTP. */
  readonly srtp?: SdesKeying;
}

export interface RtcpAddress {
  readonly mux: boolean;
  readonly port: number;
  /** The `a=rtcp:` connection address (RFC 3605), when it names one. */
  readonly address?: string;
}

/** The peer's RTCP address from its m-line; `mux` when both sides put a=rtcp-mux (RFC 5761 §5.1.1). */
function rtcpOf(m: MediaDescription, mux: boolean): RtcpAddress {
  if (mux) return { mux, port: m.port };
  const a = m.rtcp;
  if (a === undefined || !Number.isInteger(a.port) || a.port <= 0 || a.port > 65535)
    return { mux, port: m.port + 1 };
  return { mux, port: a.port, ...(a.address === undefined ? {} : { address: a.address }) };
}

export interface SdpAnswer extends NegotiatedMedia {
  readonly answerSdp: string;
}

export const WARNING_INCOMPATIBLE = '304 switchboard "Incompatible media format"';
export const WARNING_MALFORMED = '399 switchboard "Malformed SDP"';

export interface SdpFailure {
  readonly ok: false;
  /** 488 Not Acceptable Here for no common codec; 400 for SDP we could not read. */
  readonly status: 400 | 488;
  /** A Warning header value (RFC 3261 §20.43): ours above, or sdp-crypto.ts's for SRTP refusals. */
  readonly warning: string;
  /** For logs only. */
  readonly detail: string;
}

export type NegotiationResult = SdpAnswer | SdpFailure;
export type AnswerParseResult = NegotiatedMedia | SdpFailure;

interface CodecSpec {
  readonly name: CodecName;
  readonly staticPt?: number;
  readonly defaultPt: number;
  readonly clockRateHz: number;
  readonly channels: number;
  readonly offerFmtp?: string;
}

const CODECS: Readonly<Record<CodecName, CodecSpec>> = {
  PCMU: { name: 'PCMU', staticPt: 0, defaultPt: 0, clockRateHz: 8000, channels: 1 },
  PCMA: { name: 'PCMA', staticPt: 8, defaultPt: 8, clockRateHz: 8000, channels: 1 },
  // RFC 3551 §4.5.2: G722/8000 although the audio is sampled at 16 kHz (so telephone-event runs at 8000 too).
  G722: { name: 'G722', staticPt: 9, defaultPt: 9, clockRateHz: 8000, channels: 1 },
  // RFC 7587 §7: opus is always signalled as opus/48000/2 whatever is actually sent.
  opus: {
    name: 'opus',
    defaultPt: 111,
    clockRateHz: 48000,
    channels: 2,
    offerFmtp: 'minptime=10;useinbandfec=1',
  },
};

const TELEPHONE_EVENT_PT_8K = 101;
const TELEPHONE_EVENT_PT_48K = 110;

/** RTP profiles we can answer: plain RTP (AVPF is answered as AVPF; we simply send no feedback). */
const SUPPORTED_PROTOCOLS = new Set(['RTP/AVP', 'RTP/AVPF']);

// The few fields we rely on, checked once so the rest of the module works on known shapes.
const mediaSchema = z.object({
  type: z.string(),
  port: z.number().int().min(0).max(65535),
  protocol: z.string(),
  payloads: z.union([z.string(), z.number()]).optional(),
});
const sessionSchema = z.object({
  version: z.literal(0),
  media: z.array(mediaSchema).min(1),
});

type Parsed = { ok: true; session: SessionDescription } | SdpFailure;

function malformed(detail: string): SdpFailure {
  return { ok: false, status: 400, warning: WARNING_MALFORMED, detail };
}

function incompatible(detail: string): SdpFailure {
  return { ok: false, status: 488, warning: WARNING_INCOMPATIBLE, detail };
}

function parseSdp(sdp: unknown): Parsed {
  if (typeof sdp !== 'string' || sdp.trim() === '') return malformed('empty SDP');
  if (!/^\s*v=0\s*$/m.test(sdp)) return malformed('no v=0 line');
  let session: SessionDescription;
  try {
    session = parse(sdp);
  } catch (err) {
    return malformed(`unparseable SDP: ${String(err)}`);
  }
  const checked = sessionSchema.safeParse(session);
  if (!checked.success) return malformed(`invalid SDP: ${checked.error.issues[0]?.message ?? 'unknown'}`);
  return { ok: true, session };
}

/** Payload types of an m-line, in order, as numbers (non-numeric formats are dropped). */
function formatsOf(m: MediaDescription): number[] {
  return String(m.payloads ?? '')
    .trim()
    .split(/\s+/)
    .filter((f) => /^\d{1,3}$/.test(f))
    .map(Number)
    .filter((pt) => pt <= 127);
}

function connectionAddress(session: SessionDescription, m: MediaDescription): string | undefined {
  return m.connection?.ip ?? session.connection?.ip;
}

function directionOf(session: SessionDescription, m: MediaDescription): MediaDirection {
  return m.direction ?? session.direction ?? 'sendrecv';
}

/** RFC 3264 §6.1: the answer's direction mirrors the offer's. */
function answerDirection(offered: MediaDirection): MediaDirection {
  switch (offered) {
    case 'sendonly':
      return 'recvonly';
    case 'recvonly':
      return 'sendonly';
    default:
      return offered;
  }
}

function isNullAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

interface Matched {
  readonly spec: CodecSpec;
  readonly payloadType: number;
  readonly clockRateHz: number;
  readonly channels: number;
  readonly fmtp?: string;
}

function rtpmapOf(m: MediaDescription, pt: number): MediaDescription['rtp'][number] | undefined {
  return (m.rtp ?? []).find((r) => r.payload === pt);
}

function fmtpOf(m: MediaDescription, pt: number): string | undefined {
  return (m.fmtp ?? []).find((f) => f.payload === pt)?.config;
}

/** Identify a payload type as one of our codecs (static PTs 0/8 need no rtpmap, RFC 3551 §6). */
function matchCodec(m: MediaDescription, pt: number, supported: ReadonlySet<CodecName>): Matched | undefined {
  const map = rtpmapOf(m, pt);
  let spec: CodecSpec | undefined;
  if (map) {
    const name = map.codec.toLowerCase();
    spec = Object.values(CODECS).find((c) => c.name.toLowerCase() === name);
    if (spec && map.rate !== undefined && map.rate !== spec.clockRateHz) return undefined;
  } else {
    spec = Object.values(CODECS).find((c) => c.staticPt === pt);
  }
  if (!spec || !supported.has(spec.name)) return undefined;
  const fmtp = fmtpOf(m, pt);
  return {
    spec,
    payloadType: pt,
    clockRateHz: spec.clockRateHz,
    channels: map?.encoding ?? spec.channels,
    ...(fmtp !== undefined ? { fmtp } : {}),
  };
}

const NARROWBAND: ReadonlySet<CodecName> = new Set(['PCMU', 'PCMA']);

/**
 * The codec to answer with from one m-line: the offer's order (RFC 3264 §6.1), except that wideband G.722
 * wins over G.711 wherever the offer lists both (a PBX or phone typically offers "0 8 9" or "9 0 8"; the
 * agent hears 7 kHz speech instead of 3.4 kHz either way).
 */
function chooseCodec(m: MediaDescription, supported: ReadonlySet<CodecName>): Matched | undefined {
  let first: Matched | undefined;
  for (const pt of formatsOf(m)) {
    const matched = matchCodec(m, pt, supported);
    if (matched === undefined) continue;
    if (first === undefined) first = matched;
    if (!NARROWBAND.has(first.spec.name)) return first;
    if (matched.spec.name === 'G722') return matched;
  }
  return first;
}

/**
 * RFC 4733 §7.1.1: telephone-event must use the clock rate of the audio codec it goes with. For 8 kHz codecs
 * that is strict; for opus we take 48 kHz when offered, else fall back to an 8 kHz one.
 */
function matchTelephoneEvent(m: MediaDescription, codecRateHz: number): TelephoneEventFormat | undefined {
  const events = (m.rtp ?? []).filter(
    (r) => r.codec.toLowerCase() === 'telephone-event' && formatsOf(m).includes(r.payload),
  );
  const exact = events.find((r) => (r.rate ?? 8000) === codecRateHz);
  const chosen = exact ?? (codecRateHz !== 8000 ? events.find((r) => (r.rate ?? 8000) === 8000) : undefined);
  return chosen ? { payloadType: chosen.payload, clockRateHz: chosen.rate ?? 8000 } : undefined;
}

/**
 * Packet durations we can send, per codec. G.711 and G.722 are octet-aligned, so any 10 ms step up to 60 ms works
 * (RFC 3551 §4.5: the default is 20 ms; packets are a whole number of frames of 10 ms here). Opus packets
 * carry one encoder frame here, so only the frame sizes RFC 6716 §2.1.4 allows at 10 ms and above.
 */
const SEND_PTIMES_MS: Readonly<Record<CodecName, readonly number[]>> = {
  PCMU: [10, 20, 30, 40, 50, 60],
  PCMA: [10, 20, 30, 40, 50, 60],
  G722: [10, 20, 30, 40, 50, 60],
  opus: [10, 20, 40, 60],
};

/** The largest packet we accept; advertised as a=maxptime (the jitter buffer re-frames anything up to it). */
export const MAX_RECEIVE_PTIME_MS = 60;

function positiveInt(value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

/** RFC 7587 §6.1 lets Opus carry `minptime` in a=fmtp (WebRTC gateways send `minptime=10`). */
function fmtpMinPtime(fmtp: string | undefined): number | undefined {
  const m = /(?:^|;)\s*minptime=(\d+)/i.exec(fmtp ?? '');
  return m?.[1] === undefined ? undefined : positiveInt(m[1]);
}

/**
 * The packet duration we send: RFC 3264 §5 / RFC 4566 §6: a=ptime is what the peer wants to receive and
 * a=maxptime the most it can take. We pick the sendable duration closest to the wanted one (ties to the
 * shorter) that does not exceed maxptime nor go below an Opus minptime; without a=ptime, 20 ms (RFC 3551
 * §4.5, RFC 7587 §7). A maxptime below everything we can send gets our shortest packet: nothing else fits.
 */
function choosePtime(
  codec: CodecName,
  m: MediaDescription,
  session: SessionDescription,
  fmtp: string | undefined,
  current?: number,
): number {
  const wanted = positiveInt(m.ptime ?? (session as { ptime?: number }).ptime) ?? DEFAULT_PTIME_MS;
  const maxPtime = positiveInt(m.maxptime ?? (session as { maxptime?: number }).maxptime) ?? Infinity;
  const minPtime = codec === 'opus' ? (fmtpMinPtime(fmtp) ?? 0) : 0;
  const options = SEND_PTIMES_MS[codec];
  if (current !== undefined && options.includes(current) && current <= maxPtime && current >= minPtime) {
    return current;
  }
  let best: number | undefined;
  for (const p of options) {
    if (p > maxPtime || p < minPtime) continue;
    if (best === undefined || Math.abs(p - wanted) < Math.abs(best - wanted)) best = p;
  }
  return best ?? options[0] ?? DEFAULT_PTIME_MS;
}

function ipVer(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

function newSessionId(): string {
  // o= session ids are numeric by convention (RFC 4566 §5.2 suggests an NTP timestamp).
  return String(randomInt(1, 2 ** 47));
}

function origin(local: LocalMedia): SessionDescription['origin'] {
  const sessionId = local.sessionId !== undefined ? String(local.sessionId) : newSessionId();
  return {
    username: 'switchboard',
    sessionId,
    sessionVersion: local.sessionVersion ?? 1,
    netType: 'IN',
    ipVer: ipVer(local.address),
    address: local.address,
  };
}

/** Lines of a rejected stream (RFC 3264 §6: port 0, formats kept as offered). */
function rejectedLine(m: MediaDescription): MediaDescription {
  const formats = String(m.payloads ?? '').trim();
  return {
    type: m.type,
    port: 0,
    protocol: m.protocol,
    payloads: formats === '' ? '0' : formats,
    rtp: [],
    fmtp: [],
    ...(m.mid !== undefined ? { mid: m.mid } : {}),
  };
}

/** The negotiated stream as both the answerer and the offerer (reading an answer) report it. */
function negotiated(
  matched: Matched,
  ptimeMs: number,
  telephoneEvent: TelephoneEventFormat | undefined,
  remote: { readonly address: string; readonly port: number },
  direction: MediaDirection,
  nullAddress: boolean,
  rtcp: RtcpAddress,
): NegotiatedMedia {
  return {
    ok: true,
    codec: {
      name: matched.spec.name,
      payloadType: matched.payloadType,
      clockRateHz: matched.clockRateHz,
      channels: matched.channels,
      ptimeMs,
      ...(matched.fmtp !== undefined ? { fmtp: matched.fmtp } : {}),
    },
    ...(telephoneEvent ? { telephoneEvent } : {}),
    remote,
    direction,
    hold: direction !== 'sendrecv' || nullAddress,
    rtcp,
  };
}

/**
 * Answer an SDP offer with one audio stream: the first codec in the offer's order that we support (but G.722
 * before G.711, see chooseCodec), telephone-event at its clock rate, the offer's ptime, and the mirrored
 * direction. Every other m-line is rejected with port 0. Never throws.
 */
export function negotiateAnswer(offerSdp: string, local: LocalMedia): NegotiationResult {
  const parsed = parseSdp(offerSdp);
  if (!parsed.ok) return parsed;
  const { session } = parsed;
  const supported = new Set(local.supported ?? DEFAULT_CODECS);

  let chosenIndex = -1;
  let matched: Matched | undefined;
  let profileRefused = false;
  for (const [i, m] of session.media.entries()) {
    if (m.type !== 'audio' || m.port === 0) continue;
    if (!(local.security?.accepts(m.protocol) ?? SUPPORTED_PROTOCOLS.has(m.protocol))) {
      profileRefused = true;
      continue;
    }
    matched = chooseCodec(m, supported);
    if (matched) {
      chosenIndex = i;
      break;
    }
  }
  const m = session.media[chosenIndex];
  if (!matched || !m) {
    return profileRefused && local.security !== undefined
      ? local.security.refusal
      : incompatible('no supported audio codec in offer');
  }
  const secured = local.security?.answer(m);
  if (secured?.ok === false) return secured;

  const address = connectionAddress(session, m);
  if (address === undefined) return malformed('no c= line for the audio stream');

  const ptimeMs = choosePtime(matched.spec.name, m, session, matched.fmtp, local.ptimeMs);
  const telephoneEvent = matchTelephoneEvent(m, matched.clockRateHz);
  const offeredDirection = directionOf(session, m);
  const nullAddress = isNullAddress(address);
  // RFC 3264 §8.4 / RFC 2543: c=0.0.0.0 is the old hold; we cannot send there, so treat it as sendonly.
  const effectiveOffer = nullAddress && offeredDirection === 'sendrecv' ? 'sendonly' : offeredDirection;
  const direction = answerDirection(effectiveOffer);

  const rtp: MediaDescription['rtp'] = [
    {
      payload: matched.payloadType,
      codec: matched.spec.name,
      rate: matched.clockRateHz,
      ...(matched.spec.name === 'opus' ? { encoding: 2 } : {}),
    },
  ];
  const fmtp: MediaDescription['fmtp'] = [];
  if (matched.fmtp !== undefined) fmtp.push({ payload: matched.payloadType, config: matched.fmtp });
  const payloads = [matched.payloadType];
  if (telephoneEvent) {
    payloads.push(telephoneEvent.payloadType);
    rtp.push({
      payload: telephoneEvent.payloadType,
      codec: 'telephone-event',
      rate: telephoneEvent.clockRateHz,
    });
    fmtp.push({ payload: telephoneEvent.payloadType, config: '0-16' });
  }

  const answerMedia: MediaDescription[] = session.media.map((offered, i) => {
    if (i !== chosenIndex) return rejectedLine(offered);
    return {
      type: 'audio',
      port: local.port,
      protocol: offered.protocol,
      payloads: payloads.join(' '),
      rtp,
      fmtp,
      ptime: ptimeMs,
      maxptime: MAX_RECEIVE_PTIME_MS,
      direction,
      ...(offered.mid !== undefined ? { mid: offered.mid } : {}),
      // RFC 5761 §5.1.1: an offered rtcp-mux is accepted (RTCP is demultiplexed on the RTP port).
      ...(offered.rtcpMux !== undefined ? { rtcpMux: 'rtcp-mux' as const } : {}),
      ...(secured?.crypto === undefined ? {} : { crypto: [secured.crypto] }),
    };
  });

  const answer: SessionDescription = {
    version: 0,
    origin: origin(local),
    name: 'switchboard',
    connection: { version: ipVer(local.address), ip: local.address },
    // RFC 3264 §6: the t= line of the answer must equal the offer's.
    timing: session.timing ?? { start: 0, stop: 0 },
    media: answerMedia,
  };

  return {
    ...negotiated(
      matched,
      ptimeMs,
      telephoneEvent,
      { address, port: m.port },
      direction,
      nullAddress,
      rtcpOf(m, m.rtcpMux !== undefined),
    ),
    ...(secured?.srtp === undefined ? {} : { srtp: secured.srtp }),
    answerSdp: write(answer),
  };
}

export interface OfferOptions {
  /** Codecs to offer, in preference order. */
  readonly codecs?: readonly CodecName[];
  /** Offer RFC 4733 telephone-event (default true). */
  readonly telephoneEvent?: boolean;
  readonly ptimeMs?: number;
  /** sendonly for a hold re-INVITE (default sendrecv). */
  readonly direction?: MediaDirection;
  /** Offer rtcp-mux (RFC 5761); default false (RTCP on port + 1, which we always bind). */
  readonly rtcpMux?: boolean;
  /** SDES keys to offer (sdp-crypto.ts offerCrypto), and the profile to offer them under. */
  readonly crypto?: readonly CryptoLine[];
  readonly protocol?: 'RTP/AVP' | 'RTP/SAVP';
}

/** An SDP offer for an outbound call, a delayed-offer 200 OK, or a hold/unhold re-INVITE. */
export function createOffer(local: LocalMedia, options: OfferOptions = {}): string {
  const codecs = options.codecs ?? local.supported ?? DEFAULT_CODECS;
  const rtp: MediaDescription['rtp'] = [];
  const fmtp: MediaDescription['fmtp'] = [];
  const payloads: number[] = [];
  for (const name of codecs) {
    const spec = CODECS[name];
    payloads.push(spec.defaultPt);
    rtp.push({
      payload: spec.defaultPt,
      codec: spec.name,
      rate: spec.clockRateHz,
      ...(spec.name === 'opus' ? { encoding: 2 } : {}),
    });
    if (spec.offerFmtp !== undefined) fmtp.push({ payload: spec.defaultPt, config: spec.offerFmtp });
  }
  if (options.telephoneEvent ?? true) {
    if (codecs.includes('opus')) {
      payloads.push(TELEPHONE_EVENT_PT_48K);
      rtp.push({ payload: TELEPHONE_EVENT_PT_48K, codec: 'telephone-event', rate: 48000 });
      fmtp.push({ payload: TELEPHONE_EVENT_PT_48K, config: '0-16' });
    }
    if (codecs.some((c) => CODECS[c].clockRateHz === 8000)) {
      payloads.push(TELEPHONE_EVENT_PT_8K);
      rtp.push({ payload: TELEPHONE_EVENT_PT_8K, codec: 'telephone-event', rate: 8000 });
      fmtp.push({ payload: TELEPHONE_EVENT_PT_8K, config: '0-16' });
    }
  }
  const offer: SessionDescription = {
    version: 0,
    origin: origin(local),
    name: 'switchboard',
    connection: { version: ipVer(local.address), ip: local.address },
    timing: { start: 0, stop: 0 },
    media: [
      {
        type: 'audio',
        port: local.port,
        protocol: options.protocol ?? 'RTP/AVP',
        payloads: payloads.join(' '),
        rtp,
        fmtp,
        ptime: options.ptimeMs ?? DEFAULT_PTIME_MS,
        maxptime: MAX_RECEIVE_PTIME_MS,
        direction: options.direction ?? 'sendrecv',
        ...(options.rtcpMux === true ? { rtcpMux: 'rtcp-mux' as const } : {}),
        ...(options.crypto === undefined ? {} : { crypto: [...options.crypto] }),
      },
    ],
  };
  return write(offer);
}

/** Combine what we offered with what the peer answered into the direction in effect for us. */
function localDirection(offered: MediaDirection, answered: MediaDirection): MediaDirection {
  const weSend =
    (offered === 'sendrecv' || offered === 'sendonly') &&
    (answered === 'sendrecv' || answered === 'recvonly');
  const weRecv =
    (offered === 'sendrecv' || offered === 'recvonly') &&
    (answered === 'sendrecv' || answered === 'sendonly');
  if (weSend && weRecv) return 'sendrecv';
  if (weSend) return 'sendonly';
  if (weRecv) return 'recvonly';
  return 'inactive';
}

/**
 * Read the peer's choice from an answer to our offer (outbound call, delayed offer in the ACK, re-INVITE).
 * RFC 3264 §6.1: the answer reuses the offer's payload type numbers, so the codec is looked up in the offer.
 */
export function parseAnswer(offerSdp: string, answerSdp: string): AnswerParseResult {
  const offer = parseSdp(offerSdp);
  if (!offer.ok) return offer;
  const answer = parseSdp(answerSdp);
  if (!answer.ok) return answer;
  const offeredAudio = offer.session.media.findIndex((m) => m.type === 'audio' && m.port !== 0);
  const om = offer.session.media[offeredAudio];
  const am = answer.session.media[offeredAudio];
  if (!om || !am || am.type !== 'audio') return malformed('answer does not match the offer’s m-lines');
  if (am.port === 0) return incompatible('answerer rejected the audio stream');

  const offeredCodecs = new Set(
    formatsOf(om).flatMap((pt) => {
      const c = matchCodec(om, pt, new Set(DEFAULT_CODECS));
      return c ? [c.spec.name] : [];
    }),
  );
  let matched: Matched | undefined;
  for (const pt of formatsOf(am)) {
    // Prefer the offer's mapping of the PT; a peer that re-maps it is still read by its own rtpmap.
    matched =
      (formatsOf(om).includes(pt) ? matchCodec(om, pt, offeredCodecs) : undefined) ??
      matchCodec(am, pt, offeredCodecs);
    if (matched) break;
  }
  if (!matched) return incompatible('answer has no codec we offered');

  const address = connectionAddress(answer.session, am);
  if (address === undefined) return malformed('no c= line in answer');
  // The answer's a=ptime is what the answerer wants to receive; without one, what we offered stands.
  const ptimeMs =
    am.ptime !== undefined
      ? choosePtime(matched.spec.name, am, answer.session, matched.fmtp)
      : choosePtime(matched.spec.name, om, offer.session, matched.fmtp);
  const telephoneEvent = matchTelephoneEvent(am, matched.clockRateHz);
  const direction = localDirection(directionOf(offer.session, om), directionOf(answer.session, am));
  const nullAddress = isNullAddress(address);
  const mux = om.rtcpMux !== undefined && am.rtcpMux !== undefined;
  const rtcp = rtcpOf(am, mux);
  return negotiated(
    matched,
    ptimeMs,
    telephoneEvent,
    { address, port: am.port },
    direction,
    nullAddress,
    rtcp,
  );
}

/**
 * The o= values for the next SDP we send in this dialog: same session id, version + 1 (RFC 3264 §8:
 * "the version in the o= line MUST be one higher than in the previous SDP"). Undefined if `previousSdp`
 * has no readable o= line.
 */
export function nextVersion(previousSdp: string): SdpOrigin | undefined {
  const match = /^o=\S+\s+(\S+)\s+(\d+)\s/m.exec(previousSdp);
  if (!match?.[1] || match[2] === undefined) return undefined;
  const version = Number(match[2]);
  if (!Number.isSafeInteger(version)) return undefined;
  return { sessionId: match[1], sessionVersion: version + 1 };
}
