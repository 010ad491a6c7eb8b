import { describe, expect, it } from 'vitest';
import { SipHeaders, type SipRequest, type SipResponse } from '../../../src/sip/embedded/message.js';
import {
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
} from '../../../src/sip/embedded/transaction.js';
import { FakeScheduler } from './fake-scheduler.js';

const timers = { t1Ms: 500, t2Ms: 4000, t4Ms: 5000 };

function request(method: string): SipRequest {
  const headers = new SipHeaders()
    .append('Via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc')
    .append('From', '<sip:a@b>;tag=1')
    .append('To', '<sip:c@d>')
    .append('Call-ID', 'x')
    .append('CSeq', `1 ${method}`);
  return { kind: 'request', method, uri: 'sip:c@d', headers, body: Buffer.alloc(0) };
}

function response(status: number, method = 'INVITE'): SipResponse {
  const headers = request(method).headers.clone().set('To', '<sip:c@d>;tag=2');
  return { kind: 'response', status, reason: 'x', headers, body: Buffer.alloc(0) };
}

function setup(reliable = false) {
  const scheduler = new FakeScheduler();
  const sent: Array<SipRequest | SipResponse> = [];
  const events: string[] = [];
  const base = {
    scheduler,
    timers,
    reliable,
    onTerminated: () => events.push('terminated'),
  };
  return { scheduler, sent, events, base };
}

/** A client transaction for `method` that records what it sends, and each response's status and timeouts. */
function client<T>(
  Transaction: new (
    request: SipRequest,
    options: ConstructorParameters<typeof InviteClientTransaction>[1],
  ) => T,
  method: string,
  reliable = false,
) {
  const f = setup(reliable);
  const tx = new Transaction(request(method), {
    ...f.base,
    send: (r) => f.sent.push(r),
    onResponse: (r) => f.events.push(String(r.status)),
    onTimeout: () => f.events.push('timeout'),
  });
  return { ...f, tx };
}

describe('INVITE server transaction (§17.2.1)', () => {
  it('replays the last provisional, retransmits a non-2xx with Timer G, absorbs the ACK', () => {
    const { scheduler, sent, events, base } = setup();
    const tx = new InviteServerTransaction(request('INVITE'), {
      ...base,
      send: (r) => sent.push(r),
      onAckTimeout: () => events.push('timeout'),
    });
    tx.respond(response(100));
    tx.receive(request('INVITE'));
    expect(sent.map((r) => (r as SipResponse).status)).toEqual([100, 100]);
    tx.respond(response(486));
    scheduler.advance(500 + 1000 + 2000);
    expect(sent.filter((r) => (r as SipResponse).status === 486)).toHaveLength(4);
    expect(tx.receive(request('ACK'))).toBe(true);
    expect(tx.state).toBe('confirmed');
    scheduler.advance(10_000);
    expect(sent.filter((r) => (r as SipResponse).status === 486)).toHaveLength(4);
    expect(events).toEqual(['terminated']);
  });

  it('gives up after Timer H (64*T1) without an ACK', () => {
    const { scheduler, sent, events, base } = setup();
    const tx = new InviteServerTransaction(request('INVITE'), {
      ...base,
      send: (r) => sent.push(r),
      onAckTimeout: () => events.push('timeout'),
    });
    tx.respond(response(480));
    scheduler.advance(64 * 500);
    expect(events).toEqual(['timeout', 'terminated']);
    expect(scheduler.pending).toBe(0);
  });

  it('moves to Accepted on 2xx and absorbs retransmitted INVITEs (RFC 6026)', () => {
    const { scheduler, sent, events, base } = setup();
    const tx = new InviteServerTransaction(request('INVITE'), { ...base, send: (r) => sent.push(r) });
    tx.respond(response(200));
    expect(tx.state).toBe('accepted');
    tx.receive(request('INVITE'));
    expect(sent).toHaveLength(1);
    expect(tx.receive(request('ACK'))).toBe(false); // the ACK for a 2xx belongs to the TU
    scheduler.advance(64 * 500);
    expect(events).toEqual(['terminated']);
  });

  it('does not retransmit over TCP', () => {
    const { scheduler, sent, base } = setup(true);
    const tx = new InviteServerTransaction(request('INVITE'), { ...base, send: (r) => sent.push(r) });
    tx.respond(response(486));
    scheduler.advance(10_000);
    expect(sent).toHaveLength(1);
  });
});

describe('non-INVITE server transaction (§17.2.2)', () => {
  it('replays the final response until Timer J', () => {
    const { scheduler, sent, events, base } = setup();
    const tx = new NonInviteServerTransaction(request('BYE'), { ...base, send: (r) => sent.push(r) });
    tx.respond(response(200, 'BYE'));
    tx.receive(request('BYE'));
    expect(sent).toHaveLength(2);
    scheduler.advance(64 * 500);
    expect(events).toEqual(['terminated']);
  });
});

describe('INVITE client transaction (§17.1.1)', () => {
  it('retransmits with Timer A and times out with Timer B', () => {
    const { scheduler, sent, events, tx } = client(InviteClientTransaction, 'INVITE');
    tx.start();
    scheduler.advance(500 + 1000 + 2000 + 4000);
    expect(sent).toHaveLength(5);
    scheduler.advance(64 * 500);
    expect(events).toEqual(['timeout', 'terminated']);
  });

  it('stops Timer B on a provisional: a callee ringing 40 s does not time out at 32 s (§17.1.1.2)', () => {
    const { scheduler, events, tx } = client(InviteClientTransaction, 'INVITE');
    tx.start();
    scheduler.advance(1000);
    tx.receive(response(180));
    scheduler.advance(39_000); // 40 s after the INVITE, well past 64*T1 = 32 s
    expect(events).toEqual(['180']);
    expect(tx.state).toBe('proceeding');
    tx.receive(response(200));
    expect(events).toEqual(['180', '200']);
    // Without any provisional, Timer B still fires at 64*T1.
    const quiet = client(InviteClientTransaction, 'INVITE');
    quiet.tx.start();
    quiet.scheduler.advance(64 * 500 - 1);
    expect(quiet.events).toEqual([]);
    quiet.scheduler.advance(1);
    expect(quiet.events).toEqual(['timeout', 'terminated']);
  });

  it('stops retransmitting on 1xx and ACKs a non-2xx with the same branch', () => {
    const { scheduler, sent, events, tx } = client(InviteClientTransaction, 'INVITE');
    tx.start();
    tx.receive(response(180));
    scheduler.advance(5000);
    expect(sent).toHaveLength(1);
    tx.receive(response(486));
    const ack = sent[1] as SipRequest;
    expect(ack.method).toBe('ACK');
    expect(ack.headers.get('Via')).toContain('branch=z9hG4bKabc');
    expect(ack.headers.get('To')).toContain('tag=2');
    expect(ack.headers.get('CSeq')).toBe('1 ACK');
    tx.receive(response(486)); // retransmitted final → ACK again, not passed up
    expect(sent).toHaveLength(3);
    expect(events).toEqual(['180', '486']);
    scheduler.advance(64 * 500);
    expect(events).toEqual(['180', '486', 'terminated']);
  });

  it('passes 2xx retransmissions to the TU in Accepted', () => {
    const { sent, events, tx } = client(InviteClientTransaction, 'INVITE');
    tx.start();
    tx.receive(response(200));
    tx.receive(response(200));
    expect(events).toEqual(['200', '200']);
    expect(sent).toHaveLength(1);
  });
});

describe('non-INVITE client transaction (§17.1.2)', () => {
  it('Timer E doubles to T2, Timer F times out', () => {
    const { scheduler, sent, events, tx } = client(NonInviteClientTransaction, 'BYE');
    tx.start();
    scheduler.advance(500 + 1000 + 2000 + 4000 + 4000);
    expect(sent).toHaveLength(6);
    scheduler.advance(64 * 500);
    expect(events).toEqual(['timeout', 'terminated']);
  });

  it('completes on a final response and terminates after Timer K', () => {
    const { scheduler, events, tx } = client(NonInviteClientTransaction, 'BYE');
    tx.start();
    tx.receive(response(200, 'BYE'));
    tx.receive(response(200, 'BYE'));
    scheduler.advance(5000);
    expect(events).toEqual(['200', 'terminated']);
  });
});
