/**
 * Shared parts of the call-* end-to-end tests: fixtures, a softphone tick recorder that counts in media time
 * (ticks of 20 ms, RTP packets), and the barge-in scenario run against any provider mock.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { LiveCall } from '../../src/call/call-manager.js';
import type { MediaLeg } from '../../src/call/media-leg.js';
import { PromptPlayer } from '../../src/call/prompt.js';
import { rmsDbfs } from '../../src/media/dsp/level.js';
import { readWavFile } from '../../src/media/wav.js';
import { Softphone, type CallResult } from '../../src/softphone/softphone.js';
import type { MockProviderServer } from '../support/mock-provider.js';
import type { TestServer } from '../support/server.js';

export const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url));

/** A fixture as mono PCM16 at its own rate (agent-* files are 24 kHz, as the mocks expect). */
export function fixturePcm(name: string): Int16Array {
  return readWavFile(fixture(name)).samples;
}

export const silentTurn = { replyAudioPcm16: new Int16Array(0) };

/** A softphone on its own port range (helpers run in parallel on one machine). */
export async function startPhone(portMin: number): Promise<Softphone> {
  const phone = new Softphone({
    logger: pino({ level: 'silent' }),
    rtpPortMin: portMin,
    rtpPortMax: portMin + 99,
  });
  await phone.start();
  return phone;
}

/**
 * Softphone.close() was seen to hang (the SIP UDP socket's close callback never fired) when called right
 * after a local hang-up whose BYE was still in flight; waitCallsEnded() avoids that, and this bounds it.
 */
export async function closePhone(phone: Softphone, waitMs = 2000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    phone.close(),
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        console.warn(`[teardown] softphone close did not finish in ${waitMs} ms`);
        resolve();
      }, waitMs);
    }),
  ]);
  clearTimeout(timer);
}

/** The one live call on the server (polled: the server registers it just after the 200 OK). */
export async function liveCall(srv: TestServer, timeoutMs = 3000): Promise<LiveCall> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = srv.server.calls.liveCalls()[0];
    if (c !== undefined) return c;
    if (Date.now() > deadline) throw new Error('no live call on the server');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The softphone reports a local hang-up when its dialog ends, before its BYE has been answered: wait for
 * the server to see the call end, so teardown does not close the softphone's socket under the BYE.
 */
export async function waitCallsEnded(srv: TestServer, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (srv.server.calls.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Per softphone tick (20 ms of media time): RTP packets that arrived since the previous tick, and whether the
 * softphone sent a frame. Tick indices are the common clock for everything measured.
 */
export class TickRecorder {
  readonly arrivals: number[] = [];
  readonly sent: boolean[] = [];
  #lastPackets = 0;
  #leg: MediaLeg | undefined;
  readonly #onTick: Array<(tick: number) => void> = [];

  attach(leg: MediaLeg): void {
    this.#leg = leg;
    leg.on('tick', (_caller, sent) => {
      const packets = leg.stats().packetsReceived;
      this.arrivals.push(packets - this.#lastPackets);
      this.#lastPackets = packets;
      this.sent.push(sent !== undefined);
      const tick = this.arrivals.length - 1;
      for (const f of this.#onTick) f(tick);
    });
  }

  get leg(): MediaLeg {
    if (this.#leg === undefined) throw new Error('not attached');
    return this.#leg;
  }

  /** The index of the tick being processed now (or last processed). */
  get now(): number {
    return this.arrivals.length - 1;
  }

  onTick(f: (tick: number) => void): void {
    this.#onTick.push(f);
  }

  /** First tick ≥ from with an arriving packet, or -1. */
  firstArrival(from = 0): number {
    for (let i = from; i < this.arrivals.length; i++) if ((this.arrivals[i] ?? 0) > 0) return i;
    return -1;
  }

  /** Last tick with an arriving packet, or -1. */
  lastArrival(): number {
    for (let i = this.arrivals.length - 1; i >= 0; i--) if ((this.arrivals[i] ?? 0) > 0) return i;
    return -1;
  }

  packetsBetween(from: number, to: number): number {
    let n = 0;
    for (let i = Math.max(0, from); i <= to && i < this.arrivals.length; i++) n += this.arrivals[i] ?? 0;
    return n;
  }
}

export interface BargeInMeasurement {
  readonly result: CallResult;
  /** Tick of the first agent packet. */
  readonly replyStartTick: number;
  /** Tick the first interrupt frame was sent. */
  readonly interruptSentTick: number;
  /** Tick at which the server handled speech_started (flushed playout). */
  readonly bargeInTick: number;
  /** Last tick an agent packet arrived. */
  readonly lastAgentTick: number;
  /** Agent RTP packets received in all. */
  readonly agentPackets: number;
  /** The server's barge-in decision. */
  readonly playedMs: number | undefined;
  /** The provider's speech onset (ms of caller audio it had received), and its received ms at the flush. */
  readonly audioStartMs: number | undefined;
  readonly providerAudioMsAtBargeIn: number;
  readonly session: LiveCall['session'];
}

/**
 * The caller asks the billing question, the agent answers with the long reply, and ~3 s (150 frames) into
 * the reply the caller interrupts. Everything is counted in softphone ticks.
 */
export async function runBargeInCall(
  srv: TestServer,
  phone: Softphone,
  mock: MockProviderServer,
  interruptAfterFrames = 150,
): Promise<BargeInMeasurement> {
  const prompts = new PromptPlayer();
  const rec = new TickRecorder();
  let replyStartTick = -1;
  let interruptQueuedTick = -1;
  let interruptSentTick = -1;
  let bargeIn:
    | { tick: number; playedMs: number | undefined; audioStartMs: number | undefined; providerMs: number }
    | undefined;
  let hangup: (() => void) | undefined;

  rec.onTick((tick) => {
    if (replyStartTick < 0 && (rec.arrivals[tick] ?? 0) > 0) replyStartTick = tick;
    if (replyStartTick >= 0 && interruptQueuedTick < 0 && tick >= replyStartTick + interruptAfterFrames) {
      interruptQueuedTick = tick;
      for (const f of prompts.frames(fixture('caller-interrupt.wav'), rec.leg.codec, rec.leg.ptimeMs))
        rec.leg.playout.enqueue(f, 'interrupt', 'interrupt');
    }
    if (interruptQueuedTick >= 0 && interruptSentTick < 0 && tick > interruptQueuedTick && rec.sent[tick])
      interruptSentTick = tick;
    // End the call 4 s (media time) after the interrupt was sent: the agent's later turns are silent.
    if (interruptSentTick >= 0 && tick === interruptSentTick + 200) hangup?.();
  });

  const resultP = phone.call(srv.uri('100'), {
    durationMs: 60_000,
    onEstablished: (leg, dialog) => {
      rec.attach(leg);
      hangup = () => void dialog.hangup();
      for (const f of prompts.frames(fixture('caller-billing-question.wav'), leg.codec, leg.ptimeMs))
        leg.playout.enqueue(f, 'billing', 'billing');
    },
  });
  const { session } = await liveCall(srv);
  session.on('barge-in', (d) => {
    if (d.action !== 'interrupted' || bargeIn !== undefined) return;
    bargeIn = {
      tick: rec.now,
      playedMs: d.playedMs,
      audioStartMs: d.audioStartMs,
      providerMs: mock.audioReceivedMs(),
    };
  });
  const result = await resultP;
  await waitCallsEnded(srv);
  if (bargeIn === undefined) throw new Error('the server never handled a barge-in');
  return {
    result,
    replyStartTick,
    interruptSentTick,
    bargeInTick: bargeIn.tick,
    lastAgentTick: rec.lastArrival(),
    agentPackets: rec.packetsBetween(0, rec.arrivals.length),
    playedMs: bargeIn.playedMs,
    audioStartMs: bargeIn.audioStartMs,
    providerAudioMsAtBargeIn: bargeIn.providerMs,
    session,
  };
}

/** Energy of the softphone's recording between two ticks, in dBFS. */
export function recordingDbfs(result: CallResult, fromTick: number, toTick: number): number {
  const n = (result.sampleRateHz * 20) / 1000;
  return rmsDbfs(result.received, fromTick * n, toTick * n);
}

/** Prints a measured figure so the report can quote it (vitest shows stdout). */
export function report(label: string, figures: Record<string, unknown>): void {
  console.log(`[measure] ${label} ${JSON.stringify(figures)}`);
}
