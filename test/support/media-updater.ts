/**
 * A MediaUpdater on a fake dialog and leg, and `send(sdp)`: one re-INVITE offer handled, its final answer
 * (200 with the body, or the reject status) returned. The accepted body becomes the dialog's localSdp.
 */
import { pino } from 'pino';
import { MediaUpdater } from '../../src/call/media-update.js';
import type { MediaLeg } from '../../src/call/media-leg.js';
import type { NegotiatedMedia } from '../../src/sip/sdp.js';
import type { Dialog, ModifyRequest } from '../../src/sip/signaling.js';

export function updaterRig(
  dialog: Dialog,
  media: MediaLeg,
  negotiated: NegotiatedMedia,
  local: { address: string; port: number },
): { updater: MediaUpdater; send: (sdp: string) => { status: number; body?: string } } {
  const updater = new MediaUpdater({
    dialog,
    media,
    local,
    negotiated,
    logger: pino({ level: 'silent' }),
    onChange: () => undefined,
  });
  const send = (sdp: string): { status: number; body?: string } => {
    let result: { status: number; body?: string } = { status: 0 };
    const request: ModifyRequest = {
      method: 'INVITE',
      sdpOffer: sdp,
      accept: (body) => {
        result = { status: 200, body };
        (dialog as { localSdp: string }).localSdp = body;
      },
      reject: (status) => (result = { status }),
    };
    updater.handle(request);
    return result;
  };
  return { updater, send };
}
