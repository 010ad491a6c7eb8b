/**
 * Early media on the call layer: EarlyMediaLeg (starts the leg on the first usable early SDP, keeps it for
 * the same answer, moves it for a different one, frees the port when the call does not happen) and
 * EarlyAudioBuffer (a bounded ring of the leg's frames, replayed oldest first). Recording fakes for the leg;
 * the end-to-end path with a real UAS is test/sip/prack/outbound-early-media.test.ts.
 */
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EarlyAudioBuffer } from '../../src/call/early-audio.js';
import { EarlyMediaLeg } from '../../src/call/early-media.js';
import type { MediaLeg, MediaLegEvents } from '../../src/call/media-leg.js';
import type { PendingMediaLeg } from '../../src/call/call-ports.js';
import { createOffer, type NegotiatedMedia } from '../../src/sip/sdp.js';

const logger = pino({ level: 'silent' });
const offer = createOffer({ address: '127.0.0.1', port: 40000 });

function answer(port: number, pt: 0 | 8 = 8): string {
  const name = pt === 8 ? 'PCMA' : 'PCMU';
  return `v=0\r\no=- 1 1 IN IP4 127.0.0.9\r\ns=-\r\nc=IN IP4 127.0.0.9\r\nt=0 0\r\nm=audio ${port} RTP/AVP ${pt}\r\na=rtpmap:${pt} ${name}/8000\r\n`;
}

class FakeLeg extends EventEmitter<MediaLegEvents> {
  readonly remotes: Array<{ address: string; port: number; hold: boolean }> = [];
  readonly formats: string[] = [];
  closed = 0;
  updateRemote(remote: { address: string; port: number }, hold: boolean): void {
    this.remotes.push({ ...remote, hold });
  }
  setWireFormat(codec: { name: string }): void {
    this.formats.push(codec.name);
  }
  close(): void {
    this.closed++;
  }
}

function pending(): { p: PendingMediaLeg; started: NegotiatedMedia[]; released: () => number; leg: FakeLeg } {
  const leg = new FakeLeg();
  const started: NegotiatedMedia[] = [];
  let released = 0;
  const p: PendingMediaLeg = {
    localPort: 40000,
    start: (media) => {
      started.push(media);
      return leg as unknown as MediaLeg;
    },
    release: () => void released++,
  };
  return { p, started, released: () => released, leg };
}

describe('EarlyMediaLeg', () => {
  it('starts the leg on the first early SDP and keeps it untouched for the same answer in the 200', () => {
    const { p, started, leg } = pending();
    const onStart: MediaLeg[] = [];
    const early = new EarlyMediaLeg({ pending: p, offer, logger, onStart: (l) => onStart.push(l) });
    early.onEarlySdp(answer(50000));
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({
      remote: { address: '127.0.0.9', port: 50000 },
      codec: { name: 'PCMA' },
    });
    expect(onStart).toHaveLength(1);
    const final = early.answer(answer(50000));
    expect(final).toMatchObject({ ok: true, leg });
    expect(leg.remotes).toEqual([]);
    expect(early.updates).toBe(0);
    expect(started).toHaveLength(1);
  });

  it('moves the running leg when the 200 changes the address, and switches the wire format for a new codec', () => {
    const { p, leg } = pending();
    const early = new EarlyMediaLeg({ pending: p, offer, logger });
    early.onEarlySdp(answer(50000));
    const final = early.answer(answer(50002, 0));
    expect(final.ok).toBe(true);
    expect(leg.remotes).toEqual([{ address: '127.0.0.9', port: 50002, hold: false }]);
    expect(leg.formats).toEqual(['PCMU']);
    expect(early.updates).toBe(1);
  });

  it('ignores unusable early SDP; without early media the 200 leaves the start to the caller', () => {
    const { p, started, released } = pending();
    const early = new EarlyMediaLeg({ pending: p, offer, logger });
    early.onEarlySdp('garbage');
    expect(started).toHaveLength(0);
    expect(early.answer(answer(50000))).toMatchObject({ ok: true, leg: undefined });
    expect(early.answer('v=0\r\n').ok).toBe(false);
    early.release();
    expect(released()).toBe(1);
  });

  it('release() closes a leg started by early media instead of returning the unused port', () => {
    const { p, released, leg } = pending();
    const early = new EarlyMediaLeg({ pending: p, offer, logger });
    early.onEarlySdp(answer(50000));
    early.release();
    expect(leg.closed).toBe(1);
    expect(released()).toBe(0);
  });
});

describe('EarlyAudioBuffer', () => {
  it('keeps the most recent frames in order, bounded, and replays them once', () => {
    const leg = new FakeLeg();
    const buffer = new EarlyAudioBuffer(3, 4);
    buffer.record(leg as unknown as MediaLeg);
    for (let i = 1; i <= 5; i++) leg.emit('frame', Buffer.from([i, i]));
    leg.emit('frame', Buffer.alloc(5)); // larger than a slot: counted, not kept
    expect(buffer.frames).toBe(3);
    expect(buffer.oversized).toBe(1);
    const out: number[][] = [];
    buffer.replay((f) => out.push([...f]));
    expect(out).toEqual([
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    // Replay stopped the recording and emptied the ring.
    leg.emit('frame', Buffer.from([9]));
    const again: number[][] = [];
    buffer.replay((f) => again.push([...f]));
    expect(again).toEqual([]);
    expect(leg.listenerCount('frame')).toBe(0);
  });
});
