/**
 * A small energy-based voice activity detector for local turn detection (the `echo` provider, and any
 * adapter whose provider has no server VAD). Mean-square energy per fixed frame, compared against a dBFS
 * threshold with hysteresis, plus minimum speech and silence durations so clicks do not start a turn and
 * the gaps between words do not end one.
 */

export interface VadTransition {
  readonly type: 'start' | 'end';
  /**
   * Media time in ms since the first sample processed. A start is backdated to the onset of the speech run
   * that triggered it; an end to the onset of the silence that confirmed it.
   */
  readonly atMs: number;
}

export interface EnergyVadOptions {
  readonly sampleRateHz: number;
  /** Frames louder than this (dB relative to full scale) count as speech. Default -40. */
  readonly thresholdDbfs?: number;
  /**
   * While speaking, a frame stays "speech" down to `thresholdDbfs - hysteresisDb`, so a level hovering
   * around the threshold does not flap. Default 6.
   */
  readonly hysteresisDb?: number;
  /** Speech must last this long before a start is reported. Default 100. */
  readonly minSpeechMs?: number;
  /** Silence must last this long before an end is reported. Default 500. */
  readonly minSilenceMs?: number;
  /** Analysis frame length. Default 20. */
  readonly frameMs?: number;
}

/** Full-scale mean square of a 16-bit signal, for dBFS. */
const FULL_SCALE_SQ = 32768 * 32768;

export class EnergyVad {
  readonly #frameSamples: number;
  readonly #frameMs: number;
  readonly #sampleRateHz: number;
  /** Mean-square thresholds (linear), precomputed so the per-frame path does no log10. */
  readonly #startThresholdMs2: number;
  readonly #stayThresholdMs2: number;
  readonly #minSpeechFrames: number;
  readonly #minSilenceFrames: number;
  /** Called synchronously for every transition, including several within one process() call. */
  onTransition: ((t: VadTransition) => void) | undefined;

  #speaking = false;
  /** Consecutive frames that argue for a state change (speech while idle, silence while speaking). */
  #runFrames = 0;
  /** Completed frames so far. */
  #frameIndex = 0;
  /** Samples accumulated into the current partial frame and their sum of squares. */
  #partialSamples = 0;
  #partialSumSq = 0;
  #totalSamples = 0;

  constructor(opts: EnergyVadOptions, onTransition?: (t: VadTransition) => void) {
    const frameMs = opts.frameMs ?? 20;
    if (!(opts.sampleRateHz > 0)) throw new RangeError('sampleRateHz must be positive');
    if (!(frameMs > 0)) throw new RangeError('frameMs must be positive');
    this.#sampleRateHz = opts.sampleRateHz;
    this.#frameMs = frameMs;
    this.#frameSamples = Math.max(1, Math.round((opts.sampleRateHz * frameMs) / 1000));
    const thresholdDbfs = opts.thresholdDbfs ?? -40;
    const hysteresisDb = Math.max(0, opts.hysteresisDb ?? 6);
    this.#startThresholdMs2 = FULL_SCALE_SQ * 10 ** (thresholdDbfs / 10);
    this.#stayThresholdMs2 = FULL_SCALE_SQ * 10 ** ((thresholdDbfs - hysteresisDb) / 10);
    this.#minSpeechFrames = Math.max(1, Math.ceil((opts.minSpeechMs ?? 100) / frameMs));
    this.#minSilenceFrames = Math.max(1, Math.ceil((opts.minSilenceMs ?? 500) / frameMs));
    this.onTransition = onTransition;
  }

  /** True between a reported start and the following end. */
  get speaking(): boolean {
    return this.#speaking;
  }

  /** Media time covered by every sample given to process(), including a trailing partial frame. */
  get processedMs(): number {
    return (this.#totalSamples * 1000) / this.#sampleRateHz;
  }

  /**
   * Feed PCM16 mono audio of any length; partial frames are carried over to the next call.
   * Returns the last transition completed within this chunk (every one goes to the callback).
   */
  process(pcm: Int16Array): VadTransition | undefined {
    let last: VadTransition | undefined;
    let sumSq = this.#partialSumSq;
    let count = this.#partialSamples;
    const frameSamples = this.#frameSamples;
    for (let i = 0; i < pcm.length; i++) {
      const s = pcm[i]!;
      sumSq += s * s;
      count++;
      if (count === frameSamples) {
        const t = this.#frame(sumSq / frameSamples);
        if (t !== undefined) last = t;
        sumSq = 0;
        count = 0;
      }
    }
    this.#partialSumSq = sumSq;
    this.#partialSamples = count;
    this.#totalSamples += pcm.length;
    return last;
  }

  /** Back to the initial state: not speaking, media time zero. */
  reset(): void {
    this.#speaking = false;
    this.#runFrames = 0;
    this.#frameIndex = 0;
    this.#partialSamples = 0;
    this.#partialSumSq = 0;
    this.#totalSamples = 0;
  }

  #frame(meanSq: number): VadTransition | undefined {
    const index = this.#frameIndex++;
    let transition: VadTransition | undefined;
    if (!this.#speaking) {
      if (meanSq > this.#startThresholdMs2) {
        this.#runFrames++;
        if (this.#runFrames >= this.#minSpeechFrames) {
          this.#speaking = true;
          transition = { type: 'start', atMs: (index - this.#runFrames + 1) * this.#frameMs };
          this.#runFrames = 0;
        }
      } else {
        this.#runFrames = 0;
      }
    } else if (meanSq <= this.#stayThresholdMs2) {
      this.#runFrames++;
      if (this.#runFrames >= this.#minSilenceFrames) {
        this.#speaking = false;
        transition = { type: 'end', atMs: (index - this.#runFrames + 1) * this.#frameMs };
        this.#runFrames = 0;
      }
    } else {
      this.#runFrames = 0;
    }
    if (transition !== undefined) this.onTransition?.(transition);
    return transition;
  }
}
