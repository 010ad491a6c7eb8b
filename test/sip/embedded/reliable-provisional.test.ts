/**
 * RFC 3262 UAS state machine (reliable-provisional.ts) and the PRACK answer (uas-prack.ts) on a fake clock:
 * RSeq/Require on the wire, T1-doubling retransmissions, 64*T1 give-up, RAck matching, one provisional at a
 * time, and the offer/answer rules for a PRACK body.
 */
import { describe, expect, it } from 'vitest';
import { SipHeaders, type SipRequest, type SipResponse } from '../../../src/sip/embedded/message.js';
import {
  ReliableProvisionals,
  lists100rel,
  parseRAck,
  parseRSeq,
} from '../../../src/sip/embedded/reliable-provisional.js';
import { answerPrack } from '../../../src/sip/embedded/uas-prack.js';
import { FakeScheduler } from './fake-scheduler.js';

const T1 = 500;

function provisional(status: number, body = ''): SipResponse {
  return {
    kind: 'response',
    status,
    reason: 'Ringing',
    headers: new SipHeaders().append('CSeq', '7 INVITE'),
    body: Buffer.from(body),
  };
}

function prack(rack: string, body = '', contentType = 'application/sdp'): SipRequest {
  const headers = new SipHeaders().append('CSeq', '8 PRACK').append('RAck', rack);
  if (body !== '') headers.append('Content-Type', contentType);
  return { kind: 'request', method: 'PRACK', uri: 'sip:x@127.0.0.1', headers, body: Buffer.from(body) };
}

function machine(): {
  clock: FakeScheduler;
  sent: SipResponse[];
  gaveUp: () => number;
  rel: ReliableProvisionals;
} {
  const clock = new FakeScheduler();
  const sent: SipResponse[] = [];
  let gaveUp = 0;
  const rel = new ReliableProvisionals({
    scheduler: clock,
    t1Ms: T1,
    inviteSeq: 7,
    send: (r) => sent.push(r),
    onGiveUp: () => gaveUp++,
    initialRSeq: 41,
  });
  return { clock, sent, gaveUp: () => gaveUp, rel };
}

describe('RFC 3262 header grammar', () => {
  it('parses RAck and RSeq, refusing out-of-range and malformed values', () => {
    expect(parseRAck('41 7 INVITE')).toEqual({ rseq: 41, cseq: 7, method: 'INVITE' });
    expect(parseRAck(' 41  7 invite ')).toEqual({ rseq: 41, cseq: 7, method: 'INVITE' });
    expect(parseRAck('0 7 INVITE')).toBeUndefined();
    expect(parseRAck('41 INVITE')).toBeUndefined();
    expect(parseRAck('4294967296 1 INVITE')).toBeUndefined();
    expect(parseRAck(undefined)).toBeUndefined();
    expect(parseRSeq('4294967295')).toBe(4294967295);
    expect(parseRSeq('x')).toBeUndefined();
    expect(parseRSeq('0')).toBeUndefined();
  });

  it('finds 100rel in any Require/Supported instance, as a whole token', () => {
    const h = new SipHeaders().append('Supported', 'timer').append('Supported', ' 100REL ');
    expect(lists100rel(h, 'Supported')).toBe(true);
    expect(lists100rel(h, 'Require')).toBe(false);
    expect(lists100rel(new SipHeaders().append('Require', 'x-100rel'), 'Require')).toBe(false);
  });
});

describe('ReliableProvisionals (UAS)', () => {
  it('adds RSeq and Require: 100rel, retransmits at T1 doubling until the PRACK', () => {
    const { clock, sent, rel } = machine();
    rel.send(provisional(180));
    expect(sent).toHaveLength(1);
    expect(sent[0]!.headers.get('RSeq')).toBe('41');
    expect(sent[0]!.headers.get('Require')).toBe('100rel');
    const at: number[] = [];
    for (let i = 0; i < 8; i++) {
      const n = sent.length;
      clock.advance(250);
      if (sent.length > n) at.push(clock.nowMs);
    }
    // 0.5 s, 1.5 s (+1 s): the intervals double.
    expect(at).toEqual([500, 1500]);
    expect(rel.match({ rseq: 41, cseq: 7, method: 'INVITE' })).toBe(sent[0]);
    expect(rel.acknowledge({ rseq: 41, cseq: 7, method: 'INVITE' })).toBe(true);
    const n = sent.length;
    clock.advance(64 * T1);
    expect(sent.length).toBe(n);
    expect(clock.pending).toBe(0);
  });

  it('gives up after 64*T1 without a PRACK: 7 transmissions, onGiveUp once, waiters rejected with 504', async () => {
    const { clock, sent, gaveUp, rel } = machine();
    rel.send(provisional(180));
    const waiting = rel.whenAcknowledged();
    clock.advance(64 * T1 - 1);
    expect(gaveUp()).toBe(0);
    clock.advance(1);
    expect(gaveUp()).toBe(1);
    // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
    expect(sent).toHaveLength(7);
    expect(rel.retransmissions).toBe(6);
    await expect(waiting).rejects.toMatchObject({ status: 504 });
    clock.advance(100 * T1);
    expect(sent).toHaveLength(7);
    expect(gaveUp()).toBe(1);
  });

  it('matches RSeq, CSeq number and method; a wrong RAck changes nothing', () => {
    const { rel } = machine();
    rel.send(provisional(180));
    expect(rel.match({ rseq: 40, cseq: 7, method: 'INVITE' })).toBeUndefined();
    expect(rel.match({ rseq: 41, cseq: 6, method: 'INVITE' })).toBeUndefined();
    expect(rel.match({ rseq: 41, cseq: 7, method: 'BYE' })).toBeUndefined();
    expect(rel.acknowledge({ rseq: 42, cseq: 7, method: 'INVITE' })).toBe(false);
    expect(rel.pending).toBe(true);
  });

  it('holds a second provisional until the first is acknowledged, with the next RSeq', async () => {
    const { sent, rel } = machine();
    rel.send(provisional(180));
    rel.send(provisional(183, 'v=0\r\n'));
    expect(sent.map((r) => r.status)).toEqual([180]);
    let done = false;
    const waiting = rel.whenAcknowledged().then(() => (done = true));
    rel.acknowledge({ rseq: 41, cseq: 7, method: 'INVITE' });
    expect(sent.map((r) => r.status)).toEqual([180, 183]);
    expect(sent[1]!.headers.get('RSeq')).toBe('42');
    await Promise.resolve();
    expect(done).toBe(false);
    // A second PRACK for the first RSeq is no longer for an unacknowledged response.
    expect(rel.acknowledge({ rseq: 41, cseq: 7, method: 'INVITE' })).toBe(false);
    rel.acknowledge({ rseq: 42, cseq: 7, method: 'INVITE' });
    await waiting;
    expect(done).toBe(true);
  });

  it('close() (a final response went out) stops every timer and rejects waiters', async () => {
    const { clock, sent, rel } = machine();
    rel.send(provisional(180));
    const waiting = rel.whenAcknowledged();
    rel.close(487, 'cancelled');
    await expect(waiting).rejects.toMatchObject({ status: 487 });
    clock.advance(64 * T1);
    expect(sent).toHaveLength(1);
    expect(clock.pending).toBe(0);
    rel.send(provisional(183));
    expect(sent).toHaveLength(1);
  });
});

describe('answerPrack', () => {
  it('200 for the outstanding RSeq, 481 for any other, 400 without a RAck', () => {
    const { rel } = machine();
    rel.send(provisional(180));
    expect(answerPrack(rel, prack('40 7 INVITE'), false).status).toBe(481);
    expect(answerPrack(undefined, prack('41 7 INVITE'), false).status).toBe(481);
    expect(answerPrack(rel, prack('garbage'), false).status).toBe(400);
    expect(rel.pending).toBe(true);
    expect(answerPrack(rel, prack('41 7 INVITE'), false)).toEqual({ status: 200, options: {} });
    expect(rel.pending).toBe(false);
    // The same RSeq again (a new PRACK, not a retransmission the transaction absorbs): 481 (§3).
    expect(answerPrack(rel, prack('41 7 INVITE'), false).status).toBe(481);
  });

  it('takes a PRACK body as the answer to the offer our provisional carried (delayed offer)', () => {
    const { rel } = machine();
    rel.send(provisional(183, 'v=0\r\no=offer\r\n'));
    const a = answerPrack(rel, prack('41 7 INVITE', 'v=0\r\no=answer\r\n'), true);
    expect(a).toMatchObject({ status: 200, sdpAnswer: 'v=0\r\no=answer\r\n' });
  });

  it('refuses a new offer in a PRACK with 488 and leaves the provisional unacknowledged', () => {
    const { rel } = machine();
    rel.send(provisional(180));
    const a = answerPrack(rel, prack('41 7 INVITE', 'v=0\r\n'), false);
    expect(a.status).toBe(488);
    expect(a.options.headers?.Warning).toMatch(/PRACK/);
    expect(rel.pending).toBe(true);
    expect(answerPrack(rel, prack('41 7 INVITE', 'hello', 'text/plain'), false).status).toBe(415);
    expect(answerPrack(rel, prack('41 7 INVITE'), false).status).toBe(200);
  });
});
