import { AgentError, type AgentOptions } from '../../agent.js';
import { BaseAgent } from '../../base-agent.js';
import { EnergyVad, type VadTransition } from '../../vad.js';
import { REPLAY_VAD } from './recording.js';
import { OPEN_ANCHOR, type ReplayScript, type ScriptStep } from './script.js';

/**
 * The `replay` provider: answers as the recorded provider did. Its own energy VAD (the same one the script
 * was anchored with) finds the caller's turns in the pushed audio; each recorded provider event (the
 * provider's own speech start/stop, audio deltas, transcripts, tool calls, turn ends) fires at its recorded
 * offset after the matching caller transition, so the replay follows the caller, not the wall clock. Tool results, text and interrupts are accepted and
 * remembered, not acted on: what the provider did next is already in the recording.
 */
export class ReplayAgent extends BaseAgent {
  readonly #load: () => Promise<ReplayScript> | ReplayScript;
  #script: ReplayScript | undefined;
  #vad: EnergyVad | undefined;
  #transitions = 0;
  #openFired = false;
  readonly #timers = new Set<NodeJS.Timeout>();
  #scratch = new Int16Array(0);
  /** What the call layer told the provider, for tests and diagnostics. */
  readonly received = {
    toolResults: [] as Array<{ callId: string; result: unknown }>,
    texts: [] as string[],
    interrupts: [] as Array<{ playedMs: number; itemId?: string }>,
  };

  constructor(options: AgentOptions, load: () => Promise<ReplayScript> | ReplayScript) {
    super('replay', options);
    if (options.inputFormat.encoding !== 'pcm16' || options.outputFormat.encoding !== 'pcm16')
      throw new AgentError('AGENT_FORMAT_UNSUPPORTED', 'replay takes and produces pcm16 only');
    this.#load = load;
  }

  async start(): Promise<void> {
    this.assertOpen();
    if (this.#script !== undefined) return;
    try {
      this.#script = await this.#load();
    } catch (err) {
      throw new AgentError('AGENT_CONNECT_FAILED', 'replay: cannot read the recording', { cause: err });
    }
    this.#vad = new EnergyVad({ sampleRateHz: this.options.inputFormat.sampleRateHz, ...REPLAY_VAD }, (t) =>
      this.#onTransition(t),
    );
    this.emit('session.open', { sessionId: 'replay' });
    if (this.options.greeting === undefined) this.#fireOpen();
  }

  greet(): Promise<void> {
    if (this.isClosed) return Promise.reject(new AgentError('AGENT_CLOSED', 'replay agent is closed'));
    this.#fireOpen();
    return Promise.resolve();
  }

  pushAudio(audio: Buffer | Int16Array): void {
    this.assertOpen();
    const vad = this.#vad;
    if (vad === undefined) return;
    if (audio instanceof Int16Array) {
      vad.process(audio);
      return;
    }
    const n = audio.length >> 1;
    if (this.#scratch.length < n) this.#scratch = new Int16Array(n);
    for (let i = 0; i < n; i++) this.#scratch[i] = audio.readInt16LE(i * 2);
    vad.process(this.#scratch.subarray(0, n));
  }

  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void> {
    this.received.interrupts.push({ ...heard });
    return Promise.resolve();
  }

  sendToolResult(callId: string, result: unknown): Promise<void> {
    this.received.toolResults.push({ callId, result });
    return Promise.resolve();
  }

  sendText(text: string): Promise<void> {
    this.received.texts.push(text);
    return Promise.resolve();
  }

  updateInstructions(): Promise<void> {
    return Promise.resolve();
  }

  protected doClose(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    return Promise.resolve();
  }

  #fireOpen(): void {
    if (this.#openFired) return;
    this.#openFired = true;
    this.#schedule(OPEN_ANCHOR);
  }

  #onTransition(t: VadTransition): void {
    const index = this.#transitions++;
    // A turn the recording does not have (different audio) has nothing anchored to it.
    const expected = this.#script?.transitions[index];
    if (expected !== undefined && expected.type !== t.type)
      this.log.warn({ index, expected: expected.type, got: t.type }, 'replay: caller turns diverged');
    this.#schedule(index);
  }

  #schedule(anchor: number): void {
    const script = this.#script;
    if (script === undefined || this.isClosed) return;
    for (const step of script.steps) {
      if (step.anchor !== anchor) continue;
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.#fire(step);
      }, step.offsetMs);
      this.#timers.add(timer);
    }
  }

  #fire(step: ScriptStep): void {
    if (this.isClosed) return;
    const e = step.event;
    switch (e.kind) {
      case 'audio': {
        const rate = this.options.outputFormat.sampleRateHz;
        const pcm = this.#script!.audio(e.responseId, e.offsetMs, e.audioMs, rate);
        const buf = Buffer.alloc(pcm.length * 2);
        for (let i = 0; i < pcm.length; i++) buf.writeInt16LE(pcm[i]!, i * 2);
        this.emit('assistant.audio', { audio: buf, itemId: e.itemId, responseId: e.responseId });
        return;
      }
      case 'text':
        this.emit('assistant.text', {
          text: e.text,
          final: e.final,
          ...(e.itemId === undefined ? {} : { itemId: e.itemId }),
          ...(e.responseId === undefined ? {} : { responseId: e.responseId }),
        });
        return;
      case 'user.speech.started':
        this.emit('user.speech.started', {
          ...(e.audioStartMs === undefined ? {} : { audioStartMs: e.audioStartMs }),
          ...(e.itemId === undefined ? {} : { itemId: e.itemId }),
        });
        return;
      case 'user.speech.ended':
        this.emit('user.speech.ended', {
          ...(e.audioEndMs === undefined ? {} : { audioEndMs: e.audioEndMs }),
          ...(e.itemId === undefined ? {} : { itemId: e.itemId }),
        });
        return;
      case 'user.transcript':
        this.emit('user.transcript', {
          text: e.text,
          final: true,
          ...(e.itemId === undefined ? {} : { itemId: e.itemId }),
        });
        return;
      case 'turn.end':
        this.emit('assistant.turn.end', { responseId: e.responseId, status: e.status });
        return;
      case 'tool.call':
        this.emit('tool.call', { callId: e.callId, name: e.name, args: { ...e.args } });
        return;
    }
  }
}
