import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createDefaultRegistry } from '../agent/default-registry.js';
import { loadRecording, type Recording } from '../agent/providers/replay/index.js';
import type { ProviderRegistry } from '../agent/registry.js';
import { loadConfig } from '../config/config.js';
import { startServer, type Server } from '../main.js';
import type { Logger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import type { AgentProfileInput } from '../routing/dialplan.js';
import type { EmbeddedSignaling } from '../sip/embedded/index.js';
import { Softphone } from '../softphone/softphone.js';
import { recordedDtmf, replayProfile, type ReplayResult } from './fast.js';
import { compareOutcomes, outcomeOf, outcomeOfRecording, type CompareOptions } from './outcome.js';

/** The number (SIP user) the replay dialplan answers. */
export const REPLAY_NUMBER = 'replay';
const REPLAY_TENANT = 'replay';
/** How long past the recorded caller audio the softphone waits for the server to end the call. */
const GRACE_MS = 30_000;

export interface SipReplayOptions {
  readonly logger: Logger;
  /** `host:port` of a running server whose dialplan routes `number` to the replay provider. */
  readonly server?: string;
  readonly number?: string;
  /** With `server`: that server's RECORDINGS_DIR, to compare tool calls and barge-ins too. */
  readonly serverRecordingsDir?: string;
  /** In-process server only: profile fields to change (e.g. prove a regression is caught). */
  readonly profileOverrides?: Partial<AgentProfileInput>;
  /** In-process server only: the providers (defaults to the built-in registry with `replay`). */
  readonly registry?: ProviderRegistry;
  /** Keep the replay's recording here (in-process server only). */
  readonly outDir?: string;
  readonly compare?: CompareOptions;
  /** Local address of the softphone. */
  readonly host?: string;
  /** The softphone's RTP ports (default: a random block of 100 in 41000–49999). */
  readonly rtpPorts?: { readonly min: number; readonly max: number };
}

/** Every `<dir>/<tenant>/<callId>` directory (the server's recording layout). */
async function callDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const tenant of await readdir(dir).catch(() => [] as string[])) {
    for (const call of await readdir(join(dir, tenant)).catch(() => [] as string[]))
      out.push(join(dir, tenant, call));
  }
  return out;
}

async function waitForRecording(dir: string, since: number, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const path of await callDirs(dir)) {
      const meta = await readFile(join(path, 'call.json'), 'utf8').catch(() => '');
      try {
        const m = JSON.parse(meta) as { endedAt?: string | null; startedAt?: string };
        // A recording of this replay (started after the call was placed) that is closed.
        if (m.endedAt && Date.parse(m.startedAt ?? '') >= since - 1000) return path;
      } catch {
        // call.json is missing or being written: look again.
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the replay's recording did not appear in ${dir}`);
}

/** The in-process server a replay runs against: loopback only, one dialplan routing REPLAY_NUMBER. */
async function startReplayServer(
  rec: Recording,
  options: SipReplayOptions,
): Promise<{ server: Server; sipPort: number; recordingsDir: string; close(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'sb-replay-sip-'));
  const dialplansDir = join(root, 'dialplans');
  const recordingsDir = join(root, 'recordings');
  await mkdir(dialplansDir, { recursive: true });
  const profile = replayProfile(rec, options.profileOverrides);
  // JSON is YAML: the recorded profile, answering with `replay` and recording the replay.
  await writeFile(
    join(dialplansDir, 'replay.yaml'),
    JSON.stringify({ tenant: REPLAY_TENANT, numbers: [REPLAY_NUMBER], agent: profile }),
  );
  const rtpBase = 20_000 + randomInt(0, 350) * 100;
  const config = loadConfig({
    SIP_HOST: '127.0.0.1',
    SIP_PORT: '0',
    SIP_PUBLIC_HOST: '127.0.0.1',
    HTTP_HOST: '127.0.0.1',
    HTTP_PORT: '0',
    RTP_PORT_MIN: String(rtpBase),
    RTP_PORT_MAX: String(rtpBase + 99),
    DATA_DIR: join(root, 'data'),
    DIALPLANS_DIR: dialplansDir,
    RECORDINGS_DIR: recordingsDir,
    ADMIN_TOKEN: `replay-${randomBytes(12).toString('hex')}`,
    LOG_LEVEL: 'warn',
  });
  // The server reads replays only from its tenant's own recordings (issue 11): copy the recording there.
  const source = join(recordingsDir, REPLAY_TENANT, `source-${randomBytes(6).toString('hex')}`);
  await copyRecording(rec.dir, source);
  const server = await startServer({
    config,
    logger: options.logger,
    metrics: createMetricsRegistry(),
    // `replay` is never in a production registry by default; this server exists to run one.
    registry: options.registry ?? createDefaultRegistry({ replay: true }),
  });
  await server.store.putCredential(REPLAY_TENANT, 'replay', { recording: source });
  return {
    server,
    sipPort: (server.signaling as EmbeddedSignaling).port,
    recordingsDir,
    close: async () => {
      await server.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** The caller channel at 8 kHz for the softphone (the recorder writes the codec's rate: 8 kHz for G.711). */
function caller8k(rec: Recording): Int16Array {
  if (rec.sampleRateHz === 8000) return rec.caller;
  const step = rec.sampleRateHz / 8000;
  const out = new Int16Array(Math.floor(rec.caller.length / step));
  for (let i = 0; i < out.length; i++) out[i] = rec.caller[Math.floor(i * step)] ?? 0;
  return out;
}

/**
 * `switchboard replay`: plays a recording's caller channel into a server over real SIP/RTP with the
 * softphone, the server answering with the replay provider, and compares what the server did (its own
 * recording of the replay) with the original. Against a remote server without access to its recordings,
 * only what the caller observes is compared: agent audio per caller turn and who hung up.
 */
export async function replayOverSip(recordingDir: string, options: SipReplayOptions): Promise<ReplayResult> {
  const rec = await loadRecording(resolve(recordingDir));
  const expected = outcomeOfRecording(rec);
  const local = options.server === undefined ? await startReplayServer(rec, options) : undefined;
  const rtpBase = 41_000 + randomInt(0, 90) * 100;
  const phone = new Softphone({
    logger: options.logger,
    host: options.host ?? '127.0.0.1',
    rtpPortMin: options.rtpPorts?.min ?? rtpBase,
    rtpPortMax: options.rtpPorts?.max ?? rtpBase + 99,
  });
  try {
    await phone.start();
    const target =
      local === undefined
        ? `sip:${options.number ?? REPLAY_NUMBER}@${options.server}`
        : `sip:${REPLAY_NUMBER}@127.0.0.1:${local.sipPort}`;
    const callerMs = (rec.caller.length * 1000) / rec.sampleRateHz;
    const callerHangsUp = expected.ending === 'caller-bye';
    const since = Date.now();
    const codec = rec.meta.codec.toUpperCase();
    // The caller's DTMF at the recorded moments (RFC 4733 from the softphone), e.g. `#` ending an echo call.
    const dtmfTimers: NodeJS.Timeout[] = [];
    const result = await phone.call(target, {
      onEstablished: (leg) => {
        for (const d of recordedDtmf(rec))
          dtmfTimers.push(setTimeout(() => void leg.sendDtmf(d.digit).catch(() => undefined), d.atMs));
      },
      playPcm8k: caller8k(rec),
      ...(codec === 'PCMU' || codec === 'PCMA' ? { codecs: [codec] } : {}),
      durationMs: callerHangsUp ? callerMs : callerMs + GRACE_MS,
    });
    for (const t of dtmfTimers) clearTimeout(t);
    const recordingsDir = local?.recordingsDir ?? options.serverRecordingsDir;
    if (recordingsDir !== undefined) {
      const replayed = await loadRecording(await waitForRecording(recordingsDir, since));
      if (options.outDir !== undefined) await copyRecording(replayed.dir, options.outDir);
      const actual = outcomeOfRecording(replayed);
      return {
        expected,
        actual,
        diff: compareOutcomes(expected, actual, options.compare),
        // The in-process server's directory is removed on close: only --out keeps the replay.
        replayRecording: options.outDir ?? (local === undefined ? replayed.dir : ''),
      };
    }
    // A remote server: what the caller heard and who hung up.
    const actual = outcomeOf({
      sampleRateHz: result.sampleRateHz,
      caller: caller8k(rec).subarray(0, result.received.length),
      agent: result.received,
      ending: result.endedBy === 'local' ? 'caller-bye' : 'server-bye',
    });
    const expectedSeen = { ...expected, ending: callerHangsUp ? 'caller-bye' : 'server-bye' };
    return {
      expected: expectedSeen,
      actual,
      diff: compareOutcomes(expectedSeen, actual, { ...options.compare, audioAndEndingOnly: true }),
      replayRecording: '',
    };
  } finally {
    await phone.close();
    await local?.close();
  }
}

async function copyRecording(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const f of ['call.json', 'audio.wav', 'events.jsonl'])
    await writeFile(join(to, f), await readFile(join(from, f)));
}
