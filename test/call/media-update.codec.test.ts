/**
 * MediaUpdater's codec choice for a re-offer (RFC 3264 §8.3.2), against a recording fake leg and dialog:
 * the codec in use stays while the offer lists it (in any order), an offer without it switches the wire to
 * the first offered codec the leg can take, a leg that cannot switch refuses such an offer with 488, and
 * a format the leg cannot build is refused with 488 before anything changes.
 */
import { describe, expect, it } from 'vitest';
import type { MediaLeg } from '../../src/call/media-leg.js';
import { createCodec } from '../../src/media/codecs/index.js';
import { negotiateAnswer, type NegotiatedCodec } from '../../src/sip/sdp.js';
import type { Dialog } from '../../src/sip/signaling.js';
import { updaterRig } from '../support/media-updater.js';

const LOCAL = { address: '192.0.2.1', port: 40000 };

function offer(version: number, formats: string, maps: string[]): string {
  return [
    'v=0',
    `o=caller 77 ${version} IN IP4 198.51.100.2`,
    's=-',
    'c=IN IP4 198.51.100.2',
    't=0 0',
    `m=audio 6000 RTP/AVP ${formats}`,
    ...maps,
    'a=ptime:20',
    'a=sendrecv',
    '',
  ].join('\r\n');
}
const PCMU_ONLY = offer(1, '0', ['a=rtpmap:0 PCMU/8000']);

function rig(options: { canSwitch: boolean; failSwitch?: boolean }) {
  const initial = negotiateAnswer(PCMU_ONLY, { ...LOCAL, sessionId: 5, sessionVersion: 1 });
  if (!initial.ok) throw new Error('initial offer refused');
  const dialog = { localSdp: initial.answerSdp, remoteSdp: PCMU_ONLY, ended: false } as unknown as Dialog;
  const switches: NegotiatedCodec[] = [];
  const remotes: Array<{ address: string; port: number }> = [];
  const media = {
    codec: createCodec('PCMU', 0),
    ptimeMs: 20,
    updateRemote: (remote: { address: string; port: number }) => remotes.push(remote),
    ...(options.canSwitch
      ? {
          setWireFormat: (codec: NegotiatedCodec) => {
            if (options.failSwitch === true) throw new Error('no such codec here');
            switches.push(codec);
          },
        }
      : {}),
  } as unknown as MediaLeg;
  const { updater, send } = updaterRig(dialog, media, initial, LOCAL);
  return { updater, send, switches, remotes };
}

describe('MediaUpdater: codec of a re-offer', () => {
  it('keeps PCMU while the offer still lists it, even after PCMA', () => {
    const r = rig({ canSwitch: true });
    const res = r.send(offer(2, '8 0', ['a=rtpmap:8 PCMA/8000', 'a=rtpmap:0 PCMU/8000']));
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^m=audio 40000 RTP\/AVP 0\r?$/m);
    expect(r.switches.map((c) => c.name)).toEqual(['PCMU']);
    expect(r.updater.current.codec.name).toBe('PCMU');
  });

  it('switches to the first offered codec the leg can take when the one in use is gone', () => {
    const r = rig({ canSwitch: true });
    const res = r.send(
      offer(2, '18 111 8', ['a=rtpmap:18 G729/8000', 'a=rtpmap:111 opus/48000/2', 'a=rtpmap:8 PCMA/8000']),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatch(/^m=audio 40000 RTP\/AVP 111\r?$/m);
    expect(r.switches.map((c) => [c.name, c.payloadType])).toEqual([['opus', 111]]);
    expect(r.updater.current.codec.name).toBe('opus');
  });

  it('refuses a codec change with 488 when the leg cannot switch, or cannot build the codec', () => {
    for (const r of [rig({ canSwitch: false }), rig({ canSwitch: true, failSwitch: true })]) {
      const res = r.send(offer(2, '8', ['a=rtpmap:8 PCMA/8000']));
      expect(res.status).toBe(488);
      expect(r.remotes).toEqual([]);
      expect(r.updater.current.codec.name).toBe('PCMU');
    }
  });
});
