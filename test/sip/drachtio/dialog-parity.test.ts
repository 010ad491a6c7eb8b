/**
 * The drachtio dialog adapter where drachtio-server's own behaviour must come out as the embedded backend's:
 * BYEs drachtio-server generates itself (reported as received, `source: 'application'`, with its Reason
 * text) end the dialog for the right reason, and an in-dialog offer that is not SDP is 415, as embedded.
 */
import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { DrachtioDialogAdapter, endReasonOf } from '../../../src/sip/drachtio/dialog.js';
import { FakeDialog, FakeResponse, inDialogRequest } from './fake-api.js';

function adapter(): { dialog: DrachtioDialogAdapter; dlg: FakeDialog } {
  const dlg = new FakeDialog('uas', 'call-9@198.51.100.2', 'v=0\r\nlocal\r\n', 'v=0\r\nremote\r\n');
  const dialog = new DrachtioDialogAdapter(dlg, {
    direction: 'inbound',
    local: { uri: dlg.local.uri, user: 'switchboard', host: '192.0.2.1' },
    remote: { uri: dlg.remote.uri, user: 'caller', host: '198.51.100.2' },
    logger: pino({ level: 'silent' }),
    onEnded: () => undefined,
  });
  return { dialog, dlg };
}

/** A BYE as drachtio-server reports one it sent itself (sip-dialog-controller.cpp, Reason text passed on). */
function serverBye(): ReturnType<typeof inDialogRequest> {
  const bye = inDialogRequest('BYE', {});
  bye.meta = { source: 'application' };
  return bye;
}

describe('drachtio dialog adapter: parity with the embedded backend', () => {
  it('maps the BYEs drachtio-server sends itself to ack-timeout and session-expired', () => {
    expect(endReasonOf(serverBye(), 'ACK timeout')).toBe('ack-timeout');
    expect(endReasonOf(serverBye(), 'Session timer expired')).toBe('session-expired');
    expect(endReasonOf(inDialogRequest('BYE', {}), 'normal release')).toBe('remote-bye');
    expect(endReasonOf(undefined, undefined)).toBe('remote-bye');
  });

  it('ends a dialog whose session timer expired with reason session-expired (RFC 4028 §10)', () => {
    const { dialog, dlg } = adapter();
    const ended = vi.fn();
    dialog.on('ended', ended);
    dlg.emit('destroy', serverBye(), 'Session timer expired');
    expect(ended).toHaveBeenCalledWith({ reason: 'session-expired' });
    expect(dialog.ended).toBe(true);
  });

  it('answers a re-INVITE or UPDATE whose body is not SDP with 415 + Accept, without asking the call', () => {
    const { dialog, dlg } = adapter();
    const modify = vi.fn();
    dialog.on('modify', modify);
    const invite = new FakeResponse();
    dlg.emit('modify', inDialogRequest('INVITE', { 'Content-Type': 'text/plain' }, 'hello'), invite);
    const update = new FakeResponse();
    dlg.emit('update', inDialogRequest('UPDATE', { 'Content-Type': 'application/json' }, '{}'), update);
    for (const res of [invite, update]) {
      expect(res.sent).toEqual([
        { status: 415, reason: 'Unsupported Media Type', opts: { headers: { Accept: 'application/sdp' } } },
      ]);
    }
    expect(modify).not.toHaveBeenCalled();
    expect(dialog.remoteSdp).toBe('v=0\r\nremote\r\n');
  });

  it('still passes an SDP re-INVITE (Content-Type with parameters) to the call', () => {
    const { dialog, dlg } = adapter();
    dialog.on('modify', (m) => m.accept('v=0\r\nanswer\r\n'));
    const res = new FakeResponse();
    dlg.emit(
      'modify',
      inDialogRequest('INVITE', { 'Content-Type': 'Application/SDP; charset=utf-8' }, 'v=0\r\noffer\r\n'),
      res,
    );
    expect(res.sent[0]?.status).toBe(200);
    expect(dialog.remoteSdp).toBe('v=0\r\noffer\r\n');
  });
});
