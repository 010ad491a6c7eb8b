import {
  callerTransitions,
  type CallerTransition,
  type Recording,
  type TimelineEvent,
} from '../agent/providers/replay/index.js';

/**
 * What a call did, in terms that survive a replay: the tool calls (name, arguments, the caller turn they
 * followed), the ending, the barge-ins (by caller turn) and how much agent audio the caller heard in each
 * caller turn's span. Built the same way from the original recording and from the replay's recording.
 */
export interface CallOutcome {
  /** Caller turns (local VAD over the caller channel): onset ms of each. */
  readonly callerTurnsMs: readonly number[];
  readonly toolCalls: ReadonlyArray<{ readonly name: string; readonly args: string; readonly turn: number }>;
  readonly ending: string | undefined;
  /** Caller turn index of each barge-in that interrupted the agent. */
  readonly bargeIns: readonly number[];
  /**
   * Audible agent ms per span: index 0 is before the caller's first turn, index k+1 from the onset of
   * caller turn k to the onset of the next.
   */
  readonly agentAudioMs: readonly number[];
}

/** Agent frames louder than this count as audible speech. */
const AUDIBLE_DBFS = -45;
const FRAME_MS = 20;

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

function turnAt(turns: readonly number[], t: number): number {
  let k = -1;
  while (k + 1 < turns.length && turns[k + 1]! <= t) k++;
  return k;
}

function audibleMsPerSpan(agent: Int16Array, rate: number, turns: readonly number[]): number[] {
  const spans = new Array<number>(turns.length + 1).fill(0);
  const frame = Math.round((rate * FRAME_MS) / 1000);
  const threshold = 32768 * 32768 * 10 ** (AUDIBLE_DBFS / 10);
  for (let o = 0; o + frame <= agent.length; o += frame) {
    let sum = 0;
    for (let i = o; i < o + frame; i++) sum += agent[i]! * agent[i]!;
    if (sum / frame <= threshold) continue;
    const span = turnAt(turns, (o * 1000) / rate) + 1;
    spans[span] = (spans[span] ?? 0) + FRAME_MS;
  }
  return spans;
}

/** The outcome of a call from its two audio channels and (when the server side is known) its timeline. */
export function outcomeOf(input: {
  readonly sampleRateHz: number;
  readonly caller: Int16Array;
  readonly agent: Int16Array;
  readonly events?: readonly TimelineEvent[];
  readonly ending?: string | undefined;
}): CallOutcome {
  const transitions: CallerTransition[] = callerTransitions(input.caller, input.sampleRateHz);
  const turns = transitions.filter((t) => t.type === 'start').map((t) => t.atMs);
  const events = input.events ?? [];
  const toolCalls = events
    .filter((e) => e.kind === 'tool.call')
    .map((e) => ({ name: String(e.name), args: canonical(e.args ?? {}), turn: turnAt(turns, e.t) }));
  const bargeIns = events
    .filter((e) => e.kind === 'barge-in' && e.action === 'interrupted')
    .map((e) => turnAt(turns, e.t));
  const end = events.findLast((e) => e.kind === 'call.end');
  return {
    callerTurnsMs: turns,
    toolCalls,
    ending: input.ending ?? (typeof end?.reason === 'string' ? end.reason : undefined),
    bargeIns,
    agentAudioMs: audibleMsPerSpan(input.agent, input.sampleRateHz, turns),
  };
}

export function outcomeOfRecording(rec: Recording): CallOutcome {
  return outcomeOf({
    sampleRateHz: rec.sampleRateHz,
    caller: rec.caller,
    agent: rec.agent,
    events: rec.events,
    ending: rec.meta.endingReason ?? undefined,
  });
}

export interface CompareOptions {
  /** Allowed difference of audible agent audio per span: max(absMs, ratio × expected). */
  readonly audioToleranceMs?: number;
  readonly audioToleranceRatio?: number;
  /** The actual side has no server timeline (a remote server): skip tool calls and barge-ins. */
  readonly audioAndEndingOnly?: boolean;
}

/** Human-readable differences between the recorded call and its replay; empty when they match. */
export function compareOutcomes(
  expected: CallOutcome,
  actual: CallOutcome,
  options: CompareOptions = {},
): string[] {
  const diff: string[] = [];
  const fmtCall = (c: CallOutcome['toolCalls'][number]): string =>
    `${c.name}(${c.args}) after caller turn ${c.turn}`;
  if (!options.audioAndEndingOnly) {
    const n = Math.max(expected.toolCalls.length, actual.toolCalls.length);
    for (let i = 0; i < n; i++) {
      const e = expected.toolCalls[i];
      const a = actual.toolCalls[i];
      if (e !== undefined && a !== undefined && fmtCall(e) === fmtCall(a)) continue;
      diff.push(
        `tool call #${i + 1}: expected ${e === undefined ? 'none' : fmtCall(e)}, got ${a === undefined ? 'none' : fmtCall(a)}`,
      );
    }
    if (expected.bargeIns.join() !== actual.bargeIns.join())
      diff.push(
        `barge-ins: expected during caller turns [${expected.bargeIns.join(', ')}], got [${actual.bargeIns.join(', ')}]`,
      );
  }
  if (expected.ending !== actual.ending)
    diff.push(`ending: expected ${expected.ending ?? 'unknown'}, got ${actual.ending ?? 'unknown'}`);
  if (expected.callerTurnsMs.length !== actual.callerTurnsMs.length)
    diff.push(
      `caller turns: expected ${expected.callerTurnsMs.length}, got ${actual.callerTurnsMs.length} (the caller audio did not replay fully)`,
    );
  const abs = options.audioToleranceMs ?? 500;
  const ratio = options.audioToleranceRatio ?? 0.2;
  const spans = Math.max(expected.agentAudioMs.length, actual.agentAudioMs.length);
  for (let i = 0; i < spans; i++) {
    const e = expected.agentAudioMs[i] ?? 0;
    const a = actual.agentAudioMs[i] ?? 0;
    const tolerance = Math.max(abs, ratio * e);
    if (Math.abs(e - a) > tolerance) {
      const where = i === 0 ? 'before the caller first spoke' : `from caller turn ${i - 1}`;
      diff.push(
        `agent audio ${where}: expected ${e} ms, got ${a} ms (tolerance ±${Math.round(tolerance)} ms)`,
      );
    }
  }
  return diff;
}

export function formatOutcome(o: CallOutcome): string {
  return [
    `  caller turns at ms: [${o.callerTurnsMs.map((t) => Math.round(t)).join(', ')}]`,
    `  tool calls: ${o.toolCalls.length === 0 ? 'none' : o.toolCalls.map((c) => `${c.name}(${c.args})@turn ${c.turn}`).join(', ')}`,
    `  barge-ins during turns: [${o.bargeIns.join(', ')}]`,
    `  agent audio ms per span: [${o.agentAudioMs.join(', ')}]`,
    `  ending: ${o.ending ?? 'unknown'}`,
  ].join('\n');
}
