/**
 * Outbound playout of one call: a flushable queue of encoded frames, each tagged with the assistant item and
 * response it belongs to, emptied one frame per ptime by the shared {@link Ticker} (DESIGN.md §3 Media). A ptime other than the
 * tick's period (10, 30, 50 ms …) is mapped onto the ticks by {@link FrameClock}: timestamps advance by
 * exactly one frame per packet, packets leave within half a tick of their ideal time.
 *
 * It models playout explicitly (STYLE.md §3): it counts the ms of each item actually handed to RTP, so on
 * barge-in the call layer can truncate the provider's item at what the caller heard (DESIGN.md §4).
 *
 * RTP clock (RFC 3550 §5.1): the timestamp reflects the sampling instant, so it advances by `frameSamples`
 * every frame period whether or not a packet is sent; the sequence number increments only per packet sent.
 * Both start at random values. The marker bit flags the first packet of each talkspurt (RFC 3551 §4.1): the
 * first packet ever, the first after a period with nothing sent, and the first after a flush.
 */
import { EventEmitter } from 'node:events';
import { randomInt } from 'node:crypto';
import { FrameClock } from './frame-clock.js';
import type { TickSubscriber } from './ticker.js';

/**
 * Audio queued ahead of the clock, per call (issue 11): a provider that sends minutes of audio at once (or a
 * hostile one, 60 MB frames) must not grow memory without bound. A minute covers any real reply; beyond it
 * frames are refused and counted.
 */
export const MAX_QUEUED_AUDIO_MS = 60_000;

/** Writes one RTP packet (header + payload) to the wire. Must not keep `payload` after returning. */
export interface RtpSink {
  send(payload: Buffer, sequence: number, timestamp: number, marker: boolean): void;
}

export interface PlayoutStreamOptions {
  readonly sink: RtpSink;
  /** RTP timestamp increment per frame: 160 for 8 kHz at 20 ms, 960 for Opus (48 kHz clock) at 20 ms. */
  readonly frameSamples: number;
  /** Duration of one queued frame (the packet's ptime), any positive number of ms. Default 20. */
  readonly ptimeMs?: number;
  /** Period of the ticker driving this stream. Default 20. */
  readonly tickPeriodMs?: number;
  /**
   * Encoded silence (or comfort noise) sent when the queue is empty. Default: none — the agent leg sends no
   * packets during underruns (DESIGN.md §3), which the far end plays as silence.
   */
  readonly silenceFrame?: Buffer;
  /** Initial sequence number; random by default (RFC 3550 §5.1). */
  readonly initialSequence?: number;
  /** Initial timestamp; random by default (RFC 3550 §5.1). */
  readonly initialTimestamp?: number;
  /** Initial queue capacity in frames (the ring doubles when full). Default 256 (5 s at 20 ms). */
  readonly capacityFrames?: number;
  /** Most audio queued at once; further frames are refused (`overflowFrames`). Default {@link MAX_QUEUED_AUDIO_MS}. */
  readonly maxQueuedMs?: number;
}

/** One item's share of a flush. */
export interface FlushedItem {
  readonly itemId: string;
  readonly responseId: string;
  /** ms of this item sent on RTP so far (what the caller heard). */
  readonly sentMs: number;
  /** ms of this item thrown away by the flush. */
  readonly droppedMs: number;
}

export interface FlushResult {
  /** Items of the playout run (enqueued since the queue was last empty or flushed), in playout order. */
  readonly items: readonly FlushedItem[];
  readonly droppedFrames: number;
}

export interface PlayingItem {
  readonly itemId: string;
  readonly responseId: string;
  readonly sentMs: number;
}

export type ItemEndReason = 'completed' | 'flushed' | 'discarded';

export interface PlayoutEvents {
  /** The first frame of an item was sent (again, if it resumes after `itemFinished`). */
  itemStarted: [item: { readonly itemId: string; readonly responseId: string }];
  /**
   * The item that was playing stopped: a frame of another item was sent (`completed`), or its queued frames
   * were dropped by `flush` or `discardResponse`. Not emitted on an underrun: more audio may still arrive.
   */
  itemFinished: [item: PlayingItem & { readonly reason: ItemEndReason }];
  /** The queue became empty (last frame sent, or dropped). */
  drained: [];
  /** The first frame refused because `maxQueuedMs` was reached (emitted once per stream, so logged once). */
  overflow: [{ readonly queuedMs: number; readonly maxQueuedMs: number }];
}

export interface PlayoutStats {
  readonly packetsSent: number;
  readonly audioFramesSent: number;
  readonly silenceFramesSent: number;
  /** Frame periods with nothing to send (and no silence frame configured). */
  readonly idleFrames: number;
  /** Frame periods spent paused with audio queued (comfort silence or nothing sent instead). */
  readonly pausedFrames: number;
  readonly flushedFrames: number;
  /** Queued frames dropped by `discardResponse`/`blockResponse`. */
  readonly discardedFrames: number;
  /** Frames refused by `enqueue` because their response was blocked. */
  readonly blockedFrames: number;
  /** Frames refused by `enqueue` because `maxQueuedMs` of audio was already queued. */
  readonly overflowFrames: number;
  readonly queuedFrames: number;
}

/** Per-item bookkeeping; one object per assistant item, never per frame. */
interface ItemRecord {
  readonly itemId: string;
  readonly responseId: string;
  sentFrames: number;
  queuedFrames: number;
  started: boolean;
  /** The run in which this item was last listed (see `FlushResult.items`). */
  run: number;
}

const RTP_TIMESTAMP_MODULO = 0x1_0000_0000;
/** Items whose counters stay queryable by `sentMs(itemId)` after they finished. */
const ITEM_HISTORY = 16;
/** Blocked response ids remembered; cancelled responses stop sending within seconds. */
const BLOCKED_HISTORY = 32;

/**
 * One call's outbound queue, driven by `tick()` from the shared ticker. Zero allocation per tick in steady
 * state: frames live in a power-of-two ring (no `Array.shift`), items are tracked by reference.
 */
export class PlayoutStream extends EventEmitter<PlayoutEvents> implements TickSubscriber {
  /** Duration of one frame. */
  readonly ptimeMs: number;
  /** RTP timestamp increment per frame. */
  readonly frameSamples: number;
  readonly #sink: RtpSink;
  readonly #clock: FrameClock;
  readonly #maxQueuedFrames: number;
  readonly #maxQueuedMs: number;
  readonly #silence: Buffer | undefined;

  #frames: Array<Buffer | undefined>;
  #owners: Array<ItemRecord | undefined>;
  #mask: number;
  #head = 0;
  #count = 0;

  #sequence: number;
  /**
   * Kept as a signed int32 (`| 0` wraps modulo 2^32 exactly): V8 stores it as a small integer, whereas a
   * uint32 above 2^31 is a heap number and cost one allocation per packet. Unsigned only at the sink.
   */
  #timestamp: number;
  /** Frame slot of the last tick handled; -1 before the first. */
  #lastSlot = -1;
  #marker = true;
  /** Paused (issue 14): the clock runs, queued frames wait, nothing of them is sent. */
  #paused = false;

  readonly #items = new Map<string, ItemRecord>();
  #lastEnqueued: ItemRecord | undefined;
  #current: ItemRecord | undefined;
  readonly #runItems: ItemRecord[] = [];
  #run = 1;
  readonly #blocked = new Set<string>();
  #drainWaiters: Array<() => void> = [];

  readonly #stats = {
    packetsSent: 0,
    audioFramesSent: 0,
    silenceFramesSent: 0,
    idleFrames: 0,
    pausedFrames: 0,
    flushedFrames: 0,
    discardedFrames: 0,
    blockedFrames: 0,
    overflowFrames: 0,
  };

  constructor(options: PlayoutStreamOptions) {
    super();
    const ptimeMs = options.ptimeMs ?? 20;
    const tickPeriodMs = options.tickPeriodMs ?? 20;
    if (!Number.isInteger(options.frameSamples) || options.frameSamples <= 0) {
      throw new RangeError('frameSamples must be a positive integer');
    }
    this.ptimeMs = ptimeMs;
    this.frameSamples = options.frameSamples;
    this.#clock = new FrameClock(ptimeMs, tickPeriodMs);
    this.#maxQueuedMs = options.maxQueuedMs ?? MAX_QUEUED_AUDIO_MS;
    this.#maxQueuedFrames = Math.max(1, Math.floor(this.#maxQueuedMs / ptimeMs));
    this.#sink = options.sink;
    this.#silence = options.silenceFrame;
    this.#sequence = (options.initialSequence ?? randomInt(0, 0x1_0000)) & 0xffff;
    this.#timestamp = (options.initialTimestamp ?? randomInt(0, RTP_TIMESTAMP_MODULO)) | 0;
    let capacity = 16;
    while (capacity < (options.capacityFrames ?? 256)) capacity *= 2;
    this.#frames = new Array<Buffer | undefined>(capacity).fill(undefined);
    this.#owners = new Array<ItemRecord | undefined>(capacity).fill(undefined);
    this.#mask = capacity - 1;
  }

  /** ms of audio waiting to be sent. */
  get queuedMs(): number {
    return this.#count * this.ptimeMs;
  }

  /** The item whose frame was sent last, with its total ms sent (barge-in's `playedMs`). */
  get currentItem(): PlayingItem | undefined {
    const c = this.#current;
    return c === undefined
      ? undefined
      : { itemId: c.itemId, responseId: c.responseId, sentMs: this.#ms(c.sentFrames) };
  }

  /** ms of `itemId` sent on RTP so far (0 if unknown; the last 16 items are remembered). */
  sentMs(itemId: string): number {
    const rec = this.#items.get(itemId);
    return rec === undefined ? 0 : this.#ms(rec.sentFrames);
  }

  /** True between `pause()` and `resume()` (or a flush). */
  get paused(): boolean {
    return this.#paused;
  }

  /**
   * A candidate interruption (issue 14): stop sending queued audio but keep it. Each period while paused
   * sends the silence frame (comfort noise) if one is configured, else nothing. `currentItem.sentMs` keeps
   * counting only what was sent, so a later flush truncates at what the caller heard.
   */
  pause(): void {
    this.#paused = true;
  }

  /** Continues with the very frame that was next when `pause()` came: nothing skipped, nothing repeated. */
  resume(): void {
    this.#paused = false;
  }

  /** Frames that still fit under `maxQueuedMs`. */
  get roomFrames(): number {
    return this.#maxQueuedFrames - this.#count;
  }

  /**
   * Queues one encoded frame of exactly one ptime. Ownership of `frame` passes to the stream until it is sent.
   * Frames of a blocked response, and frames beyond `maxQueuedMs`, are dropped and counted. Returns whether
   * the frame was queued.
   */
  enqueue(frame: Buffer, itemId: string, responseId: string): boolean {
    if (this.#blocked.has(responseId)) {
      this.#stats.blockedFrames++;
      return false;
    }
    if (this.#count >= this.#maxQueuedFrames) {
      this.refuse(1);
      return false;
    }
    let rec = this.#lastEnqueued;
    if (rec === undefined || rec.itemId !== itemId || rec.responseId !== responseId) {
      rec = this.#record(itemId, responseId);
      this.#lastEnqueued = rec;
    }
    if (this.#count === 0) this.#newRunIfIdle();
    if (rec.run !== this.#run) {
      rec.run = this.#run;
      this.#runItems.push(rec);
    }
    if (this.#count === this.#frames.length) this.#grow();
    const tail = (this.#head + this.#count) & this.#mask;
    this.#frames[tail] = frame;
    this.#owners[tail] = rec;
    this.#count++;
    rec.queuedFrames++;
    return true;
  }

  /**
   * Counts `frames` dropped because the queue had no room: by `enqueue`, or by a producer that checked
   * `roomFrames` and dropped audio before encoding it. The first one emits 'overflow'.
   */
  refuse(frames: number): void {
    if (!(frames > 0)) return;
    const first = this.#stats.overflowFrames === 0;
    this.#stats.overflowFrames += frames;
    if (first && this.listenerCount('overflow') > 0) {
      this.emit('overflow', { queuedMs: this.queuedMs, maxQueuedMs: this.#maxQueuedMs });
    }
  }

  /** Called by the ticker once per period: sends the frames due on this tick (see {@link FrameClock}). */
  tick(tickIndex: number, _lateMs: number): void {
    const clock = this.#clock;
    if (clock.advance(tickIndex) === 0) return;
    for (let slot = clock.start; slot < clock.end; slot++) this.playSlot(slot);
  }

  /**
   * Sends the frame of media slot `slot` (one ptime each; callers with their own {@link FrameClock}, like
   * the RTP leg, drive the stream slot by slot). Slots only increase; a jump is a gap in the media clock.
   */
  playSlot(slot: number): void {
    if (slot <= this.#lastSlot) return;
    if (this.#lastSlot >= 0) {
      const elapsed = slot - this.#lastSlot;
      // RFC 3550 §5.1: time advances even for periods without a packet (silence, skipped ticks, hold).
      this.#timestamp = (this.#timestamp + elapsed * this.frameSamples) | 0;
      // Periods that were never ticked (skipped or not subscribed) are a gap: the next packet starts a talkspurt.
      if (elapsed > 1) this.#marker = true;
    }
    this.#lastSlot = slot;

    if (this.#count > 0 && !this.#paused) {
      const head = this.#head;
      const frame = this.#frames[head]!;
      const rec = this.#owners[head]!;
      this.#frames[head] = undefined;
      this.#owners[head] = undefined;
      this.#head = (head + 1) & this.#mask;
      this.#count--;
      rec.queuedFrames--;
      rec.sentFrames++;
      if (rec !== this.#current || !rec.started) this.#begin(rec);
      this.#send(frame);
      this.#stats.audioFramesSent++;
      if (this.#count === 0) this.#drained();
    } else if (this.#silence !== undefined) {
      if (this.#count > 0) this.#stats.pausedFrames++;
      this.#send(this.#silence);
      this.#stats.silenceFramesSent++;
    } else if (this.#count > 0) {
      // Paused: the resumed audio is a new talkspurt (RFC 3551 §4.1).
      this.#marker = true;
      this.#stats.pausedFrames++;
    } else {
      // RFC 3551 §4.1: nothing sent this period, so the next packet begins a new talkspurt.
      this.#marker = true;
      this.#stats.idleFrames++;
    }
  }

  /**
   * Barge-in: empties the queue at once and reports, per item of the current run, the ms actually sent and
   * the ms dropped. The next packet starts a new talkspurt; timestamps keep following the clock. A paused
   * stream is resumed: what is enqueued after the flush is a new reply and plays.
   */
  flush(): FlushResult {
    this.#paused = false;
    const droppedFrames = this.#count;
    const items: FlushedItem[] = [];
    for (const rec of this.#runItems) {
      items.push({
        itemId: rec.itemId,
        responseId: rec.responseId,
        sentMs: this.#ms(rec.sentFrames),
        droppedMs: this.#ms(rec.queuedFrames),
      });
      rec.queuedFrames = 0;
    }
    this.#clearSlots(0, droppedFrames);
    this.#head = 0;
    this.#count = 0;
    this.#runItems.length = 0;
    this.#run++;
    this.#stats.flushedFrames += droppedFrames;
    this.#marker = true;
    const current = this.#current;
    if (current !== undefined && droppedFrames > 0) this.#finish(current, 'flushed');
    if (droppedFrames > 0) this.#drained();
    return { items, droppedFrames };
  }

  /** Drops the queued frames of one response (order of the others kept). Returns the frames dropped. */
  discardResponse(responseId: string): number {
    let kept = 0;
    const n = this.#count;
    const mask = this.#mask;
    let currentHit = false;
    for (let r = 0; r < n; r++) {
      const from = (this.#head + r) & mask;
      const rec = this.#owners[from]!;
      if (rec.responseId === responseId) {
        rec.queuedFrames--;
        if (rec === this.#current) currentHit = true;
        continue;
      }
      const to = (this.#head + kept) & mask;
      this.#frames[to] = this.#frames[from];
      this.#owners[to] = rec;
      kept++;
    }
    this.#clearSlots(kept, n);
    const dropped = n - kept;
    if (dropped === 0) return 0;
    this.#count = kept;
    this.#stats.discardedFrames += dropped;
    // The audio jumps: let the far end re-sync its playout point (RFC 3551 §4.1).
    this.#marker = true;
    if (currentHit && this.#current !== undefined) this.#finish(this.#current, 'discarded');
    if (kept === 0) this.#drained();
    return dropped;
  }

  /** Drops queued frames of `responseId` and every frame enqueued for it later (late deltas of a cancelled reply). */
  blockResponse(responseId: string): void {
    if (!this.#blocked.has(responseId)) {
      this.#blocked.add(responseId);
      if (this.#blocked.size > BLOCKED_HISTORY) {
        const oldest = this.#blocked.values().next().value;
        if (oldest !== undefined) this.#blocked.delete(oldest);
      }
    }
    this.discardResponse(responseId);
  }

  /** Whether frames of `responseId` are being refused. */
  isBlocked(responseId: string): boolean {
    return this.#blocked.has(responseId);
  }

  /** Calls `callback` each time the queue becomes empty. Returns an unsubscribe function. */
  onDrained(callback: () => void): () => void {
    this.on('drained', callback);
    return () => {
      this.off('drained', callback);
    };
  }

  /** Resolves when nothing is queued: at once if already empty, else when the last frame is sent or dropped. */
  whenDrained(): Promise<void> {
    if (this.#count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  stats(): PlayoutStats {
    return { ...this.#stats, queuedFrames: this.#count };
  }

  #send(payload: Buffer): void {
    const marker = this.#marker;
    this.#marker = false;
    const sequence = this.#sequence;
    // RFC 3550 §5.1: 16-bit sequence, wraps; incremented per packet sent only.
    this.#sequence = (sequence + 1) & 0xffff;
    this.#stats.packetsSent++;
    this.#sink.send(payload, sequence, this.#timestamp >>> 0, marker);
  }

  #ms(frames: number): number {
    return frames * this.ptimeMs;
  }

  #record(itemId: string, responseId: string): ItemRecord {
    const known = this.#items.get(itemId);
    if (known !== undefined && known.responseId === responseId) return known;
    const rec: ItemRecord = { itemId, responseId, sentFrames: 0, queuedFrames: 0, started: false, run: 0 };
    this.#items.delete(itemId);
    this.#items.set(itemId, rec);
    if (this.#items.size > ITEM_HISTORY) this.#evictOldItem();
    return rec;
  }

  #evictOldItem(): void {
    for (const [id, rec] of this.#items) {
      // Never forget an item still queued or playing: flush must report it.
      if (rec.queuedFrames === 0 && rec !== this.#current && rec !== this.#lastEnqueued) {
        this.#items.delete(id);
        return;
      }
    }
  }

  /** A frame arriving into an empty queue after a drain starts a new run (items listed by the next flush). */
  #newRunIfIdle(): void {
    if (this.#runItems.length === 0) return;
    this.#runItems.length = 0;
    this.#run++;
  }

  #begin(rec: ItemRecord): void {
    const previous = this.#current;
    this.#current = rec;
    if (previous !== undefined && previous !== rec) this.#finish(previous, 'completed');
    if (!rec.started) {
      rec.started = true;
      // Build the event only when someone listens: 1,000 calls start an item every few seconds.
      if (this.listenerCount('itemStarted') > 0) {
        this.emit('itemStarted', { itemId: rec.itemId, responseId: rec.responseId });
      }
    }
  }

  #finish(rec: ItemRecord, reason: ItemEndReason): void {
    if (!rec.started) return;
    // Reported once per stretch of playout; if more of it plays later, it starts again.
    rec.started = false;
    if (this.listenerCount('itemFinished') === 0) return;
    this.emit('itemFinished', {
      itemId: rec.itemId,
      responseId: rec.responseId,
      sentMs: this.#ms(rec.sentFrames),
      reason,
    });
  }

  #drained(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length > 0) {
      this.#drainWaiters = [];
      for (const resolve of waiters) resolve();
    }
    this.emit('drained');
  }

  /** Releases the references in queue positions [from, to) so dropped frames can be collected. */
  #clearSlots(from: number, to: number): void {
    for (let r = from; r < to; r++) {
      const i = (this.#head + r) & this.#mask;
      this.#frames[i] = undefined;
      this.#owners[i] = undefined;
    }
  }

  #grow(): void {
    // Amortised: the ring doubles only when a reply arrives faster than real time beyond its capacity.
    const capacity = this.#frames.length * 2;
    const frames = new Array<Buffer | undefined>(capacity).fill(undefined);
    const owners = new Array<ItemRecord | undefined>(capacity).fill(undefined);
    for (let r = 0; r < this.#count; r++) {
      const i = (this.#head + r) & this.#mask;
      frames[r] = this.#frames[i];
      owners[r] = this.#owners[i];
    }
    this.#frames = frames;
    this.#owners = owners;
    this.#head = 0;
    this.#mask = capacity - 1;
  }
}
