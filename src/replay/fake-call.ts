import { EventEmitter } from 'node:events';
import type { CallPlayout, MediaLeg, MediaLegEvents, MediaLegStats } from '../call/media-leg.js';
import type { Codec } from '../media/codecs/codec.js';
import { PlayoutStream } from '../media/playout.js';
import type { Dialog, DialogEvents, NameAddr, ReferResult } from '../sip/signaling.js';

/**
 * A MediaLeg without sockets for fast replays: `tick()` is called once per ptime by the replay's virtual
 * clock; it hands the next recorded caller frame to the call ('frame', as the jitter buffer would) and sends
 * one frame of the real PlayoutStream, reporting both on 'tick' exactly like RtpLeg does for the recorder.
 */
export class ReplayMediaLeg extends EventEmitter<MediaLegEvents> implements MediaLeg {
  readonly codec: Codec;
  readonly ptimeMs: number;
  readonly localPort = 0;
  readonly latched = true;
  readonly playout: CallPlayout & PlayoutStream;
  readonly #callerFrames: readonly Buffer[];
  /** Caller DTMF: the digit is reported (as RtpLeg reports an RFC 4733 event's end) at that frame's tick. */
  readonly #dtmf: ReadonlyArray<{ readonly frame: number; readonly digit: string }>;
  readonly #silence: Buffer;
  #index = 0;
  #sent: Buffer | undefined;
  #packetsSent = 0;
  #closed = false;

  constructor(
    codec: Codec,
    ptimeMs: number,
    callerFrames: readonly Buffer[],
    dtmf: ReadonlyArray<{ readonly frame: number; readonly digit: string }> = [],
  ) {
    super();
    this.codec = codec;
    this.ptimeMs = ptimeMs;
    this.#callerFrames = callerFrames;
    this.#dtmf = dtmf;
    const n = codec.frameSamples(ptimeMs);
    const silence = Buffer.alloc(n * 2);
    this.#silence = silence.subarray(0, codec.encode(new Int16Array(n), silence));
    this.playout = new PlayoutStream({
      sink: {
        send: (payload) => {
          // The playout queue owns `payload` only until send returns: keep a copy for 'tick'.
          this.#sent = Buffer.from(payload);
          this.#packetsSent++;
        },
      },
      frameSamples: n,
      ptimeMs,
      tickPeriodMs: ptimeMs,
    });
  }

  /** True once every recorded caller frame has been played. */
  get callerDone(): boolean {
    return this.#index >= this.#callerFrames.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  tick(): void {
    if (this.#closed) return;
    const caller = this.#callerFrames[this.#index] ?? this.#silence;
    const index = this.#index++;
    this.emit('frame', caller);
    for (const d of this.#dtmf) if (d.frame === index) this.emit('dtmf', { digit: d.digit, durationMs: 100 });
    this.#sent = undefined;
    this.playout.tick(index, 0);
    this.emit('tick', caller, this.#sent);
  }

  sendDtmf(): Promise<void> {
    return Promise.resolve();
  }

  updateRemote(): void {}

  stats(): MediaLegStats {
    return {
      packetsReceived: Math.min(this.#index, this.#callerFrames.length),
      packetsSent: this.#packetsSent,
      lost: 0,
      late: 0,
      malformed: 0,
      foreignDropped: 0,
    };
  }

  close(): void {
    this.#closed = true;
  }
}

const party = (user: string): NameAddr => ({
  uri: `sip:${user}@replay.invalid`,
  user,
  host: 'replay.invalid',
});

/** A Dialog with no network: BYE either way ends it; REFER answers what the recorded call's REFER got. */
export class ReplayDialog extends EventEmitter<DialogEvents> implements Dialog {
  readonly id = 'replay;from-tag=replay';
  readonly callId = 'replay';
  readonly direction = 'inbound' as const;
  readonly localSdp = '';
  readonly remoteSdp = '';
  readonly remote = party('caller');
  readonly local = party('replay');
  readonly refers: string[] = [];
  #ended = false;
  readonly #referResult: ReferResult;

  constructor(referResult: ReferResult = { status: 405, reason: 'Method Not Allowed' }) {
    super();
    this.#referResult = referResult;
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The caller hangs up. */
  remoteBye(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.emit('ended', { reason: 'remote-bye' });
  }

  hangup(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      this.emit('ended', { reason: 'local-bye' });
    }
    return Promise.resolve();
  }

  refer(target: string): Promise<ReferResult> {
    this.refers.push(target);
    return Promise.resolve(this.#referResult);
  }

  sendInfo(): Promise<number> {
    return Promise.resolve(200);
  }

  modify(): Promise<string> {
    return Promise.resolve('');
  }
}
