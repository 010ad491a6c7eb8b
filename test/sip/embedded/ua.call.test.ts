import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import type { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import { SipError, type Dialog, type IncomingCall, type SipTransport } from '../../../src/sip/signaling.js';
import { sdp, startUa } from './helpers.js';

let uas: EmbeddedSignaling[] = [];
afterEach(async () => {
  await Promise.all(uas.map((u) => u.close()));
  uas = [];
});

async function pair(
  transports: SipTransport[] = ['udp', 'tcp'],
): Promise<[EmbeddedSignaling, EmbeddedSignaling]> {
  const server = await startUa(transports);
  const client = await startUa(transports);
  uas.push(server, client);
  return [server, client];
}

function nextCall(server: EmbeddedSignaling): Promise<IncomingCall> {
  return new Promise((resolve) => server.onInvite(resolve));
}

describe.each(['udp', 'tcp'] as const)('EmbeddedSignaling call over %s', (transport) => {
  it('dial → answer → ACK → BYE from the caller', async () => {
    const [server, client] = await pair();
    const incoming = nextCall(server);
    const provisional: number[] = [];
    const dialing = client.dial(`sip:agent@127.0.0.1:${server.port};transport=${transport}`, {
      sdpOffer: sdp(4000),
      from: 'sip:+15551234@127.0.0.1',
      onProvisional: (status) => provisional.push(status),
    });
    const call = await incoming;
    expect(call.to.user).toBe('agent');
    expect(call.from.user).toBe('+15551234');
    expect(call.source.transport).toBe(transport);
    expect(call.sdpOffer).toContain('m=audio 4000');
    await call.ring();
    const [inbound, outbound] = await Promise.all([call.answer(sdp(5000)), dialing]);
    expect(provisional).toContain(180);
    expect(outbound.remoteSdp).toContain('m=audio 5000');
    expect(inbound.remoteSdp).toContain('m=audio 4000');
    expect(inbound.direction).toBe('inbound');
    expect(outbound.id).toBe(inbound.id);

    const ended = once(inbound, 'ended');
    await outbound.hangup();
    expect(outbound.ended).toBe(true);
    expect((await ended)[0]).toEqual({ reason: 'remote-bye' });
    expect(server.stats.activeDialogs).toBe(0);
  });

  it('UAS hangs up, INFO and re-INVITE in both directions', async () => {
    const [server, client] = await pair();
    const incoming = nextCall(server);
    const dialing = client.dial(`sip:agent@127.0.0.1:${server.port};transport=${transport}`, {
      sdpOffer: sdp(4000),
    });
    const call = await incoming;
    const [inbound, outbound] = await Promise.all([call.answer(sdp(5000)), dialing]);

    const info = once(outbound, 'info');
    expect(await inbound.sendInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n')).toBe(200);
    expect((await info)[0]).toMatchObject({
      contentType: 'application/dtmf-relay',
      body: expect.stringContaining('Signal=5'),
    });

    inbound.once('modify', (req) => {
      expect(req.method).toBe('INVITE');
      expect(req.sdpOffer).toContain('m=audio 4002');
      req.accept(sdp(5002, 2));
    });
    expect(await outbound.modify(sdp(4002, 2))).toContain('m=audio 5002');
    expect(inbound.remoteSdp).toContain('m=audio 4002');

    // Nobody listens on the caller's side: the re-INVITE is answered with the current local SDP.
    expect(await inbound.modify(sdp(5004, 3))).toContain('m=audio 4002');

    inbound.once('modify', (req) => req.reject(488));
    await expect(outbound.modify(sdp(4006, 4))).rejects.toMatchObject({ status: 488 });

    const ended = once(outbound, 'ended');
    await inbound.hangup();
    expect((await ended)[0]).toEqual({ reason: 'remote-bye' });
  });

  it('CANCEL: aborting a ringing dial gives 487 and a cancel event', async () => {
    const [server, client] = await pair();
    const incoming = nextCall(server);
    const abort = new AbortController();
    const ringing = new Promise<void>((resolve) => {
      void client
        .dial(`sip:agent@127.0.0.1:${server.port};transport=${transport}`, {
          sdpOffer: sdp(4000),
          signal: abort.signal,
          onProvisional: () => resolve(),
        })
        .catch(() => undefined);
    });
    const call = await incoming;
    const cancelled = once(call, 'cancel');
    await call.ring();
    await ringing;
    abort.abort();
    await cancelled;
    expect(call.cancelled).toBe(true);
    await expect(call.answer(sdp(5000))).rejects.toBeInstanceOf(SipError);
  });

  it('rejects with the final status', async () => {
    const [server, client] = await pair();
    server.onInvite((call) => void call.reject(486));
    await expect(
      client.dial(`sip:agent@127.0.0.1:${server.port};transport=${transport}`, { sdpOffer: sdp(4000) }),
    ).rejects.toMatchObject({ status: 486 });
  });
});

describe('EmbeddedSignaling misc', () => {
  it('delayed offer: the ACK carries the answer', async () => {
    const [server, client] = await pair(['udp']);
    // Our UAC always offers, so drive the delayed offer by answering a bodyless INVITE from a raw peer.
    const { RawUdpPeer, rawInvite, isStatus } = await import('./helpers.js');
    const peer = await RawUdpPeer.open();
    try {
      server.onInvite((call) => {
        expect(call.sdpOffer).toBeUndefined();
        void call.answer(sdp(5000)).then((d: Dialog) => expect(d.remoteSdp).toContain('m=audio 6000'));
      });
      peer.send(rawInvite(peer.port, { callId: 'delayed-1', branch: 'z9hG4bKdelayed1' }), server.port);
      const ok = await peer.next(isStatus(200));
      expect(ok.body.toString()).toContain('m=audio 5000');
      const toHeader = ok.headers.get('To')!;
      const answer = sdp(6000);
      peer.send(
        `ACK sip:switchboard@127.0.0.1:${server.port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bKdelayedack\r\n` +
          `Max-Forwards: 70\r\nFrom: "Caller" <sip:+15551234@127.0.0.1:${peer.port}>;tag=abc\r\nTo: ${toHeader}\r\n` +
          `Call-ID: delayed-1\r\nCSeq: 1 ACK\r\nContent-Type: application/sdp\r\nContent-Length: ${answer.length}\r\n\r\n${answer}`,
        server.port,
      );
      await new Promise((r) => setTimeout(r, 200));
      expect(server.stats.activeDialogs).toBe(1);
    } finally {
      peer.close();
    }
    void client;
  });

  it('close() sends BYE to confirmed dialogs', async () => {
    const [server, client] = await pair(['udp']);
    const incoming = nextCall(server);
    const dialing = client.dial(`sip:agent@127.0.0.1:${server.port}`, { sdpOffer: sdp(4000) });
    const call = await incoming;
    const [inbound, outbound] = await Promise.all([call.answer(sdp(5000)), dialing]);
    const ended = once(outbound, 'ended');
    await server.close();
    expect(inbound.ended).toBe(true);
    expect((await ended)[0]).toEqual({ reason: 'remote-bye' });
  });
});
