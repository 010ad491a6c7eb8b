import { AgentError, type AgentOptions } from '../../agent.js';
import { BaseAgent } from '../../base-agent.js';
import { EnergyVad, type VadTransition } from '../../vad.js';

/** Injected nondeterminism (STYLE.md §8): how deferred work is scheduled. Default setImmediate. */
export interface EchoDeps {
  readonly schedule?: (fn: () => void) => void;
}

export interface EchoTuning {
  /** Longest utterance kept for playback; the rest of a longer turn is not echoed. Default 30000. */
  readonly maxUtteranceMs?: number;
  /** Size of each 'assistant.audio' chunk. Default 60. */
  readonly chunkMs?: number;
  /** Greeting beep length. Default 300. */
  readonly beepMs?: number;
}

const DTMF_NOTE = /caller pressed\s+([0-9*#a-d])/i;
/** VAD input is processed in pieces of at most this much, bounding the idle capture buffer. */
const MAX_PIECE_MS = 1000;

interface Reply {
  readonly responseId: string;
  readonly itemId: string;
  readonly audio: Int16Array;
  offset: number;
}

/**
 * The local `echo` provider: no network. An energy VAD finds the caller's turns in pushed audio; at the end
 * of each turn the utterance is played back as the reply, in chunks, faster than real time and
 * asynchronously, like a real provider. DTMF notes become end_call / transfer_call tool calls, so the whole
 * call path (barge-in, tools, playout) can be exercised without a provider account.
 */
export class EchoAgent extends BaseAgent {
  readonly #schedule: (fn: () => void) => void;
  readonly #sampleRateHz: number;
  readonly #vad: EnergyVad;
  readonly #maxUtteranceSamples: number;
  readonly #chunkSamples: number;
  readonly #beepMs: number;
  readonly #preRollSamples: number;
  readonly #maxPieceSamples: number;

  #started = false;
  #seq = 0;
  /** Recent audio: while idle the last pre-roll, while speaking everything since the onset (bounded). */
  #capture: Int16Array;
  #captureLen = 0;
  /** Absolute sample index (since the first pushed sample) of #capture[0]. */
  #captureStart = 0;
  /** Samples pushed since the start: media time in samples. */
  #totalSamples = 0;
  #utteranceStart = -1;
  #userItemId: string | undefined;
  #droppedUtteranceSamples = 0;
  #reply: Reply | undefined;

  constructor(options: AgentOptions, deps: EchoDeps = {}, tuning: EchoTuning = {}) {
    super('echo', options);
    const { inputFormat, outputFormat } = options;
    if (
      inputFormat.encoding !== 'pcm16' ||
      outputFormat.encoding !== 'pcm16' ||
      inputFormat.sampleRateHz !== outputFormat.sampleRateHz ||
      inputFormat.sampleRateHz === 48000
    ) {
      throw new AgentError(
        'AGENT_FORMAT_UNSUPPORTED',
        'echo needs pcm16 at 8000, 16000 or 24000 Hz with output equal to input',
      );
    }
    this.#schedule = deps.schedule ?? ((fn) => void setImmediate(fn));
    this.#sampleRateHz = inputFormat.sampleRateHz;
    const minSpeechMs = 100;
    const frameMs = 20;
    this.#vad = new EnergyVad(
      {
        sampleRateHz: this.#sampleRateHz,
        minSpeechMs,
        frameMs,
        minSilenceMs: options.vad?.silenceDurationMs ?? 500,
      },
      (t) => this.#onTransition(t),
    );
    this.#maxUtteranceSamples = this.#samples(tuning.maxUtteranceMs ?? 30_000);
    this.#chunkSamples = Math.max(1, this.#samples(tuning.chunkMs ?? 60));
    this.#beepMs = tuning.beepMs ?? 300;
    // A start is backdated by at most minSpeechMs plus one frame from the frame that confirms it.
    this.#preRollSamples = this.#samples(minSpeechMs + 2 * frameMs);
    this.#maxPieceSamples = this.#samples(MAX_PIECE_MS);
    this.#capture = new Int16Array(this.#preRollSamples + this.#maxPieceSamples);
  }

  start(): Promise<void> {
    return settle(() => {
      this.assertOpen();
      if (this.#started) return;
      this.#started = true;
      this.emit('session.open', { sessionId: `echo-${++this.#seq}` });
    });
  }

  greet(): Promise<void> {
    return settle(() => {
      this.assertOpen();
      const greeting = this.options.greeting;
      if (greeting === undefined || greeting === '') return;
      const reply = this.#newReply(beep(this.#sampleRateHz, this.#beepMs));
      this.emit('assistant.text', {
        text: greeting,
        final: true,
        itemId: reply.itemId,
        responseId: reply.responseId,
      });
      this.#play(reply);
    });
  }

  pushAudio(audio: Buffer | Int16Array): void {
    this.assertOpen();
    const pcm = audio instanceof Int16Array ? audio : toInt16(audio);
    for (let o = 0; o < pcm.length && !this.isClosed; o += this.#maxPieceSamples) {
      this.#ingest(pcm.subarray(o, Math.min(pcm.length, o + this.#maxPieceSamples)));
    }
  }

  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void> {
    return settle(() => {
      this.assertOpen();
      this.log.debug({ playedMs: heard.playedMs }, 'echo interrupt');
      this.#cancelReply();
    });
  }

  sendToolResult(callId: string, _result: unknown): Promise<void> {
    return settle(() => {
      this.assertOpen();
      this.log.debug({ callId }, 'echo ignores tool result');
    });
  }

  sendText(text: string): Promise<void> {
    return settle(() => {
      this.assertOpen();
      const digit = DTMF_NOTE.exec(text)?.[1];
      if (digit === undefined) {
        this.log.debug('echo ignores text');
        return;
      }
      const callId = `echo-call-${++this.#seq}`;
      if (digit === '#') {
        this.#defer(() =>
          this.emit('tool.call', { callId, name: 'end_call', args: { reason: 'caller pressed #' } }),
        );
      } else if (digit === '0') {
        this.#defer(() =>
          this.emit('tool.call', { callId, name: 'transfer_call', args: { destination: 'operator' } }),
        );
      } else {
        this.log.debug({ digit }, 'echo ignores digit');
      }
    });
  }

  updateInstructions(_text: string): Promise<void> {
    return settle(() => this.assertOpen());
  }

  protected override doClose(): Promise<void> {
    this.#reply = undefined;
    this.#capture = new Int16Array(0);
    this.#captureLen = 0;
    return Promise.resolve();
  }

  #ingest(piece: Int16Array): void {
    this.#append(piece);
    this.#totalSamples += piece.length;
    this.#vad.process(piece); // transitions arrive through #onTransition
    if (this.#vad.speaking) return;
    if (this.#captureEnd !== this.#totalSamples) {
      // A truncated turn left the capture behind media time: restart it, empty, at the present.
      this.#captureStart = this.#totalSamples;
      this.#captureLen = 0;
    } else {
      this.#trimTo(this.#captureEnd - this.#preRollSamples);
    }
  }

  #onTransition(t: VadTransition): void {
    const sample = Math.round((t.atMs * this.#sampleRateHz) / 1000);
    if (t.type === 'start') {
      this.#utteranceStart = sample;
      this.#trimTo(sample);
      const itemId = `echo-user-${++this.#seq}`;
      this.#userItemId = itemId;
      // Like a provider with server VAD and interrupt_response: the caller talking over a reply cancels it.
      this.#defer(() => this.emit('user.speech.started', { audioStartMs: t.atMs, itemId }));
      this.#cancelReply();
      return;
    }
    const from = Math.max(this.#utteranceStart, this.#captureStart);
    const to = Math.min(sample, this.#captureEnd);
    const utterance = this.#capture.slice(from - this.#captureStart, Math.max(from, to) - this.#captureStart);
    const itemId = this.#userItemId;
    this.#utteranceStart = -1;
    this.#userItemId = undefined;
    if (this.#droppedUtteranceSamples > 0) {
      this.log.warn(
        { droppedMs: (this.#droppedUtteranceSamples * 1000) / this.#sampleRateHz },
        'echo utterance truncated',
      );
      this.#droppedUtteranceSamples = 0;
    }
    this.#defer(() =>
      this.emit('user.speech.ended', { audioEndMs: t.atMs, ...(itemId === undefined ? {} : { itemId }) }),
    );
    if (utterance.length > 0) this.#play(this.#newReply(utterance));
  }

  get #captureEnd(): number {
    return this.#captureStart + this.#captureLen;
  }

  #append(piece: Int16Array): void {
    let n = piece.length;
    if (this.#vad.speaking && this.#utteranceStart >= 0) {
      // Bounded: audio past maxUtteranceMs of one turn is not kept (the capture simply stops growing).
      const room = Math.max(0, this.#utteranceStart + this.#maxUtteranceSamples - this.#captureEnd);
      if (n > room) {
        this.#droppedUtteranceSamples += n - room;
        n = room;
      }
    }
    if (n === 0) return;
    if (this.#captureLen + n > this.#capture.length) {
      const grown = new Int16Array(Math.max(this.#capture.length * 2, this.#captureLen + n));
      grown.set(this.#capture.subarray(0, this.#captureLen));
      this.#capture = grown;
    }
    this.#capture.set(piece.subarray(0, n), this.#captureLen);
    this.#captureLen += n;
  }

  /** Drop captured samples before absolute index `sample`. */
  #trimTo(sample: number): void {
    const drop = Math.min(this.#captureLen, sample - this.#captureStart);
    if (drop <= 0) return;
    this.#capture.copyWithin(0, drop, this.#captureLen);
    this.#captureLen -= drop;
    this.#captureStart += drop;
  }

  #newReply(audio: Int16Array): Reply {
    const n = ++this.#seq;
    return { responseId: `echo-resp-${n}`, itemId: `echo-item-${n}`, audio, offset: 0 };
  }

  #play(reply: Reply): void {
    this.#cancelReply();
    this.#reply = reply;
    const step = (): void => {
      if (this.isClosed || this.#reply !== reply) return;
      if (reply.offset >= reply.audio.length) {
        this.#reply = undefined;
        this.emit('assistant.turn.end', { responseId: reply.responseId, status: 'completed' });
        return;
      }
      const end = Math.min(reply.audio.length, reply.offset + this.#chunkSamples);
      const chunk = reply.audio.subarray(reply.offset, end);
      reply.offset = end;
      // A fresh Buffer per chunk: the listener owns it. Node is little-endian, as is pcm16 here.
      const audio = Buffer.from(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
      this.emit('assistant.audio', { audio, itemId: reply.itemId, responseId: reply.responseId });
      this.#schedule(step);
    };
    this.#schedule(step);
  }

  /** Stops the reply now; its 'cancelled' turn end follows asynchronously, as a provider's would. */
  #cancelReply(): void {
    const reply = this.#reply;
    if (reply === undefined) return;
    this.#reply = undefined;
    this.#defer(() => this.emit('assistant.turn.end', { responseId: reply.responseId, status: 'cancelled' }));
  }

  #defer(fn: () => void): void {
    this.#schedule(() => {
      if (!this.isClosed) fn();
    });
  }

  #samples(ms: number): number {
    return Math.round((ms * this.#sampleRateHz) / 1000);
  }
}

/** Runs synchronous work as a Promise, so a throw (AGENT_CLOSED) becomes a rejection. */
function settle(work: () => void): Promise<void> {
  try {
    work();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

function toInt16(buf: Buffer): Int16Array {
  const samples = buf.length >> 1;
  if (buf.byteOffset % 2 === 0) return new Int16Array(buf.buffer, buf.byteOffset, samples);
  const copy = new Int16Array(samples); // odd offset: Int16Array views must be 2-byte aligned
  for (let i = 0; i < samples; i++) copy[i] = buf.readInt16LE(i * 2);
  return copy;
}

/** A 440 Hz beep with 10 ms ramps so it does not click. */
function beep(sampleRateHz: number, durationMs: number): Int16Array {
  const n = Math.round((sampleRateHz * durationMs) / 1000);
  const ramp = Math.max(1, Math.round(sampleRateHz / 100));
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const gain = Math.min(1, i / ramp, (n - 1 - i) / ramp);
    out[i] = Math.round(Math.sin((2 * Math.PI * 440 * i) / sampleRateHz) * 0.25 * 32767 * gain);
  }
  return out;
}
