/**
 * UAC INVITE (§13.2): provisional responses, 2xx → dialog + ACK (§13.2.2.4), 401/407 → one digest retry with
 * the next CSeq (§22.2), CANCEL on abort or timeout (§9.1), BYE when a 2xx crosses our CANCEL.
 */
import type { Logger } from '../../observability/logger.js';
import { SipError, type DialOptions, type Dialog } from '../signaling.js';
import { EmbeddedDialog, contactUri, type DialogHost } from './dialog.js';
import { authorizationHeader, pickChallenge } from './digest.js';
import { ALLOW, randomToken, type ClientTransaction } from './endpoint.js';
import { SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { parseNameAddr, uriHost } from './syntax.js';
import type { TimerHandle } from './transaction.js';
import { parseMinSe, parseSessionExpires } from './session-timer.js';
import { DnsError } from './resolver/dns-client.js';
import type { Flow } from './transport.js';
import { UacPrack, inviteOptionHeaders } from './uac-prack.js';

export interface UacHost {
  readonly dialogHost: DialogHost;
  readonly register: (dialog: EmbeddedDialog) => void;
  readonly publicHost: string;
  readonly logger: Logger;
  /** RFC 3263: the targets for a URI in the order to try them (empty: unusable URI). */
  readonly resolveTargets: (uri: string) => Promise<readonly Flow[]>;
  /** No response at all from a target for this long → the next target (when there is one). */
  readonly failoverMs: number;
}

/**
 * RFC 3263 §4.3: resolve the next hop (the proxy, else the Request-URI) to an ordered target list, then try
 * the targets in turn: a 503, a transport failure (reported as 503, §8.1.3.1) or a transaction timeout moves
 * the INVITE to the next target with a new transaction; so does a target that sends no response at all
 * within `failoverMs` (Timer B is 32 s, longer than a caller waits for ringing).
 */
export async function dialOut(host: UacHost, uri: string, options: DialOptions): Promise<Dialog> {
  const requestUri = uri.replace(/^<|>$/g, '');
  let targets: readonly Flow[];
  try {
    targets = await host.resolveTargets(options.proxy ?? requestUri);
  } catch (err) {
    // A name that does not resolve fails the call with the resolver's reason ("dns: no SRV/A for …").
    if (err instanceof DnsError) throw new SipError(503, err.message, { cause: err });
    throw err;
  }
  if (targets.length === 0) throw new SipError(416, 'unsupported or unreachable URI');
  // The trunk's `tls_verify: false` opt-out travels with each TLS flow, so a reconnect keeps it.
  const checked =
    options.tlsVerify === false
      ? targets.map((t) => (t.transport === 'tls' ? { ...t, tlsVerify: false } : t))
      : targets;
  return dialTargets(host, requestUri, checked, options);
}

function dialTargets(
  host: UacHost,
  requestUri: string,
  targets: readonly Flow[],
  options: DialOptions,
): Promise<Dialog> {
  const { endpoint, scheduler } = host.dialogHost;
  let targetIndex = 0;
  let target = targets[0] as Flow;
  const sips = /^sips:/i.test(requestUri);
  if (options.signal?.aborted === true) return Promise.reject(new SipError(487, 'dial aborted'));
  const callId = `${randomToken(12)}@${uriHost(host.publicHost)}`;
  const logger = host.logger.child({ callId });
  const fromTag = randomToken();
  const fromUri = options.from ?? `sip:switchboard@${uriHost(host.publicHost)}`;
  const fromHeader = fromUri.includes('<') ? fromUri : `<${fromUri}>`;
  const toHeader = `<${requestUri}>`;
  const route = options.proxy === undefined ? undefined : `<${options.proxy.replace(/^<|>$/g, '')};lr>`;
  let seq = 1;
  // RFC 4028 §7.1: offer a session timer; a 422 raises the interval to the callee's Min-SE once (§7.3).
  const sessionConfig = host.dialogHost.sessionTimers;
  let sessionSeconds = Math.max(sessionConfig.defaultSeconds, sessionConfig.minSeconds);
  let authHeader: { name: string; value: string } | undefined;
  // RFC 3262: offer (or require) 100rel; reliable provisionals are PRACKed (uac-prack.ts).
  const options100rel = inviteOptionHeaders(options.prack ?? 'supported');
  const prack = new UacPrack({ endpoint, target: () => target, logger });
  let earlySdp: string | undefined;

  const buildInvite = (): SipRequest => {
    const headers = new SipHeaders();
    if (route !== undefined) headers.append('Route', route);
    headers.append('Max-Forwards', '70');
    headers.append('From', `${fromHeader};tag=${fromTag}`);
    headers.append('To', toHeader);
    headers.append('Call-ID', callId);
    headers.append('CSeq', `${seq} INVITE`);
    headers.append('Contact', endpoint.contact(target.transport, undefined, sips));
    headers.append('Allow', ALLOW);
    headers.append('Supported', options100rel.supported);
    if (options100rel.require !== undefined) headers.append('Require', options100rel.require);
    headers.append('Session-Expires', String(sessionSeconds));
    headers.append('Min-SE', String(sessionConfig.minSeconds));
    if (authHeader !== undefined) headers.append(authHeader.name, authHeader.value);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    headers.set('Content-Type', 'application/sdp');
    return {
      kind: 'request',
      method: 'INVITE',
      uri: requestUri,
      headers,
      body: Buffer.from(options.sdpOffer, 'utf8'),
    };
  };

  return new Promise<Dialog>((resolve, reject) => {
    let settled = false;
    let authTried = false;
    let intervalRaised = false;
    let provisional = false;
    let cancelWanted = false;
    let cancelSent = false;
    let invite = buildInvite();
    let dialog: EmbeddedDialog | undefined;

    let transaction: ClientTransaction | undefined;
    let heard = false;
    let failoverTimer: TimerHandle | undefined;
    // Each transaction's callbacks are bound to its generation: a target we moved away from is not heard.
    const send = (): void => {
      const generation = targetIndex;
      heard = false;
      if (failoverTimer !== undefined) scheduler.clear(failoverTimer);
      failoverTimer =
        targetIndex + 1 < targets.length
          ? scheduler.set(() => {
              if (generation === targetIndex && !heard) failover('no response');
            }, host.failoverMs)
          : undefined;
      transaction = endpoint.sendRequest(invite, target, {
        onResponse: (res) => {
          if (generation !== targetIndex) return;
          heard = true;
          onResponse(res);
        },
        onTimeout: () => {
          if (generation === targetIndex) onTimeout();
        },
      });
    };

    /** RFC 3263 §4.3: the next target with a new transaction (new branch, next CSeq); false when none left. */
    const failover = (why: string): boolean => {
      if (settled || targetIndex + 1 >= targets.length) return false;
      logger.info(
        { transport: target.transport, address: target.address, port: target.port, why },
        'sip dial target failed; trying the next',
      );
      transaction?.terminate();
      targetIndex++;
      target = targets[targetIndex] as Flow;
      seq = Math.max(seq, prack.lastSeq) + 1;
      provisional = false;
      authTried = false;
      invite = buildInvite();
      send();
      return true;
    };

    const finish = (err: SipError | undefined, value?: Dialog): void => {
      if (settled) return;
      settled = true;
      scheduler.clear(timer);
      if (failoverTimer !== undefined) scheduler.clear(failoverTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) {
        logger.info({ status: err.status }, 'sip dial failed');
        reject(err);
      } else if (value !== undefined) resolve(value);
    };

    // §9.1: CANCEL copies Request-URI, Call-ID, To, From, CSeq number, Route and the top Via of the INVITE.
    const sendCancel = (): void => {
      if (cancelSent) return;
      cancelSent = true;
      const headers = new SipHeaders();
      headers.append('Via', invite.headers.get('Via') ?? '');
      for (const r of invite.headers.getAll('Route')) headers.append('Route', r);
      headers.append('Max-Forwards', '70');
      headers.append('From', invite.headers.get('From') ?? '');
      headers.append('To', invite.headers.get('To') ?? '');
      headers.append('Call-ID', callId);
      headers.append('CSeq', `${seq} CANCEL`);
      const cancel: SipRequest = {
        kind: 'request',
        method: 'CANCEL',
        uri: invite.uri,
        headers,
        body: Buffer.alloc(0),
      };
      endpoint.sendRequest(cancel, target, { onResponse: () => undefined, onTimeout: () => undefined });
    };

    const giveUp = (status: number, message: string): void => {
      cancelWanted = true;
      // §9.1: a CANCEL must not be sent before a provisional response; send it when one arrives.
      if (provisional) sendCancel();
      finish(new SipError(status, message));
    };

    const onAbort = (): void => giveUp(487, 'dial aborted');

    const onResponse = (res: SipResponse): void => {
      if (res.status < 200) {
        provisional = true;
        if (cancelWanted) return sendCancel();
        if (res.status === 100 || settled) return;
        if (prack.onProvisional(invite, seq, res) === 'ignored') return;
        options.onProvisional?.(res.status, res.reason);
        const body = res.body.length > 0 ? res.body.toString('utf8') : undefined;
        if (body !== undefined && /^application\/sdp\b/i.test(res.headers.get('Content-Type') ?? '')) {
          if (body === earlySdp) return;
          earlySdp = body;
          logger.info({ status: res.status }, 'sip dial early media');
          options.onEarlyMedia?.(body);
        }
        return;
      }
      if (res.status < 300) return on2xx(res);
      if (
        (res.status === 401 || res.status === 407) &&
        options.auth !== undefined &&
        !authTried &&
        !settled
      ) {
        const challenge = pickChallenge(
          res.headers.getAll(res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'),
        );
        if (challenge !== undefined) {
          authTried = true;
          seq = Math.max(seq, prack.lastSeq) + 1;
          provisional = false;
          const value = authorizationHeader({
            challenge,
            method: 'INVITE',
            uri: requestUri,
            username: options.auth.username,
            password: options.auth.password,
          });
          logger.debug({ algorithm: challenge.algorithm }, 'sip dial answering digest challenge');
          authHeader = { name: res.status === 401 ? 'Authorization' : 'Proxy-Authorization', value };
          invite = buildInvite();
          send();
          return;
        }
      }
      const minSe = parseMinSe(res.headers.get('Min-SE'));
      if (
        res.status === 422 &&
        minSe !== undefined &&
        minSe > sessionSeconds &&
        !intervalRaised &&
        !settled
      ) {
        // RFC 4028 §7.3: retry with the callee's minimum (once; the same Call-ID, the next CSeq).
        intervalRaised = true;
        seq = Math.max(seq, prack.lastSeq) + 1;
        provisional = false;
        sessionSeconds = minSe;
        invite = buildInvite();
        send();
        return;
      }
      if (res.status === 503 && failover(`503 ${res.reason}`)) return;
      finish(new SipError(res.status, `INVITE failed: ${res.status} ${res.reason}`));
    };

    const on2xx = (res: SipResponse): void => {
      if (dialog !== undefined) {
        dialog.on2xxRetransmit(res);
        return;
      }
      const toValue = res.headers.get('To') ?? toHeader;
      const remoteTag = parseNameAddr(toValue)?.params.get('tag') ?? '';
      dialog = new EmbeddedDialog(
        {
          direction: 'outbound',
          callId,
          localTag: fromTag,
          remoteTag,
          localHeader: fromHeader,
          remoteHeader: toValue,
          localSeq: Math.max(seq, prack.lastSeq),
          remoteSeq: undefined,
          remoteTarget: contactUri(res.headers.get('Contact')) ?? requestUri,
          // §12.1.2: the UAC route set is the Record-Route list reversed.
          routeSet: [...res.headers.getAll('Record-Route')].reverse(),
          flow: target,
          localSdp: options.sdpOffer,
          // After a reliable 183 with the answer, the 2xx may carry no SDP (RFC 3262 §5): the early one holds.
          remoteSdp: res.body.length > 0 ? res.body.toString('utf8') : (earlySdp ?? ''),
          logger,
          remoteAllow: res.headers.getAll('Allow'),
        },
        host.dialogHost,
      );
      host.register(dialog);
      dialog.sendAck(seq);
      // RFC 4028 §7.2: the 2xx says the interval and who refreshes (uac = us); none means no session timer.
      const granted = parseSessionExpires(res.headers.get('Session-Expires'));
      if (granted !== undefined && !settled) {
        dialog.sessionTimer.arm(granted.seconds, (granted.refresher ?? 'uac') === 'uac');
      }
      if (settled) {
        // The 2xx crossed our CANCEL (or we already gave up): ACK it, then BYE (§15).
        void dialog.hangup();
        return;
      }
      logger.info('sip dial answered');
      finish(undefined, dialog);
    };

    const onTimeout = (): void => {
      if (!failover('timeout')) finish(new SipError(408, 'no final response to INVITE'));
    };

    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer: TimerHandle = scheduler.set(
      () => giveUp(408, 'dial timed out'),
      options.timeoutMs ?? 60_000,
    );
    send();
  });
}
