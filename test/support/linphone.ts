/**
 * linphonec (Debian `linphone-cli` 5.1, liblinphone + belle-sip + mediastreamer2: a SIP/SDP/RTP stack that
 * shares nothing with ours) as a headless test peer, driven over stdin. What makes it work without a
 * sound card or network:
 * - HOME is a private temp dir holding `.local/share/linphone/`: without that directory liblinphone cannot
 *   open its database, never reaches GlobalOn and so never creates a SIP listening point ("No listening
 *   point matching" on every call);
 * - `[sip] bind_address` / `[rtp] bind_address` pin signalling and media to one loopback address (the
 *   RTP bind address is also what the SDP advertises), `use_ipv6=0` (+ `ipv6_migration_done=1`, or
 *   liblinphone drops the setting at start) keeps it off the host's IPv6 address;
 * - `soundcard use files` streams from files: `play <wav>` is the microphone (and the hold music while
 *   paused), `record <wav>` receives what the far end sent, both taken when a stream starts. The recording
 *   holds decoded frames only: a stretch with no RTP is not in it, so it is not on the call's clock.
 * - Every codec not asked for is written as disabled (linphone enables Opus and Speex by default).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWav, type WavAudio } from '../../src/media/wav.js';
import { PeerProcess } from './peer-process.js';

export type LinphoneCodec = 'PCMU' | 'PCMA' | 'opus' | 'G722';

export interface LinphoneOptions {
  /** Loopback address of its own, e.g. 127.0.0.20 (never the server's). */
  readonly sipHost: string;
  readonly sipPort: number;
  /** RTP port (RTCP is the next one). */
  readonly rtpPort: number;
  /** Enabled codecs in preference order (default PCMU, PCMA); every other audio codec is disabled. */
  readonly codecs?: readonly LinphoneCodec[];
  /** Answer incoming calls at once (`linphonec -a`). */
  readonly autoAnswer?: boolean;
  /** The microphone: a mono PCM16 WAV (8 kHz for G.711). */
  readonly playWav: string;
  /**
   * RFC 3262 (liblinphone `[sip] 100rel_support_level`): `supported` (Supported: 100rel) or `required`
   * (Require: 100rel on its INVITEs). Absent: liblinphone's default.
   */
  readonly rel100?: 'off' | 'supported' | 'required';
}

/** rate/channels as linphone's codec table names them. */
const CODEC_TABLE: ReadonlyArray<readonly [string, number, number]> = [
  ['PCMU', 8000, 1],
  ['PCMA', 8000, 1],
  ['opus', 48000, 2],
  ['G722', 8000, 1],
  ['speex', 16000, 1],
  ['speex', 8000, 1],
  ['speex', 32000, 1],
  ['GSM', 8000, 1],
  ['G729', 8000, 1],
  ['iLBC', 8000, 1],
  ['L16', 44100, 1],
  ['L16', 44100, 2],
];

/** The linphonerc for `options` (exported for failure messages). */
export function linphoneConfig(options: LinphoneOptions): string {
  const wanted = options.codecs ?? ['PCMU', 'PCMA'];
  const ordered = [
    ...wanted.map((name) => CODEC_TABLE.find(([mime]) => mime === name)),
    ...CODEC_TABLE.filter(([mime]) => !wanted.includes(mime as LinphoneCodec)),
  ].filter((c): c is readonly [string, number, number] => c !== undefined);
  const codecs = ordered.flatMap(([mime, rate, channels], i) => [
    `[audio_codec_${i}]`,
    `mime=${mime}`,
    `rate=${rate}`,
    `channels=${channels}`,
    `enabled=${wanted.includes(mime as LinphoneCodec) ? 1 : 0}`,
    '',
  ]);
  return [
    '[sip]',
    `sip_port=${options.sipPort}`,
    'sip_tcp_port=0',
    'sip_tls_port=0',
    `bind_address=${options.sipHost}`,
    'use_ipv6=0',
    'ipv6_migration_done=1',
    'guess_hostname=0',
    `contact=sip:linphone@${options.sipHost}:${options.sipPort}`,
    'inc_timeout=60',
    ...(options.rel100 === undefined
      ? []
      : [`100rel_support_level=${{ off: 0, supported: 1, required: 2 }[options.rel100]}`]),
    '',
    '[rtp]',
    `audio_rtp_port=${options.rtpPort}`,
    `bind_address=${options.sipHost}`,
    'audio_jitt_comp=60',
    'nortp_timeout=30',
    '',
    '[sound]',
    // Echo cancellation and noise gating would alter the audio the tests correlate.
    'echocancellation=0',
    'noisegate=0',
    '',
    '[video]',
    'display=0',
    'capture=0',
    '',
    ...codecs,
  ].join('\n');
}

/** mediastreamer's file recorder runs at the decoder's rate. */
const RECORD_RATE_HZ: Readonly<Record<LinphoneCodec, number>> = {
  PCMU: 8000,
  PCMA: 8000,
  G722: 16000,
  opus: 48000,
};

/** A SIP message as belle-sip logged it (sent or received). */
export interface LoggedSipMessage {
  readonly direction: 'sent' | 'received';
  readonly startLine: string;
  readonly text: string;
}

const LOG_LINE = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3} /;
const START_LINE = /^(?:[A-Z]+ \S+ SIP\/2\.0|SIP\/2\.0 \d{3} .*)$/;

/** The SIP messages in a liblinphone debug log, in order (the lines after belle-sip's "sent"/"received"). */
export function loggedSipMessages(log: string): LoggedSipMessage[] {
  const lines = log.split(/\r?\n/);
  const out: LoggedSipMessage[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const before = lines[i - 1] ?? '';
    if (!START_LINE.test(line) || !/belle-sip-message-channel .*(message sent to|received \[)/.test(before))
      continue;
    let end = i + 1;
    while (end < lines.length && !LOG_LINE.test(lines[end] ?? '')) end++;
    out.push({
      direction: before.includes('message sent to') ? 'sent' : 'received',
      startLine: line,
      text: lines.slice(i, end).join('\n'),
    });
  }
  return out;
}

/** The SDP media direction of a message (RFC 4566 §6: sendrecv when absent). */
export function sdpDirection(text: string): 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive' {
  const m = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m.exec(text);
  return (m?.[1] as 'sendonly' | 'recvonly' | 'inactive' | undefined) ?? 'sendrecv';
}

/** The 2xx that answered `request` (same CSeq), if logged. */
export function answerTo(
  messages: readonly LoggedSipMessage[],
  request: LoggedSipMessage,
): LoggedSipMessage | undefined {
  const cseq = /^CSeq:\s*(.*)$/im.exec(request.text)?.[1]?.trim();
  return messages.find(
    (m) => /^SIP\/2\.0 2\d\d/.test(m.startLine) && /^CSeq:\s*(.*)$/im.exec(m.text)?.[1]?.trim() === cseq,
  );
}

export interface LinphoneCallEvent {
  readonly id: number;
  readonly peer: string;
}

export class Linphone {
  readonly #process: PeerProcess;
  readonly #dir: string;
  readonly #codec: LinphoneCodec;
  readonly logPath: string;
  #recordings = 0;
  /** Where the current (or last) stream records what it hears. */
  recordPath: string;

  private constructor(process: PeerProcess, dir: string, codec: LinphoneCodec) {
    this.#process = process;
    this.#dir = dir;
    this.#codec = codec;
    this.logPath = join(dir, 'linphone.log');
    this.recordPath = join(dir, 'heard-0.wav');
  }

  /** Starts linphonec with files as the sound card; throws (with its output) if it does not come up. */
  static async start(options: LinphoneOptions): Promise<Linphone> {
    const dir = await mkdtemp(join(tmpdir(), 'linphone-'));
    await mkdir(join(dir, '.local', 'share', 'linphone'), { recursive: true });
    await writeFile(join(dir, 'linphonerc'), linphoneConfig(options));
    const args = ['-c', join(dir, 'linphonerc'), '-d', '6', '-l', join(dir, 'linphone.log')];
    if (options.autoAnswer === true) args.push('-a');
    const process = new PeerProcess({ command: 'linphonec', args, cwd: dir, env: { HOME: dir } });
    const phone = new Linphone(process, dir, options.codecs?.[0] ?? 'PCMU');
    try {
      const mark = process.mark();
      process.send('soundcard use files');
      await process.waitFor(/Using wav files instead of soundcard/, 15_000, mark);
      phone.play(options.playWav);
      phone.record(phone.recordPath);
    } catch (err) {
      await phone.stop();
      throw err;
    }
    return phone;
  }

  /** The microphone file for the next stream start (call, resume). */
  play(wavPath: string): void {
    this.#process.send(`play ${wavPath}`);
  }

  /** Records the next stream (call, resume) into `wavPath` (default: a fresh file in the temp dir). */
  record(wavPath = join(this.#dir, `heard-${++this.#recordings}.wav`)): string {
    this.recordPath = wavPath;
    this.#process.send(`record ${wavPath}`);
    return wavPath;
  }

  mark(): number {
    return this.#process.mark();
  }

  output(from = 0): string {
    return this.#process.output(from);
  }

  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return await this.#process.waitFor(pattern, timeoutMs, from);
  }

  /** Dials `uri` and resolves once media streams run (linphonec: "Media streams established"). */
  async call(uri: string, timeoutMs = 15_000): Promise<LinphoneCallEvent> {
    const mark = this.mark();
    this.#process.send(`call ${uri}`);
    const m = await this.waitFor(/Media streams established with (\S+) for call (\d+)/, timeoutMs, mark);
    return { id: Number(m[2]), peer: m[1] ?? '' };
  }

  /** Resolves once an incoming call (answered by `-a`) has its media running. */
  async answered(timeoutMs: number, from = 0): Promise<LinphoneCallEvent> {
    await this.waitFor(/Receiving new incoming call from/, timeoutMs, from);
    const m = await this.waitFor(/Media streams established with (\S+) for call (\d+)/, timeoutMs, from);
    return { id: Number(m[2]), peer: m[1] ?? '' };
  }

  /** Puts the call on hold (re-INVITE a=sendonly) and resolves when linphone says it is paused. */
  async pause(timeoutMs = 10_000): Promise<void> {
    const mark = this.mark();
    this.#process.send('pause');
    await this.waitFor(/Call \d+ with \S+ is now paused/, timeoutMs, mark);
  }

  /** Takes the call off hold (re-INVITE a=sendrecv) and resolves when its streams run again. */
  async resume(timeoutMs = 10_000): Promise<void> {
    const mark = this.mark();
    this.#process.send('resume');
    await this.waitFor(/Media streams established with/, timeoutMs, mark);
  }

  /** Hangs up (BYE) and resolves when linphone reports the call ended. */
  async hangup(timeoutMs = 10_000): Promise<void> {
    const mark = this.mark();
    this.#process.send('terminate');
    await this.waitFor(/Call \d+ with \S+ ended/, timeoutMs, mark);
  }

  /** Resolves when the far end has ended the call (its BYE). */
  async ended(timeoutMs: number, from = 0): Promise<string> {
    return (await this.waitFor(/Call \d+ with \S+ ended \(([^)]*)\)/, timeoutMs, from))[1] ?? '';
  }

  /**
   * What a stream recorded (the current one by default). mediastreamer writes the RIFF header only when
   * the stream stops; until then the file is a 44-byte placeholder and raw PCM16 at the codec's clock
   * (assumed to be the first codec asked for).
   */
  async heard(wavPath = this.recordPath): Promise<WavAudio> {
    const bytes = await readFile(wavPath);
    if (bytes.toString('latin1', 0, 4) === 'RIFF') return readWav(bytes);
    const pcm = bytes.subarray(Math.min(44, bytes.length));
    const samples = new Int16Array(pcm.length >> 1);
    for (let i = 0; i < samples.length; i++) samples[i] = pcm.readInt16LE(2 * i);
    return { sampleRateHz: RECORD_RATE_HZ[this.#codec], channels: 1, samples };
  }

  /** liblinphone's debug log, which holds every SIP message sent and received. */
  async sipLog(): Promise<string> {
    return await readFile(this.logPath, 'utf8');
  }

  async stop(): Promise<void> {
    if (this.#process.running) {
      this.#process.send('quit');
      const quit = await Promise.race([
        this.#process.exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 3000)),
      ]);
      if (!quit) await this.#process.stop();
    }
    await rm(this.#dir, { recursive: true, force: true });
  }
}
