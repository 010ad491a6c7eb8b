import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildReplayScript,
  createReplayProvider,
  loadRecording,
  type Recording,
} from '../agent/providers/replay/index.js';
import { echoProvider } from '../agent/providers/echo/index.js';
import { ProviderRegistry } from '../agent/registry.js';
import { chooseAgentFormats } from '../call/audio-bridge.js';
import { createCallMetrics } from '../call/call-metrics.js';
import { CallRecorder } from '../call/recorder.js';
import { CallSession } from '../call/session.js';
import { toolSpecsFor } from '../call/tools/definitions.js';
import { createCodec } from '../media/codecs/index.js';
import type { Logger } from '../observability/logger.js';
import { createMetricsRegistry } from '../observability/metrics.js';
import { agentProfileSchema, type AgentProfile, type AgentProfileInput } from '../routing/dialplan.js';
import { ReplayDialog, ReplayMediaLeg } from './fake-call.js';
import { compareOutcomes, outcomeOfRecording, type CallOutcome, type CompareOptions } from './outcome.js';
import { VirtualClock } from './virtual-clock.js';

const PTIME_MS = 20;
/** How long past the recorded caller audio a replay may run before the caller hangs up regardless. */
const GRACE_MS = 30_000;

export interface ReplayResult {
  readonly expected: CallOutcome;
  readonly actual: CallOutcome;
  /** Empty when the replay matches the recording. */
  readonly diff: readonly string[];
  /** The replay's own recording (call.json, audio.wav, events.jsonl). */
  readonly replayRecording: string;
}

/**
 * Who answers a replay: `replay` (the recorded provider's events, re-timed to the caller's turns) or, for a
 * call with the local `echo` agent, the echo agent itself — it has no wire traffic to replay, and its answers
 * follow from the caller's audio and DTMF alone (issue 19).
 */
export function replayAgentOf(rec: Recording): 'replay' | 'echo' {
  return rec.meta.provider === 'echo' ? 'echo' : 'replay';
}

/** The agent profile of a recorded call, answering with `replay` (or `echo`) and recording again. */
export function replayProfile(rec: Recording, overrides: Partial<AgentProfileInput> = {}): AgentProfile {
  const recorded = rec.meta.profile ?? {};
  return agentProfileSchema.parse({ ...recorded, ...overrides, provider: replayAgentOf(rec), record: true });
}

/** The caller's DTMF digits in the recording, with the ms since the call became active (its timeline). */
export function recordedDtmf(rec: Recording): Array<{ readonly atMs: number; readonly digit: string }> {
  const activeT = rec.events.find((e) => e.kind === 'call.active')?.t ?? 0;
  return rec.events
    .filter((e) => e.kind === 'dtmf' && typeof e.digit === 'string')
    .map((e) => ({ atMs: Math.max(0, e.t - activeT), digit: String(e.digit) }));
}

/** The caller channel as the codec's RTP payloads, one per ptime (what the jitter buffer would play out). */
function callerFrames(rec: Recording, codecName: string, delayMs: number): Buffer[] {
  const codec = createCodec(codecName, 0);
  const n = codec.frameSamples(PTIME_MS);
  const frames: Buffer[] = [];
  const pcm = new Int16Array(n);
  const caller = new Int16Array(Math.round((delayMs * rec.sampleRateHz) / 1000) + rec.caller.length);
  caller.set(rec.caller, caller.length - rec.caller.length);
  for (let o = 0; o < caller.length; o += n) {
    pcm.fill(0);
    pcm.set(caller.subarray(o, Math.min(o + n, caller.length)));
    const out = Buffer.alloc(n * 2);
    frames.push(out.subarray(0, codec.encode(pcm, out)));
  }
  codec.close?.();
  return frames;
}

export interface FastReplayOptions {
  readonly logger: Logger;
  /** Profile fields to change for this replay (e.g. `barge_in: { enabled: false }` to prove a test fails). */
  readonly profileOverrides?: Partial<AgentProfileInput>;
  /** Where the replay's recording goes; a temp directory by default. */
  readonly outDir?: string;
  readonly compare?: CompareOptions;
  /** Starts the caller this much later than in the recording (shows replays follow turns, not clocks). */
  readonly callerDelayMs?: number;
}

/**
 * Replays a recording in virtual time (no sockets, no real time): a CallSession with the replay provider,
 * a socketless MediaLeg fed the recorded caller frames one per virtual 20 ms, a Dialog with no network,
 * and a CallRecorder capturing the replay, whose outcome is then compared with the original's.
 */
export async function replayFast(recordingDir: string, options: FastReplayOptions): Promise<ReplayResult> {
  const rec = await loadRecording(recordingDir);
  const script = buildReplayScript(rec);
  const expected = outcomeOfRecording(rec);
  const tempDir = options.outDir === undefined ? await mkdtemp(join(tmpdir(), 'sb-replay-')) : undefined;
  const outDir = options.outDir ?? tempDir!;
  const profile = replayProfile(rec, options.profileOverrides);
  const agentSlug = replayAgentOf(rec);
  const registry = new ProviderRegistry();
  registry.register(createReplayProvider({ load: () => script }));
  registry.register(echoProvider);

  const codecName = rec.meta.codec;
  const codec = createCodec(codecName, 0);
  const delayMs = options.callerDelayMs ?? 0;
  const leg = new ReplayMediaLeg(
    codec,
    PTIME_MS,
    callerFrames(rec, codecName, delayMs),
    recordedDtmf(rec).map((d) => ({ frame: Math.round((d.atMs + delayMs) / PTIME_MS), digit: d.digit })),
  );
  const recordedTransfer = rec.events.find((e) => e.kind === 'transfer.result');
  const dialog = new ReplayDialog(
    recordedTransfer?.callLeft === true
      ? { status: 200, reason: 'OK' }
      : { status: 405, reason: 'Method Not Allowed' },
  );
  const callerHangsUp = expected.ending === 'caller-bye';
  const caps = registry.capabilities(agentSlug)!;
  const formats = chooseAgentFormats(codec, caps);
  const log = options.logger.child({ replay: rec.meta.callId });

  const clock = new VirtualClock();
  clock.install();
  let recorder: CallRecorder | undefined;
  let session: CallSession | undefined;
  try {
    const callId = `replay-${rec.meta.callId}`;
    const decoders = [createCodec(codecName, 0), createCodec(codecName, 0)] as const;
    recorder = new CallRecorder({
      dir: outDir,
      meta: {
        callId,
        tenant: rec.meta.tenant,
        from: 'replay',
        to: 'replay',
        codec: codecName,
        provider: agentSlug,
        direction: 'inbound',
        profile,
      },
      sampleRateHz: codec.sampleRateHz,
      frameSamples: codec.frameSamples(PTIME_MS),
      decodeCaller: (p, out) => decoders[0].decode(p, out),
      decodeAgent: (p, out) => decoders[1].decode(p, out),
      logger: log,
      now: () => clock.now(),
      flushIntervalMs: 60_000,
    });
    const rec2 = recorder;
    leg.on('tick', (caller, sent) => rec2.frame(caller, sent));
    const s = new CallSession({
      id: callId,
      tenant: rec.meta.tenant,
      dialog,
      media: leg,
      profile,
      logger: log,
      metrics: createCallMetrics(createMetricsRegistry()),
      agentFormats: formats,
      now: () => clock.now(),
      createAgent: () =>
        Promise.resolve(
          registry.create(
            agentSlug === 'echo'
              ? { provider: 'echo' }
              : {
                  provider: 'replay',
                  recording: recordingDir.startsWith('/') ? recordingDir : join(process.cwd(), recordingDir),
                },
            {
              logger: log,
              inputFormat: formats.input,
              outputFormat: formats.output,
              tools: toolSpecsFor(profile),
              ...(profile.instructions === undefined ? {} : { instructions: profile.instructions }),
              ...(profile.greeting === undefined ? {} : { greeting: profile.greeting }),
            },
          ),
        ),
      transfer: async (target) => {
        const result = await dialog.refer(target.uri);
        return result.status >= 200 && result.status < 300
          ? { ok: true, callLeft: true, status: result.status, message: `REFER accepted: ${result.status}` }
          : { ok: false, callLeft: false, message: 'transfer failed and bridging is unavailable' };
      },
      timeline: recorder,
    });
    session = s;
    let ended = false;
    s.once('ended', () => {
      ended = true;
    });
    const ticker = setInterval(() => {
      leg.tick();
      if (leg.callerDone && callerHangsUp) dialog.remoteBye();
    }, PTIME_MS);
    s.start().catch(async (err: unknown) => {
      log.error({ err }, 'replay session failed');
      await s.end('error');
    });
    const callerMs = (rec.caller.length * 1000) / rec.sampleRateHz + (options.callerDelayMs ?? 0);
    await clock.run(() => ended, clock.now() + callerMs + GRACE_MS);
    if (!ended) {
      dialog.remoteBye();
      await clock.run(() => ended, clock.now() + 5000);
    }
    clearInterval(ticker);
    await recorder.close(s.endReason ?? 'caller-bye');
    decoders[0].close?.();
    decoders[1].close?.();
  } finally {
    clock.uninstall();
    if (session?.endReason === undefined) await session?.end('error');
  }
  const replayed = await loadRecording(recorder.path);
  const actual = outcomeOfRecording(replayed);
  const diff = compareOutcomes(expected, actual, options.compare);
  // A temporary recording of a replay that matched is of no use: remove it (one that differs is kept to look at).
  if (tempDir !== undefined && diff.length === 0) await rm(tempDir, { recursive: true, force: true });
  return {
    expected,
    actual,
    diff,
    replayRecording: tempDir !== undefined && diff.length === 0 ? '' : recorder.path,
  };
}
