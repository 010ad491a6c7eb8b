/**
 * Line echo canceller for the call's uplink (issue 14): the caller's audio minus the echo of what we sent.
 *
 * The reference is exact: the PCM we sent on RTP, frame by frame, aligned with the uplink frame received at the
 * same tick, delayed by the estimated bulk delay (echo-delay.ts). The rest of the echo path (hybrid, handset,
 * what the estimate leaves) is modelled by a partitioned-block frequency-domain NLMS filter (echo-filter.ts),
 * with:
 * - double-talk detection (Geigel: the uplink peak above half the reference peak over the tail) that freezes
 *   adaptation for a hangover, so the caller's own speech never trains the filter away from the echo path;
 * - a divergence guard: a block whose output carries more energy than its input is replaced by the input and
 *   the filter is rolled back to the last good copy;
 * - a warm-up: for the first 2 s the far end talks (4 s while it has not converged, e.g. on a line without
 *   echo) the filter learns at twice the step, and the uplink is attenuated 30 dB unless double talk is
 *   detected (the echo is not cancelled yet: half duplex, briefly);
 * - a mild non-linear processor: while only the far end talks, the filter has converged and the output is
 *   well below the echo estimate (residual echo, not a caller), it is attenuated (smoothed gain);
 * - nothing at all when the reference has been silent for the whole tail (output = input, no FFTs).
 *
 * Latency: exactly N samples (8 ms); frames of any length are accepted. All buffers are allocated in the
 * constructor; process() allocates nothing.
 */
import { ReferenceAligner } from './echo-delay.js';
import { PartitionedEchoFilter } from './echo-filter.js';

export interface EchoCancellerOptions {
  readonly sampleRateHz: number;
  /** Echo tail the filter covers (bulk delay + dispersion), default 128 ms. */
  readonly tailMs?: number;
  /** NLMS step size (0 < mu ≤ 1), default 0.5. */
  readonly mu?: number;
  /** Longest bulk delay (round trip + jitter buffers) searched and compensated, default 400 ms. */
  readonly maxBulkDelayMs?: number;
  /** Residual echo attenuation of the non-linear processor, dB (0 disables it), default 12. */
  readonly nlpDb?: number;
}

export interface EchoCancellerStats {
  /** Blocks processed with the filter (reference active). */
  readonly activeBlocks: number;
  /** Blocks in which double talk was detected (adaptation frozen). */
  readonly doubleTalkBlocks: number;
  /** Blocks where the divergence guard passed the input through and rolled the filter back. */
  readonly divergenceResets: number;
  /** Echo return loss enhancement of the linear filter, smoothed, dB (input vs output energy, far end only). */
  readonly erleDb: number;
  /** Where the learned echo path peaks, ms after what we sent (bulk delay included); undefined before anything was learned. */
  readonly echoDelayMs: number | undefined;
  /** Delay applied to the reference before the filter (the estimated bulk delay less a margin), ms. */
  readonly bulkDelayMs: number;
  /** Times the filter started over because the bulk delay estimate moved. */
  readonly restarts: number;
}

const GEIGEL_THRESHOLD = 0.5;
const DOUBLE_TALK_HANGOVER_MS = 60;
/** Reference peaks below this (int16 units, ≈ −66 dBFS) count as silence. */
const SILENCE_PEAK = 16;
/** Far-end level (int16 rms, ≈ −40 dBFS) below which the step shrinks: a quiet reference must not train on noise. */
const REGULARISATION_LEVEL = 300;
/** Output energy per sample above which a block that grew counts as divergence (≈ −50 dBFS). */
const DIVERGENCE_FLOOR = 100 * 100;
/** The NLP acts on blocks whose output energy is below this fraction of the echo estimate's (−10 dB). */
const NLP_RESIDUAL_RATIO = 0.1;
/** Far-end talk time during which the filter learns at twice the step and the NLP bridges the gap. */
const WARMUP_MS = 2000;
/** Uplink attenuation while warming up (−30 dB): a −12 dB echo of −20 dBFS speech stays under any VAD. */
const WARMUP_FLOOR = 10 ** (-30 / 20);

export class EchoCanceller {
  readonly blockSize: number;
  readonly partitions: number;
  readonly latencySamples: number;
  readonly sampleRateHz: number;
  private readonly filter: PartitionedEchoFilter;
  private readonly mu: number;
  private readonly nlpFloor: number;
  /** Uplink gain while warming up (WARMUP_FLOOR; 1 with the NLP off). */
  private readonly warmupFloor: number;
  private readonly hangoverBlocks: number;
  /** Peak |reference| of each of the last P + 1 blocks (for Geigel and the silence check). */
  private readonly refPeaks: Float64Array;
  private peakHead = 0;
  private readonly estimate: Float64Array;
  private readonly error: Float64Array;
  // Sample FIFOs: capture and reference in (block-aligned), output out (prefilled with N zeros = the latency).
  private readonly inCapture: Float64Array;
  private readonly inRef: Float64Array;
  /** The reference as sent (before the bulk delay), for the double-talk check while no delay is known. */
  private readonly inRaw: Float64Array;
  /** Peak |raw reference| of each block over the longest delay searched plus the tail. */
  private readonly rawPeaks: Float64Array;
  private rawHead = 0;
  private inFill = 0;
  private readonly outRing: Int16Array;
  private outRead = 0;
  private outWrite = 0;
  private outCount = 0;
  private doubleTalkLeft = 0;
  private nlpGain = 1;
  private inEnergy = 0;
  private outEnergy = 0;
  private activeBlocks = 0;
  private doubleTalkBlocks = 0;
  private divergenceResets = 0;
  private goodAge = 0;
  private badBlocks = 0;
  private restarts = 0;
  private readonly aligner: ReferenceAligner;
  private readonly aligned: Int16Array;
  private readonly warmupBlocks: number;

  constructor(options: EchoCancellerOptions) {
    const rate = options.sampleRateHz;
    this.sampleRateHz = rate;
    if (!Number.isInteger(rate) || rate < 8000 || rate > 48000) {
      throw new RangeError(`echo canceller: unsupported sample rate ${rate}`);
    }
    const tailMs = options.tailMs ?? 128;
    if (!(tailMs >= 16 && tailMs <= 512))
      throw new RangeError(`echo canceller: tailMs ${tailMs} not in 16..512`);
    this.mu = options.mu ?? 0.5;
    if (!(this.mu > 0 && this.mu <= 1)) throw new RangeError(`echo canceller: mu ${this.mu} not in (0, 1]`);
    const nlpDb = options.nlpDb ?? 12;
    this.nlpFloor = 10 ** (-Math.max(0, nlpDb) / 20);
    this.warmupFloor = nlpDb > 0 ? WARMUP_FLOOR : 1;
    let n = 1;
    while (n < (rate * 8) / 1000) n <<= 1;
    this.blockSize = n;
    this.latencySamples = n;
    this.partitions = Math.max(1, Math.ceil((rate * tailMs) / 1000 / n));
    this.warmupBlocks = Math.ceil((rate * WARMUP_MS) / 1000 / n);
    this.hangoverBlocks = Math.ceil((rate * DOUBLE_TALK_HANGOVER_MS) / 1000 / n);
    this.filter = new PartitionedEchoFilter(n, this.partitions, REGULARISATION_LEVEL);
    this.refPeaks = new Float64Array(this.partitions + 1);
    const searched = (rate * ((options.maxBulkDelayMs ?? 400) + tailMs)) / 1000;
    this.rawPeaks = new Float64Array(Math.ceil(searched / n) + 1);
    this.estimate = new Float64Array(n);
    this.error = new Float64Array(n);
    this.inCapture = new Float64Array(n);
    this.inRef = new Float64Array(n);
    this.inRaw = new Float64Array(n);
    this.outRing = new Int16Array(Math.max(4 * n, 4 * Math.ceil(rate / 50)) + n);
    this.outWrite = n;
    // The filter's tail keeps a margin before the estimated onset (the estimate's resolution and jitter).
    this.aligner = new ReferenceAligner(rate, options.maxBulkDelayMs ?? 400, Math.min(32, tailMs / 4));
    this.aligned = new Int16Array(this.outRing.length);
    this.outCount = n;
  }

  /**
   * capture: the uplink frame; reference: what we sent on RTP at the same tick (same length; silence when
   * nothing was sent); out: the cleaned frame (same length, may be `capture` itself), delayed by N samples.
   */
  process(capture: Int16Array, reference: Int16Array | undefined, out: Int16Array): void {
    const len = capture.length;
    if (out.length < len || (reference !== undefined && reference.length < len)) {
      throw new RangeError('echo canceller: frame lengths differ');
    }
    if (len > this.outRing.length - 2 * this.blockSize) {
      throw new RangeError(`echo canceller: frame of ${len} samples is too long`);
    }
    const n = this.blockSize;
    const aligned = this.aligned.subarray(0, len);
    if (this.aligner.align(reference, capture, aligned)) this.restart();
    for (let i = 0; i < len; i++) {
      this.inCapture[this.inFill] = capture[i] as number;
      this.inRef[this.inFill] = aligned[i] as number;
      this.inRaw[this.inFill] = reference === undefined ? 0 : (reference[i] as number);
      this.inFill++;
      if (this.inFill === n) {
        this.block();
        this.inFill = 0;
      }
    }
    const ring = this.outRing;
    for (let i = 0; i < len; i++) {
      out[i] = ring[this.outRead] as number;
      this.outRead = this.outRead + 1 === ring.length ? 0 : this.outRead + 1;
    }
    this.outCount -= len;
  }

  stats(): EchoCancellerStats {
    return {
      echoDelayMs: this.echoDelayMs(),
      bulkDelayMs: (this.aligner.delaySamples * 1000) / this.sampleRateHz,
      restarts: this.restarts,
      activeBlocks: this.activeBlocks,
      doubleTalkBlocks: this.doubleTalkBlocks,
      divergenceResets: this.divergenceResets,
      erleDb: this.outEnergy > 0 ? 10 * Math.log10(this.inEnergy / this.outEnergy) : 0,
    };
  }

  private block(): void {
    const n = this.blockSize;
    const d = this.inCapture;
    const x = this.inRef;
    let refPeak = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.abs(x[i] as number);
      if (v > refPeak) refPeak = v;
    }
    let raw = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.abs(this.inRaw[i] as number);
      if (v > raw) raw = v;
    }
    this.rawHead = (this.rawHead + 1) % this.rawPeaks.length;
    this.rawPeaks[this.rawHead] = raw;
    this.peakHead = (this.peakHead + 1) % this.refPeaks.length;
    this.refPeaks[this.peakHead] = refPeak;
    let tailPeak = 0;
    for (let i = 0; i < this.refPeaks.length; i++) {
      if ((this.refPeaks[i] as number) > tailPeak) tailPeak = this.refPeaks[i] as number;
    }
    if (tailPeak < SILENCE_PEAK) {
      // Nothing we sent can be echoing: pass through (the filter's reference ring gets a silent block).
      this.filter.pushReference(undefined);
      for (let i = 0; i < n; i++) this.emit(d[i] as number);
      this.nlpGain = 1;
      return;
    }
    this.activeBlocks++;
    this.filter.pushReference(x);
    const yh = this.estimate;
    const err = this.error;
    this.filter.estimate(yh);
    // Error e = d − ŷ, energies, Geigel.
    let captureEnergy = 0;
    let errorEnergy = 0;
    let capturePeak = 0;
    let estimateEnergy = 0;
    for (let i = 0; i < n; i++) {
      const di = d[i] as number;
      const y = yh[i] as number;
      const e = di - y;
      err[i] = e;
      estimateEnergy += y * y;
      captureEnergy += di * di;
      errorEnergy += e * e;
      const a = Math.abs(di);
      if (a > capturePeak) capturePeak = a;
    }
    // Geigel against what can be echoing: the aligned tail, and — until a bulk delay is known, or while the
    // filter has not converged — anything sent within the searched delay (an echo from beyond the tail must
    // not pass for the caller).
    const converged = this.outEnergy * 8 < this.inEnergy;
    const against =
      converged && this.aligner.delaySamples > 0 ? tailPeak : Math.max(tailPeak, this.rawPeak());
    if (capturePeak > GEIGEL_THRESHOLD * against) this.doubleTalkLeft = this.hangoverBlocks;
    const doubleTalk = this.doubleTalkLeft > 0;
    if (doubleTalk) {
      this.doubleTalkLeft--;
      this.doubleTalkBlocks++;
    }
    if (errorEnergy > 4 * captureEnergy && errorEnergy > n * DIVERGENCE_FLOOR) {
      // The filter makes it worse: pass the input through (still attenuated while warming up: it carries the
      // echo); roll back to the last good filter if it persists.
      const warm = !doubleTalk && this.activeBlocks <= 2 * this.warmupBlocks ? this.warmupFloor : 1;
      this.emitGained(d, warm);
      if (++this.badBlocks >= 3) {
        this.filter.rollback();
        this.divergenceResets++;
        this.badBlocks = 0;
      }
      return;
    }
    this.badBlocks = 0;
    if (!doubleTalk) {
      this.inEnergy = 0.95 * this.inEnergy + 0.05 * captureEnergy;
      this.outEnergy = 0.95 * this.outEnergy + 0.05 * errorEnergy;
      this.filter.adapt(err, this.activeBlocks <= this.warmupBlocks ? Math.min(1, 2 * this.mu) : this.mu);
      if (++this.goodAge >= 4 && errorEnergy < captureEnergy) {
        this.filter.keep();
        this.goodAge = 0;
      }
    }
    // Non-linear processing: attenuate the residual while only the far end talks and the filter has converged.
    // Only what is clearly residual echo: the output well below the echo estimate (a caller speaking over the
    // agent, or a line without echo, never qualifies).
    // While the filter is still learning (the first WARMUP_MS the far end talks on a call) the echo is not
    // cancelled yet: the uplink is attenuated unless the caller talks over the agent (half duplex, briefly).
    const warmingUp = this.activeBlocks <= (converged ? this.warmupBlocks : 2 * this.warmupBlocks);
    const residual = errorEnergy < NLP_RESIDUAL_RATIO * estimateEnergy;
    const target = doubleTalk ? 1 : warmingUp ? this.warmupFloor : converged && residual ? this.nlpFloor : 1;
    this.emitGained(err, target);
  }

  /** Emits one block through the NLP's smoothed gain heading for `target`. */
  private emitGained(block: Float64Array, target: number): void {
    for (let i = 0; i < this.blockSize; i++) {
      this.nlpGain += (target - this.nlpGain) * (target < this.nlpGain ? 0.002 : 0.05);
      this.emit((block[i] as number) * this.nlpGain);
    }
  }

  private rawPeak(): number {
    let peak = 0;
    for (let i = 0; i < this.rawPeaks.length; i++)
      if ((this.rawPeaks[i] as number) > peak) peak = this.rawPeaks[i] as number;
    return peak;
  }

  /** The echo path moved (bulk delay): forget the filter and learn again, warm-up included. */
  private restart(): void {
    this.filter.reset();
    this.activeBlocks = 0;
    this.inEnergy = 0;
    this.outEnergy = 0;
    this.restarts++;
  }

  /** The learned impulse response's strongest tap, in ms after what we sent (not on the media path). */
  private echoDelayMs(): number | undefined {
    if (this.activeBlocks === 0) return undefined;
    const tap = this.filter.strongestTap();
    return tap < 0 ? undefined : ((tap + this.aligner.delaySamples) * 1000) / this.sampleRateHz;
  }

  private emit(sample: number): void {
    const v = sample > 32767 ? 32767 : sample < -32768 ? -32768 : Math.round(sample);
    this.outRing[this.outWrite] = v;
    this.outWrite = this.outWrite + 1 === this.outRing.length ? 0 : this.outWrite + 1;
    this.outCount++;
  }
}
