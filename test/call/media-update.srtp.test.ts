/**
 * MediaUpdater and SRTP re-offers (RFC 4568 §7.1.4), against a recording fake leg and dialog, with keys
 * checked through real SrtpSessions: a re-offer repeating the key changes nothing (same answer, no re-key),
 * a new peer key re-keys the leg and packets under it decrypt, a plain re-offer of an SRTP call is a
 * downgrade (488, nothing changes), and an RTP/SAVP re-offer of a plain call is refused likewise.
 */
import { describe, expect, it } from 'vitest';
import type { MediaLeg } from '../../src/call/media-leg.js';
import { createCodec } from '../../src/media/codecs/index.js';
import { SrtpSession } from '../../src/media/rtp/srtp/session.js';
import { negotiateAnswer } from '../../src/sip/sdp.js';
import { SdesAnswerer, type SdesKeying } from '../../src/sip/sdp-crypto.js';
import type { Dialog } from '../../src/sip/signaling.js';
import { updaterRig } from '../support/media-updater.js';

const LOCAL = { address: '192.0.2.1', port: 40000 };

function offer(version: number, protocol: string, key?: Buffer): string {
  const crypto =
    key === undefined ? '' : `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key.toString('base64')}\n`;
  const sdp = `v=0\no=caller 77 ${version} IN IP4 198.51.100.2\ns=-\nc=IN IP4 198.51.100.2\nt=0 0\n`;
  return `${sdp}m=audio 6000 ${protocol} 0\na=rtpmap:0 PCMU/8000\n${crypto}a=sendrecv\n`.replace(
    /\n/g,
    '\r\n',
  );
}

const KEY_A = Buffer.alloc(30, 0x11);
const KEY_B = Buffer.alloc(30, 0x22);

function rig(first: string, policy: 'optional' | 'off') {
  const initial = negotiateAnswer(first, {
    ...LOCAL,
    sessionId: 5,
    sessionVersion: 1,
    security: new SdesAnswerer(policy),
  });
  if (!initial.ok) throw new Error('initial offer refused');
  const dialog = { localSdp: initial.answerSdp, remoteSdp: first, ended: false } as unknown as Dialog;
  const keyings: SdesKeying[] = [];
  const media = {
    codec: createCodec('PCMU', 0),
    ptimeMs: 20,
    updateRemote: () => undefined,
    setWireFormat: () => undefined,
    setSrtp: (k: SdesKeying | undefined) => {
      if (k !== undefined) keyings.push(k);
    },
  } as unknown as MediaLeg;
  const { updater, send } = updaterRig(dialog, media, initial, LOCAL);
  return { initial, send, keyings, updater };
}

describe('MediaUpdater: SRTP re-offers', () => {
  it('a re-offer repeating the key keeps our key; a new peer key re-keys and its packets decrypt', () => {
    const r = rig(offer(1, 'RTP/SAVP', KEY_A), 'optional');
    const first = r.initial.ok ? r.initial.srtp : undefined;
    if (first === undefined) throw new Error('no SRTP');
    const same = r.send(offer(2, 'RTP/SAVP', KEY_A));
    expect(same.status).toBe(200);
    const ourKey = Buffer.concat([first.local.key, first.local.salt]).toString('base64');
    expect(same.body).toContain(`inline:${ourKey}`);
    expect(r.keyings.at(-1)?.remote.key.equals(KEY_A.subarray(0, 16))).toBe(true);

    const rekey = r.send(offer(3, 'RTP/SAVP', KEY_B));
    expect(rekey.status).toBe(200);
    const now = r.keyings.at(-1)!;
    expect(now.remote.key.equals(KEY_B.subarray(0, 16))).toBe(true);
    expect(r.updater.current.srtp?.remote.key.equals(KEY_B.subarray(0, 16))).toBe(true);
    // What the peer now sends under KEY_B decrypts on a leg session re-keyed with `now`.
    const leg = new SrtpSession(first);
    leg.rekey(now, false, true);
    const peer = new SrtpSession({ suite: now.suite, local: now.remote, remote: now.local });
    const pkt = Buffer.alloc(12 + 160 + 16);
    pkt[0] = 0x80;
    pkt.writeUInt32BE(0xabc, 8);
    const n = peer.protectRtp(pkt, 172);
    expect(leg.unprotectRtp(pkt, n)).toBe(172);
  });

  it('refuses a plain re-offer of an SRTP call with 488 and changes nothing', () => {
    const r = rig(offer(1, 'RTP/SAVP', KEY_A), 'optional');
    const before = r.updater.current;
    expect(r.send(offer(2, 'RTP/AVP')).status).toBe(488);
    expect(r.updater.current).toBe(before);
    expect(r.keyings).toHaveLength(0);
  });

  it('refuses an RTP/SAVP re-offer of a plain call with 488', () => {
    const r = rig(offer(1, 'RTP/AVP'), 'optional');
    expect(r.send(offer(2, 'RTP/SAVP', KEY_A)).status).toBe(488);
    expect(r.send(offer(3, 'RTP/AVP')).status).toBe(200);
  });
});
