/**
 * baresip 1.0 as a headless SIP client (docs/reference/sip.md §6): a config dir generated per run, `aufile`
 * plays a WAV as the microphone, `sndfile` dumps what was sent (`-enc.wav`) and heard (`-dec.wav`), ctrl_tcp
 * on a private port. Also a tiny PCM16 WAV reader for asserting on those dumps.
 *
 * SIP over TLS (`transport: 'tls'` + `tls`): baresip loads `sip_certificate` (certificate and key in one PEM,
 * e.g. KeyPair.combined from tls-certs.ts) for its TLS listener and as its client certificate, and
 * `sip_cafile`. It listens for TLS on `sipPort + 1` (libre's rule) — see `baresipTlsPort`. baresip 1.0 does
 * not verify the servers it connects to; the server's certificate checks are asserted with openssl s_client.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWavFile, writeWavFile } from '../../src/media/wav.js';

export interface BaresipOptions {
  /** SIP listen address, e.g. 127.0.0.3 (never the server's). */
  readonly sipHost: string;
  readonly sipPort: number;
  readonly ctrlPort: number;
  /** Mono PCM16 WAV played as the microphone, at `audioRateHz`. */
  readonly sourceWav: string;
  /** Rate of the source and of the player (ausrc/auplay_srate): 8000 (default), 16000 for G.722. */
  readonly audioRateHz?: 8000 | 16000;
  /** Account user; incoming calls must use it as the request user ("UA not found" otherwise). */
  readonly user?: string;
  /** audio_codecs of the account; G722 also loads baresip's g722 module. */
  readonly codecs?: readonly ('PCMU' | 'PCMA' | 'G722')[];
  readonly transport?: 'udp' | 'tcp' | 'tls';
  /** TLS material (required for baresip to accept TLS; presented as its client certificate too). */
  readonly tls?: BaresipTls;
  /** Lowest and highest local RTP port. */
  readonly rtpPorts?: readonly [number, number];
  /**
   * SDES-SRTP through baresip's `srtp` module (account `mediaenc`): `srtp-mand` offers RTP/SAVP and
   * insists on SRTP, `srtp` offers best-effort a=crypto in RTP/AVP. Absent: plain RTP.
   */
  readonly mediaenc?: 'srtp' | 'srtp-mand';
  /** Offer rtcp-mux (RFC 5761); default no. */
  readonly rtcpMux?: boolean;
  /** Extra modules to load, e.g. `rtcpsummary.so` (prints `EX=BareSip;…` RTCP figures at hangup). */
  readonly modules?: readonly string[];
}

export interface BaresipTls {
  /** Certificate + private key in one PEM file. */
  readonly certificate: string;
  /** CA bundle baresip loads. */
  readonly caFile?: string;
}

/** The port baresip listens on for SIP over TLS (libre adds one to `sip_listen`'s port). */
export function baresipTlsPort(options: Pick<BaresipOptions, 'sipPort'>): number {
  return options.sipPort + 1;
}

export interface BaresipRun {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** What baresip sent (`dump-…-enc.wav`) and heard (`dump-…-dec.wav`), if written. */
  readonly sentWav?: Buffer;
  readonly heardWav?: Buffer;
}

/** The config and accounts files (exported for inspection in tests). */
export function baresipConfig(options: BaresipOptions, recDir: string): { config: string; accounts: string } {
  const [rtpMin, rtpMax] = options.rtpPorts ?? [43560, 43599];
  const config = [
    'poll_method\t\tepoll',
    `sip_listen\t\t${options.sipHost}:${options.sipPort}`,
    `audio_source\t\taufile,${options.sourceWav}`,
    'audio_player\t\taubridge,nil',
    'audio_alert\t\taubridge,nil',
    'audio_level\t\tno',
    `ausrc_srate\t\t${options.audioRateHz ?? 8000}`,
    `auplay_srate\t\t${options.audioRateHz ?? 8000}`,
    'ausrc_channels\t\t1',
    'auplay_channels\t\t1',
    `rtp_ports\t\t${rtpMin}-${rtpMax}`,
    `rtcp_mux\t\t${options.rtcpMux === true ? 'yes' : 'no'}`,
    'jitter_buffer_delay\t1-5',
    `snd_path\t\t${recDir}`,
    `net_interface\t\t${options.sipHost}`,
    'module_path\t\t/usr/lib/baresip/modules',
    'module\t\t\tg711.so',
    ...(options.codecs?.includes('G722') === true ? ['module\t\t\tg722.so'] : []),
    'module\t\t\taufile.so',
    'module\t\t\taubridge.so',
    'module\t\t\tsndfile.so',
    ...(options.mediaenc === undefined ? [] : ['module\t\t\tsrtp.so']),
    ...(options.modules ?? []).map((m) => `module\t\t\t${m}`),
    'module_app\t\taccount.so',
    'module_app\t\tmenu.so',
    'module_app\t\tctrl_tcp.so',
    `ctrl_tcp_listen\t\t127.0.0.1:${options.ctrlPort}`,
    ...(options.tls === undefined ? [] : [`sip_certificate\t${options.tls.certificate}`]),
    ...(options.tls?.caFile === undefined ? [] : [`sip_cafile\t\t${options.tls.caFile}`]),
    '',
  ].join('\n');
  const user = options.user ?? 'bot';
  const codecs = (options.codecs ?? ['PCMU', 'PCMA']).join(',');
  const accounts = `<sip:${user}@${options.sipHost}:${options.sipPort};transport=${options.transport ?? 'udp'}>;regint=0;answermode=auto;audio_codecs=${codecs}${options.mediaenc === undefined ? '' : `;mediaenc=${options.mediaenc}`}\n`;
  return { config, accounts };
}

/**
 * Run baresip for `seconds`, executing `commands` at start (e.g. `/dial sip:agent@127.0.0.1:5060`), and
 * collect its dumps. baresip hangs up when the source file ends (aufile) and quits at `-t`.
 */
export async function runBaresip(
  options: BaresipOptions,
  commands: readonly string[],
  seconds: number,
): Promise<BaresipRun> {
  const dir = await mkdtemp(join(tmpdir(), 'baresip-'));
  const recDir = join(dir, 'rec');
  await mkdir(recDir);
  const { config, accounts } = baresipConfig(options, recDir);
  await writeFile(join(dir, 'config'), config);
  await writeFile(join(dir, 'accounts'), accounts);
  await writeFile(join(dir, 'contacts'), '');
  try {
    const args = ['-f', dir, ...commands.flatMap((c) => ['-e', c]), '-t', String(seconds)];
    const child = spawn('baresip', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString('utf8')).slice(-30_000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-30_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 10) * 1000);
    const exitCode = await new Promise<number | null>((resolve) => {
      child.on('error', () => resolve(null));
      child.on('close', (code) => resolve(code));
    });
    clearTimeout(timer);
    const files = await readdir(recDir);
    const pick = async (suffix: string): Promise<Buffer | undefined> => {
      const name = files.find((f) => f.endsWith(suffix));
      return name === undefined ? undefined : await readFile(join(recDir, name));
    };
    const sentWav = await pick('-enc.wav');
    const heardWav = await pick('-dec.wav');
    return {
      exitCode,
      stdout,
      stderr,
      ...(sentWav ? { sentWav } : {}),
      ...(heardWav ? { heardWav } : {}),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** baresip's rtcpsummary line (`EX=BareSip;CS=…;PR=…;PS=…;PL=rx,tx;PD=…;JI=rx,tx;DL=…;IP=…`), parsed. */
export interface BaresipRtcpSummary {
  /** Packets baresip received / sent. */
  readonly received: number;
  readonly sent: number;
  /** Lost: of what it received, and of what it sent as the peer's receiver reports said. */
  readonly lostRx: number;
  readonly lostTx: number;
  /** Jitter in RTP timestamp units: its own estimate, and the peer's report on baresip's stream. */
  readonly jitterRx: number;
  readonly jitterTx: number;
  /** Round trip in ms, from the peer's reports (LSR/DLSR). */
  readonly rttMs: number;
}

export function parseRtcpSummary(output: string): BaresipRtcpSummary | undefined {
  const m =
    /EX=BareSip;CS=-?\d+;CD=-?\d+;PR=(\d+);PS=(\d+);PL=(-?\d+),(-?\d+);PD=-?\d+,-?\d+;JI=([\d.]+),([\d.]+);DL=([\d.]+);/.exec(
      output,
    );
  if (m === null) return undefined;
  const n = (i: number): number => Number(m[i]);
  return {
    received: n(1),
    sent: n(2),
    lostRx: n(3),
    lostTx: n(4),
    jitterRx: n(5),
    jitterTx: n(6),
    rttMs: n(7),
  };
}

export interface Pcm16Wav {
  readonly sampleRateHz: number;
  readonly channels: number;
  readonly samples: Int16Array;
  readonly durationMs: number;
}

/** Minimal RIFF/WAVE reader for PCM16 (walks chunks; tolerates the 0-size data chunk some writers leave). */
export function readPcm16Wav(buf: Buffer): Pcm16Wav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error('not a RIFF/WAVE file');
  }
  let offset = 12;
  let sampleRateHz = 0;
  let channels = 0;
  let bits = 0;
  let data: Buffer | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    let size = buf.readUInt32LE(offset + 4);
    const start = offset + 8;
    if (id === 'fmt ') {
      channels = buf.readUInt16LE(start + 2);
      sampleRateHz = buf.readUInt32LE(start + 4);
      bits = buf.readUInt16LE(start + 14);
    } else if (id === 'data') {
      if (size === 0 || start + size > buf.length) size = buf.length - start;
      data = buf.subarray(start, start + size);
      break;
    }
    offset = start + size + (size % 2);
  }
  if (!data || bits !== 16 || channels < 1)
    throw new Error(`unsupported WAV (bits=${bits}, channels=${channels})`);
  const copy = Buffer.from(data.subarray(0, data.length - (data.length % 2)));
  const samples = new Int16Array(copy.buffer, copy.byteOffset, copy.length / 2);
  return { sampleRateHz, channels, samples, durationMs: (samples.length / channels / sampleRateHz) * 1000 };
}

/** RMS over all samples, in PCM16 units (0…32767). */
export function rms(samples: Int16Array): number {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (const s of samples) sum += s * s;
  return Math.sqrt(sum / samples.length);
}

/** Milliseconds of 20 ms frames whose RMS exceeds `threshold` (speech present). */
export function activeMs(wav: Pcm16Wav, threshold = 300): number {
  const frame = Math.round((wav.sampleRateHz * wav.channels * 20) / 1000);
  let active = 0;
  for (let i = 0; i + frame <= wav.samples.length; i += frame) {
    if (rms(wav.samples.subarray(i, i + frame)) > threshold) active += 20;
  }
  return active;
}

/**
 * baresip hangs up when its source file ends: a copy of `sourceWav` followed by as much silence again plus
 * `extraSilenceS` (default 3 s), so the call lasts through an echo of the whole speech. `remove()` deletes
 * the temp copy.
 */
export function speechThenSilence(
  sourceWav: string,
  extraSilenceS = 3,
): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'baresip-src-'));
  const path = join(dir, 'speech-then-silence.wav');
  const speech = readWavFile(sourceWav);
  const samples = new Int16Array(speech.samples.length * 2 + speech.sampleRateHz * extraSilenceS);
  samples.set(speech.samples);
  writeWavFile(path, { ...speech, samples });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
