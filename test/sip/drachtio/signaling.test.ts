import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { DrachtioSignaling } from '../../../src/sip/drachtio/index.js';
import { SipError, type Dialog } from '../../../src/sip/signaling.js';
import type { FakeDialog } from './fake-api.js';
import { FakeApi, FakeRequest, FakeResponse, inDialogRequest } from './fake-api.js';
import { started } from './helpers.js';

const OFFER =
  'v=0\r\no=- 1 1 IN IP4 198.51.100.2\r\ns=-\r\nc=IN IP4 198.51.100.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n';
const ANSWER =
  'v=0\r\no=switchboard 9 1 IN IP4 192.0.2.1\r\ns=switchboard\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n';

function invite(overrides: Record<string, string> = {}, body: string | undefined = OFFER): FakeRequest {
  return new FakeRequest(
    {
      From: '"Alice" <sip:+15551230000@198.51.100.2>;tag=rtag',
      To: '<sip:agent@192.0.2.1>',
      'Call-ID': 'call-1@198.51.100.2',
      'Content-Type': 'application/sdp',
      ...overrides,
    },
    body,
  );
}

async function answered(): Promise<{
  api: FakeApi;
  dialog: Dialog;
  dlg: FakeDialog;
  sig: DrachtioSignaling;
}> {
  const { sig, api, calls } = await started();
  api.deliverInvite(invite());
  const answering = calls[0]!.answer(ANSWER);
  await vi.waitFor(() => expect(api.uas[0]?.dialog).toBeDefined());
  const dlg = api.uas[0]!.dialog!;
  dlg.emit('ack', inDialogRequest('ACK', {}));
  return { api, dialog: await answering, dlg, sig };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('DrachtioSignaling connection', () => {
  it('waits for the connect event, not the connect() call, and always listens for errors', async () => {
    const api = new FakeApi();
    const sig = new DrachtioSignaling({
      host: 'drachtio',
      secret: 's',
      logger: pino({ level: 'silent' }),
      createApi: () => api,
    });
    let resolved = false;
    const p = sig.start().then(() => (resolved = true));
    await Promise.resolve();
    expect(api.connectOptions).toMatchObject({
      host: 'drachtio',
      port: 9022,
      secret: 's',
      reconnect: { retryMaxDelay: 10_000 },
    });
    expect(api.listenerCount('error')).toBeGreaterThan(0);
    expect(resolved).toBe(false);
    expect(sig.connected).toBe(false);
    api.acceptConnection();
    await p;
    expect(sig.connected).toBe(true);
    // An error with a listener does not throw.
    expect(() => api.emit('error', new Error('ECONNRESET'))).not.toThrow();
  });

  it('rejects start() when authentication fails', async () => {
    const api = new FakeApi();
    const sig = new DrachtioSignaling({
      host: 'h',
      secret: 'bad',
      logger: pino({ level: 'silent' }),
      createApi: () => api,
    });
    const p = sig.start();
    api.emit('connect', new Error('failed to authenticate to server'));
    await expect(p).rejects.toBeInstanceOf(SipError);
    expect(api.disconnected).toBe(true);
  });

  it('tracks the connection across close and reconnect, ending dialogs it can no longer control', async () => {
    const { api, dialog, sig } = await answered();
    const ended = vi.fn();
    dialog.on('ended', ended);
    api.emit('close');
    expect(sig.connected).toBe(false);
    expect(ended).toHaveBeenCalledWith({ reason: 'transport-error' });
    api.acceptConnection();
    expect(sig.connected).toBe(true);
  });

  it('answers OPTIONS with 200', async () => {
    const { api } = await started();
    const res = new FakeResponse();
    api.optionsHandler!(inDialogRequest('OPTIONS', {}), res);
    expect(res.sent[0]?.status).toBe(200);
  });

  it('close() sends BYE on every dialog and disconnects', async () => {
    const { api, dlg, sig, dialog } = await answered();
    await sig.close();
    expect(dlg.destroyed).toBeDefined();
    expect(dialog.ended).toBe(true);
    expect(api.disconnected).toBe(true);
  });
});

describe('DrachtioSignaling inbound calls', () => {
  it('maps an INVITE to an IncomingCall', async () => {
    const { api, calls } = await started();
    const req = invite({ 'X-Tenant': 'acme' });
    req.protocol = 'tcp';
    api.deliverInvite(req);
    const call = calls[0]!;
    expect(call.callId).toBe('call-1@198.51.100.2');
    expect(call.requestUri).toBe('sip:agent@192.0.2.1');
    expect(call.from).toEqual({
      displayName: 'Alice',
      uri: 'sip:+15551230000@198.51.100.2',
      user: '+15551230000',
      host: '198.51.100.2',
      tag: 'rtag',
    });
    expect(call.to).toMatchObject({ user: 'agent', host: '192.0.2.1' });
    expect(call.to.tag).toBeUndefined();
    expect(call.source).toEqual({ address: '198.51.100.2', port: 5060, transport: 'tcp' });
    expect(call.sdpOffer).toBe(OFFER);
    expect(call.header('x-tenant')).toBe('acme');
    expect(call.header('i')).toBe('call-1@198.51.100.2');
    expect(call.cancelled).toBe(false);
  });

  it('treats an INVITE without a body as a delayed offer', async () => {
    const { api, calls } = await started();
    api.deliverInvite(invite({}, ''));
    expect(calls[0]!.sdpOffer).toBeUndefined();
  });

  it('rejects with status, reason and headers', async () => {
    const { api, calls } = await started();
    const res = api.deliverInvite(invite());
    await calls[0]!.reject(488, { headers: { Warning: '304 switchboard "Incompatible media format"' } });
    await calls[0]!.reject(500); // second final response is ignored
    expect(res.sent).toEqual([
      {
        status: 488,
        reason: undefined,
        opts: { headers: { Warning: '304 switchboard "Incompatible media format"' } },
      },
    ]);
  });

  it('sends 180 and 183 with early SDP', async () => {
    const { api, calls } = await started();
    const res = api.deliverInvite(invite());
    await calls[0]!.ring();
    await calls[0]!.ring(ANSWER);
    expect(res.sent.map((s) => s.status)).toEqual([180, 183]);
    expect(res.sent[1]?.opts).toEqual({ body: ANSWER, headers: { 'Content-Type': 'application/sdp' } });
  });

  it('answers with createUAS and resolves only on the ACK', async () => {
    const { api, calls } = await started();
    api.deliverInvite(invite());
    let done = false;
    const answering = calls[0]!.answer(ANSWER).then((d) => {
      done = true;
      return d;
    });
    await vi.waitFor(() => expect(api.uas[0]?.dialog).toBeDefined());
    expect(api.uas[0]!.localSdp).toBe(ANSWER);
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    api.uas[0]!.dialog!.emit('ack', inDialogRequest('ACK', {}));
    const dialog = await answering;
    expect(dialog).toMatchObject({
      direction: 'inbound',
      callId: 'call-1@198.51.100.2',
      localSdp: ANSWER,
      remoteSdp: OFFER,
      ended: false,
    });
    expect(dialog.remote.user).toBe('+15551230000');
    expect(dialog.local.tag).toBe('ltag');
  });

  it('takes the remote SDP from the ACK for a delayed offer', async () => {
    const { api, calls } = await started();
    api.deliverInvite(invite({}, ''));
    const answering = calls[0]!.answer('v=0\r\nour-offer\r\n');
    await vi.waitFor(() => expect(api.uas[0]?.dialog).toBeDefined());
    api.uas[0]!.dialog!.emit('ack', inDialogRequest('ACK', {}, 'v=0\r\ntheir-answer\r\n'));
    expect((await answering).remoteSdp).toBe('v=0\r\ntheir-answer\r\n');
  });

  it('reports CANCEL before answer and refuses to answer', async () => {
    const { api, calls } = await started();
    const req = invite();
    api.deliverInvite(req);
    const onCancel = vi.fn();
    calls[0]!.on('cancel', onCancel);
    req.cancel();
    expect(onCancel).toHaveBeenCalledOnce();
    expect(calls[0]!.cancelled).toBe(true);
    await expect(calls[0]!.answer(ANSWER)).rejects.toMatchObject({ status: 487 });
    expect(api.uas).toHaveLength(0);
  });

  it('maps the bare-string rejection of createUAS to SipError(487)', async () => {
    const { api, calls } = await started();
    const req = invite();
    req.canceled = true; // cancelled inside drachtio before our listener saw it
    api.deliverInvite(req);
    const err: unknown = await calls[0]!.answer(ANSWER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SipError);
    expect((err as SipError).status).toBe(487);
  });

  it('rejects answer() with 408 when drachtio ends the dialog for a missing ACK', async () => {
    const { api, calls } = await started();
    api.deliverInvite(invite());
    const answering = calls[0]!.answer(ANSWER);
    await vi.waitFor(() => expect(api.uas[0]?.dialog).toBeDefined());
    const bye = inDialogRequest('BYE', {});
    bye.meta = { source: 'application' };
    api.uas[0]!.dialog!.emit('destroy', bye, 'ACK timeout');
    await expect(answering).rejects.toMatchObject({ status: 408 });
  });

  it('rejects new calls with 503 when no handler is installed', async () => {
    const api = new FakeApi();
    const sig = new DrachtioSignaling({
      host: 'h',
      secret: 's',
      logger: pino({ level: 'silent' }),
      createApi: () => api,
    });
    const p = sig.start();
    api.acceptConnection();
    await p;
    const res = api.deliverInvite(invite());
    await Promise.resolve();
    expect(res.sent[0]?.status).toBe(503);
  });
});

describe('DrachtioSignaling dialogs', () => {
  it('emits ended once on remote BYE', async () => {
    const { dialog, dlg } = await answered();
    const ended = vi.fn();
    dialog.on('ended', ended);
    dlg.emit('destroy', inDialogRequest('BYE', {}), 'normal release');
    dlg.emit('destroy', inDialogRequest('BYE', {}), 'normal release');
    expect(ended).toHaveBeenCalledTimes(1);
    expect(ended).toHaveBeenCalledWith({ reason: 'remote-bye' });
    expect(dialog.ended).toBe(true);
  });

  it('hangs up with destroy() and headers', async () => {
    const { dialog, dlg } = await answered();
    const ended = vi.fn();
    dialog.on('ended', ended);
    await dialog.hangup({ Reason: 'Q.850;cause=16' });
    await dialog.hangup();
    expect(dlg.destroyed).toEqual({ headers: { Reason: 'Q.850;cause=16' } });
    expect(ended).toHaveBeenCalledWith({ reason: 'local-bye' });
  });

  it('passes a re-INVITE to the modify handler and answers 200 with our SDP', async () => {
    const { dialog, dlg } = await answered();
    dialog.on('modify', (m) => {
      expect(m.method).toBe('INVITE');
      expect(m.sdpOffer).toBe('v=0\r\nhold\r\n');
      m.accept('v=0\r\nrecvonly\r\n');
    });
    const res = new FakeResponse();
    dlg.emit('modify', inDialogRequest('INVITE', {}, 'v=0\r\nhold\r\n'), res);
    expect(res.sent[0]).toEqual({
      status: 200,
      reason: undefined,
      opts: {
        body: 'v=0\r\nrecvonly\r\n',
        headers: { 'Content-Type': 'application/sdp', Contact: dlg.local.contact },
      },
    });
    expect(dialog.localSdp).toBe('v=0\r\nrecvonly\r\n');
    expect(dialog.remoteSdp).toBe('v=0\r\nhold\r\n');
  });

  it('rejects a re-INVITE with 488 when nobody listens', async () => {
    const { dlg } = await answered();
    const res = new FakeResponse();
    dlg.emit('modify', inDialogRequest('INVITE', {}, 'v=0\r\n'), res);
    expect(res.sent[0]?.status).toBe(488);
  });

  it('answers INFO 200 and emits it', async () => {
    const { dialog, dlg } = await answered();
    const info = vi.fn();
    dialog.on('info', info);
    const res = new FakeResponse();
    dlg.emit(
      'info',
      inDialogRequest('INFO', { 'Content-Type': 'application/dtmf-relay' }, 'Signal=5\r\nDuration=160\r\n'),
      res,
    );
    expect(res.sent[0]?.status).toBe(200);
    expect(info).toHaveBeenCalledWith({
      contentType: 'application/dtmf-relay',
      body: 'Signal=5\r\nDuration=160\r\n',
    });
  });

  it('refuses a REFER from the peer', async () => {
    const { dlg } = await answered();
    const res = new FakeResponse();
    dlg.emit('refer', inDialogRequest('REFER', {}), res);
    expect(res.sent[0]?.status).toBe(403);
  });

  it('REFERs with dlg.request and resolves on the final NOTIFY sipfrag', async () => {
    const { dialog, dlg } = await answered();
    const referring = dialog.refer('sip:transfer@example.com');
    await vi.waitFor(() => expect(dlg.requests).toHaveLength(1));
    expect(dlg.requests[0]).toEqual({
      method: 'REFER',
      headers: { 'Refer-To': '<sip:transfer@example.com>', 'Referred-By': '<sip:agent@192.0.2.1>' },
    });
    const notify = (body: string, state: string): FakeResponse => {
      const res = new FakeResponse();
      dlg.emit(
        'notify',
        inDialogRequest(
          'NOTIFY',
          { Event: 'refer', 'Content-Type': 'message/sipfrag', 'Subscription-State': state },
          body,
        ),
        res,
      );
      return res;
    };
    expect(notify('SIP/2.0 100 Trying\r\n', 'active;expires=60').sent[0]?.status).toBe(200);
    expect(notify('SIP/2.0 200 OK\r\n', 'terminated;reason=noresource').sent[0]?.status).toBe(200);
    await expect(referring).resolves.toEqual({ status: 200, reason: 'OK' });
  });

  it('accepts a NOTIFY that overtakes the 202', async () => {
    const { dialog, dlg } = await answered();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    dlg.request = async (opts) => {
      dlg.requests.push(opts);
      await gate;
      return { status: 202, reason: 'Accepted', get: () => undefined };
    };
    const referring = dialog.refer('<sip:transfer@example.com>', { referredBy: 'sip:bot@example.com' });
    await vi.waitFor(() => expect(dlg.requests).toHaveLength(1));
    expect(dlg.requests[0]?.headers?.['Referred-By']).toBe('<sip:bot@example.com>');
    dlg.emit(
      'notify',
      inDialogRequest(
        'NOTIFY',
        { Event: 'refer;id=1', 'Subscription-State': 'terminated' },
        'SIP/2.0 486 Busy Here',
      ),
      new FakeResponse(),
    );
    release();
    await expect(referring).resolves.toEqual({ status: 486, reason: 'Busy Here' });
  });

  it('returns the REFER failure status', async () => {
    const { dialog, dlg } = await answered();
    dlg.respond = () => ({ status: 405, reason: 'Method Not Allowed', get: () => undefined });
    await expect(dialog.refer('sip:x@example.com')).resolves.toEqual({
      status: 405,
      reason: 'Method Not Allowed',
    });
  });

  it('times out a REFER without a final NOTIFY', async () => {
    const { dialog } = await answered();
    await expect(dialog.refer('sip:x@example.com', { timeoutMs: 20 })).resolves.toMatchObject({
      status: 408,
    });
  });

  it('sends INFO and re-INVITE through dlg.request', async () => {
    const { dialog, dlg } = await answered();
    await expect(dialog.sendInfo('application/dtmf-relay', 'Signal=1\r\n')).resolves.toBe(200);
    await expect(dialog.modify('v=0\r\nsendonly\r\n')).resolves.toBe('v=0\r\nremote-answer\r\n');
    expect(dlg.requests.map((r) => r.method)).toEqual(['INFO', 'INVITE']);
    expect(dialog.localSdp).toBe('v=0\r\nsendonly\r\n');
    dlg.respond = () => ({ status: 491, reason: 'Request Pending', get: () => undefined });
    await expect(dialog.modify('v=0\r\n')).rejects.toMatchObject({ status: 491 });
  });
});

describe('DrachtioSignaling outbound calls', () => {
  it('dials with createUAC, auth, proxy and our From', async () => {
    const { api, sig } = await started();
    const onProvisional = vi.fn();
    const dialog = await sig.dial('sip:+15550001111@carrier.example', {
      sdpOffer: OFFER,
      auth: { username: 'u', password: 'p' },
      proxy: 'sip:proxy.example',
      headers: { 'X-Call': '1' },
      onProvisional,
    });
    expect(api.uac[0]).toMatchObject({
      uri: 'sip:+15550001111@carrier.example',
      opts: {
        localSdp: OFFER,
        proxy: 'sip:proxy.example',
        auth: { username: 'u', password: 'p' },
        headers: { From: '<sip:switchboard@localhost>', 'X-Call': '1' },
      },
    });
    api.uac[0]!.callbacks.cbProvisional!({ status: 180, reason: 'Ringing', get: () => undefined });
    expect(onProvisional).toHaveBeenCalledWith(180, 'Ringing');
    expect(dialog).toMatchObject({ direction: 'outbound', callId: 'out-1' });
    expect(dialog.remote.user).toBe('+15550001111');
  });

  it('rejects with the SipError status of a failed call', async () => {
    const { api, sig } = await started();
    api.uacOutcome = () => Promise.reject(Object.assign(new Error('busy'), { status: 486 }));
    await expect(sig.dial('sip:x@y', { sdpOffer: OFFER })).rejects.toMatchObject({ status: 486 });
  });

  it('CANCELs when aborted', async () => {
    const { api, sig } = await started();
    const cancel = vi.fn();
    let fail!: (e: unknown) => void;
    api.uacOutcome = () => new Promise((_r, rej) => (fail = rej));
    const ac = new AbortController();
    const dialing = sig.dial('sip:x@y', { sdpOffer: OFFER, signal: ac.signal });
    await vi.waitFor(() => expect(api.uac).toHaveLength(1));
    api.uac[0]!.callbacks.cbRequest!(null, { cancel });
    ac.abort();
    expect(cancel).toHaveBeenCalled();
    fail(Object.assign(new Error('terminated'), { status: 487 }));
    await expect(dialing).rejects.toMatchObject({ status: 487 });
  });

  it('refuses to dial while disconnected', async () => {
    const { api, sig } = await started();
    api.emit('close');
    await expect(sig.dial('sip:x@y', { sdpOffer: OFFER })).rejects.toMatchObject({ status: 503 });
  });
});
