/**
 * What one call leaves behind (issue 16, DESIGN.md §2 "end ─► outcomes/"): a CallObserver that follows the
 * session from outside — its timeline, its events ('barge-in', 'tool.outcome', 'ended'), every agent it uses
 * and the leg's sent frames — and at the end builds the CDR and the transcript, stores both in the call
 * history and, when the call was recorded, writes transcript.json beside the recording.
 *
 * The call's clock starts at the answer (the session's start). Caller turns use the provider's speech
 * offsets (ms of caller audio it had received; the first agent hears the call from the answer, a
 * replacement from when it was attached), never later than the event's arrival; agent turns are timed by
 * the frames actually sent on RTP.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Agent, AudioFormat } from '../agent/agent.js';
import type { CallObserver, ObservedCall } from '../call/call-ports.js';
import { callQuality } from '../call/leg-rtcp.js';
import type { CallSession } from '../call/session.js';
import type { Logger } from '../observability/logger.js';
import type { CallHistory } from './call-history.js';
import {
  CDR_VERSION,
  type CallDetailRecord,
  type CallRecord,
  type CdrAgent,
  type CdrBargeIn,
  type CdrRtp,
  type CdrToolCall,
  type CdrTransfer,
} from './cdr.js';
import { estimateCost, type PriceTable, type UsageTotals } from './prices.js';
import { TranscriptBuilder, type TranscriptTurn } from './transcript.js';

export interface CallOutcomeDeps {
  readonly call: ObservedCall;
  /** The dialplan file that routed the call. */
  readonly route: string | null;
  readonly history?: CallHistory;
  readonly prices?: PriceTable;
  /** The call's recording folder when it is recorded: transcript.json goes there. */
  readonly recordingDir?: string;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Called with the stored record (after the history write, whether it succeeded or not). */
  readonly onRecord?: (record: CallRecord) => void;
}

interface Playback {
  readonly responseId: string;
  receivedMs: number;
  sentMs: number;
  ended: boolean;
}

type MutableUsage = { -readonly [K in keyof UsageTotals]: UsageTotals[K] };

function bytesPerMs(format: AudioFormat): number {
  return format.encoding === 'pcm16' ? (format.sampleRateHz * 2) / 1000 : 8;
}

export class CallOutcome implements CallObserver {
  readonly #d: CallOutcomeDeps;
  readonly #now: () => number;
  readonly #log: Logger;
  readonly #bytesPerMs: number;
  readonly #frameMs: number;
  #answeredAt: number;
  readonly #transcript = new TranscriptBuilder();
  readonly #agents: { agent: Agent; info: CdrAgent; usage: MutableUsage }[] = [];
  readonly #tools: CdrToolCall[] = [];
  readonly #transfers: CdrTransfer[] = [];
  readonly #bargeIns: CdrBargeIn[] = [];
  readonly #latencies: number[] = [];
  readonly #interrupted = new Set<string>();
  readonly #playback: Playback[] = [];
  #pendingTransfer: { target: string; method: string } | undefined;
  #speechEndedAt: number | undefined;
  #finished = false;
  readonly #onTick = (_caller: Buffer | undefined, sent: Buffer | undefined): void => {
    // Runs every frame: no allocation, only the head of the playback queue is touched.
    if (sent === undefined) return;
    const head = this.#playback[0];
    if (head === undefined) return;
    head.sentMs += this.#frameMs;
    this.#transcript.agentAudio(head.responseId, this.#t(), this.#frameMs);
    if (head.sentMs + this.#frameMs / 2 >= head.receivedMs && (head.ended || this.#playback.length > 1))
      this.#playback.shift();
  };

  /**
   * An error boundary for listeners: bookkeeping that throws is logged, never thrown into the adapter's or
   * the session's emit (which would break the call).
   */
  #safe<A extends unknown[]>(listener: (...args: A) => void): (...args: A) => void {
    return (...args: A) => {
      try {
        listener(...args);
      } catch (err) {
        this.#log.warn({ err }, 'call outcome bookkeeping failed');
      }
    };
  }

  constructor(deps: CallOutcomeDeps) {
    this.#d = deps;
    this.#now = deps.now ?? Date.now;
    this.#log = deps.logger;
    this.#answeredAt = this.#now();
    this.#bytesPerMs = bytesPerMs(deps.call.agentOutput);
    this.#frameMs = deps.call.media.ptimeMs;
    deps.call.media.on('tick', this.#onTick);
  }

  /** ms on the call's clock. */
  #t(): number {
    return this.#now() - this.#answeredAt;
  }

  /** The transcript so far (a live call's). */
  transcript(): TranscriptTurn[] {
    return this.#transcript.turns();
  }

  session(session: CallSession): void {
    this.#answeredAt = session.startedAt.getTime();
    session.on(
      'barge-in',
      this.#safe((d) => {
        if (d.action !== 'interrupted') return;
        this.#bargeIns.push({
          atMs: this.#t(),
          ...(d.playedMs === undefined ? {} : { heardMs: d.playedMs }),
          ...(d.flushedMs === undefined ? {} : { flushedMs: d.flushedMs }),
        });
        if (d.responseId !== undefined) {
          this.#interrupted.add(d.responseId);
          this.#transcript.agentInterrupted(d.responseId, d.playedMs ?? 0);
          // The rest of that reply was flushed: it will never be sent.
          for (let i = this.#playback.length - 1; i >= 0; i--)
            if (this.#playback[i]?.responseId === d.responseId) this.#playback.splice(i, 1);
        }
      }),
    );
    session.on(
      'tool.outcome',
      this.#safe((o) =>
        this.#tools.push({ name: o.name, ok: o.ok, args: o.args, result: o.result, atMs: this.#t() }),
      ),
    );
    session.once('ended', ({ reason }) => void this.#finish(reason));
  }

  event(kind: string, data: Record<string, unknown>): void {
    if (kind === 'transfer.start') {
      this.#pendingTransfer = { target: String(data.target), method: String(data.method) };
    } else if (kind === 'transfer.result') {
      const t = this.#pendingTransfer ?? { target: 'unknown', method: 'unknown' };
      this.#pendingTransfer = undefined;
      this.#transfers.push({
        ...t,
        ok: data.ok === true,
        ...(typeof data.via === 'string' ? { via: data.via } : {}),
        ...(typeof data.status === 'number' ? { status: data.status } : {}),
        ...(typeof data.message === 'string' ? { message: data.message } : {}),
        atMs: this.#t(),
      });
    }
  }

  agent(agent: Agent): void {
    // The first agent has the call (and hears it) from the answer; a replacement from now.
    const fromMs = this.#agents.length === 0 ? 0 : Math.max(0, this.#t());
    const baseMs = fromMs;
    const model = this.#d.call.profile.model ?? null;
    const usage: MutableUsage = {
      provider: agent.provider,
      model,
      inputTokens: 0,
      outputTokens: 0,
      inputAudioTokens: 0,
      outputAudioTokens: 0,
      reports: 0,
    };
    this.#agents.push({ agent, info: { provider: agent.provider, model, fromMs }, usage });
    const heard = (offsetMs: number | undefined): number => {
      const arrival = this.#t();
      return offsetMs === undefined ? arrival : Math.min(arrival, baseMs + offsetMs);
    };
    agent.on(
      'user.speech.started',
      this.#safe((e) => this.#transcript.callerSpeechStarted(heard(e.audioStartMs), e.itemId)),
    );
    agent.on(
      'user.speech.ended',
      this.#safe((e) => {
        this.#speechEndedAt = this.#t();
        this.#transcript.callerSpeechEnded(heard(e.audioEndMs), e.itemId);
      }),
    );
    agent.on(
      'user.transcript',
      this.#safe((e) => {
        if (e.final && e.text.trim() !== '') this.#transcript.callerText(e.text, this.#t(), e.itemId);
      }),
    );
    agent.on(
      'assistant.audio',
      this.#safe((e) => this.#audio(e.responseId, e.audio.length)),
    );
    agent.on(
      'assistant.turn.end',
      this.#safe((e) => {
        for (const p of this.#playback) if (p.responseId === e.responseId) p.ended = true;
      }),
    );
    agent.on(
      'assistant.text',
      this.#safe((e) => {
        if (!e.final || e.text.trim() === '') return;
        this.#transcript.agentText(e.responseId ?? `text-${this.#t()}`, e.text, this.#t());
      }),
    );
    agent.on(
      'usage',
      this.#safe((u) => {
        usage.inputTokens += u.inputTokens;
        usage.outputTokens += u.outputTokens;
        usage.inputAudioTokens += u.inputAudioTokens ?? 0;
        usage.outputAudioTokens += u.outputAudioTokens ?? 0;
        usage.reports++;
      }),
    );
  }

  #audio(responseId: string, bytes: number): void {
    // Late deltas of a reply the caller interrupted are dropped by the session, never played.
    if (this.#interrupted.has(responseId)) return;
    if (this.#speechEndedAt !== undefined) {
      this.#latencies.push(this.#t() - this.#speechEndedAt);
      this.#speechEndedAt = undefined;
    }
    const last = this.#playback[this.#playback.length - 1];
    const ms = bytes / this.#bytesPerMs;
    if (last !== undefined && last.responseId === responseId) last.receivedMs += ms;
    else this.#playback.push({ responseId, receivedMs: ms, sentMs: 0, ended: false });
  }

  async #finish(reason: string): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    const { call } = this.#d;
    call.media.off('tick', this.#onTick);
    const endedAt = this.#now();
    // The tool that ended the call (end_call) reports its outcome just after 'ended', in the same turn of
    // promises: the record waits one macrotask so its `tools` list that call too.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const record: CallRecord = { cdr: this.#cdr(reason, endedAt), transcript: this.#transcript.turns() };
    const dir = this.#d.recordingDir;
    if (dir !== undefined) {
      try {
        await mkdir(dir, { recursive: true, mode: 0o750 });
        await writeFile(join(dir, 'transcript.json'), JSON.stringify(record.transcript, null, 2), {
          mode: 0o640,
        });
      } catch (err) {
        this.#log.warn({ err }, 'could not write transcript.json');
      }
    }
    try {
      await this.#d.history?.put(record);
    } catch (err) {
      this.#log.warn({ err }, 'call history write failed');
    }
    this.#d.onRecord?.(record);
  }

  #cdr(reason: string, endedAt: number): CallDetailRecord {
    const { call } = this.#d;
    const durationMs = Math.max(0, endedAt - this.#answeredAt);
    const stats = call.media.stats();
    const quality = stats.rtcp === undefined ? undefined : callQuality(stats.rtcp);
    const rtp: CdrRtp = {
      packetsReceived: stats.packetsReceived,
      packetsSent: stats.packetsSent,
      lost: stats.lost,
      late: stats.late,
      ...(quality === undefined
        ? {}
        : {
            jitterMs: quality.jitterMs,
            lossFraction: quality.lossFraction,
            mos: quality.mos,
            ...(quality.rttMs === undefined ? {} : { rttMs: quality.rttMs }),
          }),
    };
    const usage = this.#usage(durationMs);
    const first = this.#agents[0]?.info;
    const prices = this.#d.prices;
    return {
      version: CDR_VERSION,
      id: call.id,
      tenant: call.tenant,
      route: this.#d.route,
      direction: call.direction,
      from: call.from,
      to: call.to,
      codec: call.codec,
      startedAt: new Date(call.invitedAtMs ?? this.#answeredAt).toISOString(),
      answeredAt: new Date(this.#answeredAt).toISOString(),
      endedAt: new Date(endedAt).toISOString(),
      durationMs,
      endReason: reason,
      provider: first?.provider ?? call.profile.provider,
      model: first?.model ?? call.profile.model ?? null,
      agents: this.#agents.map((a) => a.info),
      tools: this.#tools,
      transfers: this.#transfers,
      bargeIns: this.#bargeIns.length,
      bargeInEvents: this.#bargeIns,
      turnLatenciesMs: this.#latencies,
      rtp,
      usage: usage.totals,
      ...(prices === undefined ? {} : { cost: estimateCost(prices, usage.totals, usage.minutes) }),
      recorded: this.#d.recordingDir !== undefined,
    };
  }

  /** Usage summed per provider and model, with the minutes each had the call (for per-minute prices). */
  #usage(durationMs: number): { totals: UsageTotals[]; minutes: Map<UsageTotals, number> } {
    const byKey = new Map<string, MutableUsage>();
    const minutes = new Map<UsageTotals, number>();
    this.#agents.forEach((a, i) => {
      const key = `${a.usage.provider}\u0000${a.usage.model ?? ''}`;
      let sum = byKey.get(key);
      if (sum === undefined) {
        sum = {
          ...a.usage,
          inputTokens: 0,
          outputTokens: 0,
          inputAudioTokens: 0,
          outputAudioTokens: 0,
          reports: 0,
        };
        byKey.set(key, sum);
      }
      sum.inputTokens += a.usage.inputTokens;
      sum.outputTokens += a.usage.outputTokens;
      sum.inputAudioTokens += a.usage.inputAudioTokens;
      sum.outputAudioTokens += a.usage.outputAudioTokens;
      sum.reports += a.usage.reports;
      const untilMs = this.#agents[i + 1]?.info.fromMs ?? durationMs;
      minutes.set(sum, (minutes.get(sum) ?? 0) + Math.max(0, untilMs - a.info.fromMs) / 60_000);
    });
    return { totals: [...byKey.values()], minutes };
  }
}
