/**
 * A dialog's RFC 4028 session: the SessionTimer of session-timer.ts wired to in-dialog requests — our
 * refreshes (UPDATE or re-INVITE), the BYE when the session expires, and the answer to the peer's refreshes.
 */
import type { Logger } from '../../observability/logger.js';
import type { DialogEndReason } from '../signaling.js';
import type { SipRequest, SipResponse } from './message.js';
import type { Scheduler } from './transaction.js';
import {
  SessionTimer,
  negotiateUas,
  parseSessionExpires,
  type SessionAnswer,
  type SessionTimerConfig,
} from './session-timer.js';

/** What the session needs of its dialog. */
export interface SessionTimerDialog {
  readonly ended: boolean;
  readonly localSdp: string;
  readonly logger: Logger;
  readonly modifier: {
    sendReinvite(localSdp: string, headers: Readonly<Record<string, string>>): Promise<string>;
  };
  request(
    method: string,
    options: { readonly headers?: Readonly<Record<string, string>> },
  ): Promise<SipResponse>;
  end(reason: DialogEndReason): void;
}

export class DialogSessionTimer {
  readonly timer: SessionTimer;
  readonly #dialog: SessionTimerDialog;
  readonly #config: SessionTimerConfig;
  readonly #remoteAllowsUpdate: boolean;

  /** `remoteAllow`: the peer's Allow list, upper case (decides UPDATE vs re-INVITE for refreshes). */
  constructor(
    dialog: SessionTimerDialog,
    scheduler: Scheduler,
    config: SessionTimerConfig,
    remoteAllow: readonly string[],
  ) {
    this.#dialog = dialog;
    this.#config = config;
    this.#remoteAllowsUpdate = remoteAllow.includes('UPDATE');
    this.timer = new SessionTimer({
      scheduler,
      refresh: (seconds) => this.#refresh(seconds),
      expire: () => this.#expire(),
    });
  }

  /** RFC 4028 §9 applied to an in-dialog INVITE/UPDATE from the peer. */
  answer(request: SipRequest): SessionAnswer {
    const negotiated = negotiateUas(request, this.#config);
    if (negotiated.kind === 'too-small')
      return { tooSmall: negotiated.minSeconds, headers: {}, commit: () => undefined };
    if (negotiated.kind === 'run') {
      return {
        headers: { ...negotiated.headers, Supported: 'timer' },
        commit: () => this.timer.arm(negotiated.seconds, negotiated.refresher === 'uas'),
      };
    }
    // A re-INVITE without Session-Expires while a timer runs: keep it, with us refreshing from now (§9).
    if (!this.timer.running) return { headers: {}, commit: () => undefined };
    const seconds = this.timer.seconds;
    return {
      headers: { 'Session-Expires': `${seconds};refresher=uas`, Supported: 'timer' },
      commit: () => this.timer.arm(seconds, true),
    };
  }

  /**
   * RFC 4028 §7.4: refresh as the refresher — UPDATE without a body when the peer allows it (no SDP
   * renegotiation), else a re-INVITE with our current SDP. We send it, so we name ourselves `refresher=uac`.
   */
  async #refresh(seconds: number): Promise<{ seconds: number; weRefresh: boolean } | undefined> {
    const dialog = this.#dialog;
    if (dialog.ended) return undefined;
    const headers = {
      'Session-Expires': `${seconds};refresher=uac`,
      'Min-SE': String(this.#config.minSeconds),
      Supported: 'timer',
    };
    if (!this.#remoteAllowsUpdate) {
      await dialog.modifier.sendReinvite(dialog.localSdp, headers);
      return { seconds, weRefresh: true };
    }
    const res = await dialog.request('UPDATE', { headers });
    if (res.status < 200 || res.status >= 300) {
      dialog.logger.info({ status: res.status }, 'sip session refresh refused');
      return undefined;
    }
    const granted = parseSessionExpires(res.headers.get('Session-Expires'));
    return { seconds: granted?.seconds ?? seconds, weRefresh: (granted?.refresher ?? 'uac') === 'uac' };
  }

  /** RFC 4028 §10: no refresh arrived in time (or ours failed): the session is over, send BYE. */
  #expire(): void {
    const dialog = this.#dialog;
    if (dialog.ended) return;
    dialog.logger.info({ intervalS: this.timer.seconds }, 'sip session timer expired');
    dialog.end('session-expired');
    void dialog.request('BYE', { headers: { Reason: 'SIP;cause=408;text="Session expired"' } });
  }
}
