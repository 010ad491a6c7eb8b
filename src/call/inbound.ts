/**
 * An inbound INVITE, from routing to the ACK of our 200 OK.
 *
 * When the 200 is sent (issue 10): the caller should hear the agent from the first moment the call is
 * answered, and a CANCEL sent at any point before the answer must win. So:
 *  1. route, admit, authenticate (dialplan `auth`: 401/403), reserve the RTP port and negotiate the offer
 *     (rejections go out at once: 404/403/488/503);
 *  2. send 180 Ringing at once, and start the agent (provider connect) while it rings;
 *  3. answer 200 when the agent is ready, or after `agentReadyWaitMs` (3 s) anyway: the session then
 *     greets once the agent is ready, and plays the fallback prompt if it never is.
 * A CANCEL at any point before step 3 is answered 487 by the stack (RFC 3261 §9.2); we then release the
 * port and close the agent. A CANCEL crossing our 200 has no effect (§9.2), the call proceeds.
 * A delayed-offer INVITE (no SDP) is answered at once with our offer: its codec, and so the agent's audio
 * format, is known only from the answer in the ACK, so its agent starts after the ACK.
 */
import { randomUUID } from 'node:crypto';
import type { AgentProfile } from '../routing/dialplan.js';
import type { Logger } from '../observability/logger.js';
import { route, routeRegistered, type RouteResult } from '../routing/router.js';
import { createOffer, negotiateAnswer, parseAnswer, type NegotiatedMedia } from '../sip/sdp.js';
import { answeredCrypto, offerCrypto, SdesAnswerer } from '../sip/sdp-crypto.js';
import type { Dialog, IncomingCall } from '../sip/signaling.js';
import { WireTapBuffer, type PreparedAgent } from './agent-launch.js';
import type { CallManagerDeps, EstablishedCall } from './call-ports.js';
import type { AuthRefusal } from './inbound-auth.js';
import { inboundVariables, renderProfile } from './call-variables.js';

/** Default bound on how long the 200 OK waits for the agent. */
export const AGENT_READY_WAIT_MS = 3000;

/** Everything the call manager needs to start the session once the ACK has arrived. */
export interface AnsweredCall extends EstablishedCall {
  readonly id: string;
  /** When the INVITE was accepted (call.started). */
  readonly startedAt?: Date;
  /** The agent started while ringing (absent for a delayed offer). */
  readonly agent?: { readonly prepared: PreparedAgent; readonly wire: WireTapBuffer };
}

export interface InboundHooks {
  readonly closing: () => boolean;
  /** Builds the PreparedAgent for a routed call with known media (the call manager owns agent options). */
  readonly prepareAgent: (p: {
    readonly id: string;
    readonly tenant: string;
    readonly profile: AgentProfile;
    readonly negotiated: NegotiatedMedia;
    readonly wire: WireTapBuffer;
  }) => PreparedAgent;
  readonly answered: (call: AnsweredCall) => void;
  /** The INVITE is accepted (routed, admitted, authenticated, media negotiable): issue 16's call.started. */
  readonly started?: (call: AcceptedCall) => void;
  /** An accepted INVITE that will not become a session. */
  readonly notEstablished?: (call: AcceptedCall, reason: 'cancelled' | 'not-established') => void;
}

/** An INVITE accepted for a session, before the answer. */
export interface AcceptedCall {
  readonly id: string;
  readonly tenant: string;
  readonly profile: AgentProfile;
  readonly from: string;
  readonly to: string;
  readonly startedAt: Date;
}

/** The dialplan's `auth` (issue 11): after routing and admission, before any port or agent is taken. */
async function authenticate(
  deps: CallManagerDeps,
  call: IncomingCall,
  routed: Extract<RouteResult, { ok: true }>,
  log: Logger,
): Promise<AuthRefusal | undefined> {
  // The same synchronous turn as route(): the plan found by file is the one that routed the call.
  const policy = deps.dialplans().find((d) => d.file === routed.file)?.dialplan.auth;
  if (policy === undefined) return undefined;
  if (deps.inboundAuth === undefined) {
    log.error('dialplan requires auth but no authenticator is configured; refusing');
    return { status: 403, reason: 'Forbidden', cause: 'auth-failed' };
  }
  return deps.inboundAuth.check(call, routed.tenant, policy, log);
}

/** Waits for `ready` at most `ms`, returning early on CANCEL; never rejects. */
function settledOrCancelled(call: IncomingCall, ready: Promise<unknown>, ms: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      call.off('cancel', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    call.once('cancel', done);
    ready.then(done, done);
  });
}

export async function handleInvite(
  deps: CallManagerDeps,
  hooks: InboundHooks,
  call: IncomingCall,
  log: Logger,
): Promise<void> {
  const invitedAtMs = Date.now();
  const reject = async (status: number, reason: string, headers?: Record<string, string>): Promise<void> => {
    deps.metrics.callsRejected.inc({ status: String(status) });
    if (call.cancelled) return;
    await call.reject(status, { reason, ...(headers === undefined ? {} : { headers }) });
  };
  if (hooks.closing()) return reject(503, 'Service Unavailable');
  const calledUser =
    call.to.user !== '' ? call.to.user : (/^sips?:([^@;]+)@/.exec(call.requestUri)?.[1] ?? '');
  // Issue 13: a call to one of our registered Contacts belongs to that registration's tenant.
  const contact = deps.registeredContact?.(/^sips?:([^@;]+)@/.exec(call.requestUri)?.[1] ?? calledUser);
  const routed =
    contact === undefined
      ? route(deps.dialplans(), { calledUser, sourceAddress: call.source.address })
      : routeRegistered(deps.dialplans(), contact, call.source.address);
  const refused = deps.admission?.admit(call, routed);
  if (refused !== undefined) {
    log.info({ cause: refused.cause, status: refused.status, to: calledUser }, 'call refused at admission');
    return reject(refused.status, refused.reason, { ...refused.headers });
  }
  if (!routed.ok) {
    log.info({ status: routed.status, to: calledUser }, 'call rejected by routing');
    return reject(routed.status, routed.reason);
  }
  const { tenant } = routed;
  const denied = await authenticate(deps, call, routed, log);
  if (denied !== undefined) {
    log.info({ cause: denied.cause, status: denied.status, to: calledUser }, 'call refused by digest auth');
    return reject(denied.status, denied.reason, { ...denied.headers });
  }
  const pending = await deps.media
    .allocate({ signalingAddress: call.source.address })
    .catch((err: unknown) => {
      log.error({ err }, 'no RTP port available');
      return undefined;
    });
  if (pending === undefined) return reject(503, 'Service Unavailable');
  if (call.cancelled) return pending.release();

  const local = { address: deps.publicHost, port: pending.localPort };
  // The same synchronous turn as route(): the dialplan found by file is the one that routed the call.
  const srtp = deps.dialplans().find((d) => d.file === routed.file)?.dialplan.media.srtp ?? 'optional';
  let localSdp: string;
  let negotiated: NegotiatedMedia | undefined;
  let offered: ReturnType<typeof offerCrypto> | undefined;
  if (call.sdpOffer !== undefined) {
    const answer = negotiateAnswer(call.sdpOffer, { ...local, security: new SdesAnswerer(srtp) });
    if (!answer.ok) {
      pending.release();
      log.info({ status: answer.status, detail: answer.detail }, 'SDP offer refused');
      return reject(answer.status, answer.status === 488 ? 'Not Acceptable Here' : 'Bad Request', {
        Warning: answer.warning,
      });
    }
    localSdp = answer.answerSdp;
    negotiated = answer;
  } else {
    // A delayed offer (RFC 3261 §13.2.1) under `srtp: required`: our offer is RTP/SAVP with our keys.
    offered = srtp === 'required' ? offerCrypto() : undefined;
    localSdp = createOffer(
      local,
      offered === undefined ? {} : { protocol: 'RTP/SAVP', crypto: offered.lines },
    );
  }

  const id = randomUUID();
  // The caller's identity and configured headers, rendered into the profile before the agent starts.
  const extraHeaders = deps.dialplans().find((d) => d.file === routed.file)?.dialplan.headers ?? [];
  const variables = inboundVariables({ call, id, tenant, calledNumber: calledUser, extraHeaders });
  const profile = renderProfile(routed.profile, variables, log);
  const accepted: AcceptedCall = {
    id,
    tenant,
    profile,
    from: call.from.user || call.from.uri,
    to: calledUser,
    startedAt: new Date(),
  };
  hooks.started?.(accepted);
  let early: AnsweredCall['agent'];
  if (negotiated !== undefined) {
    await call.ring();
    const wire = new WireTapBuffer(profile.record);
    const prepared = hooks.prepareAgent({ id, tenant, profile, negotiated, wire });
    early = { prepared, wire };
    await settledOrCancelled(call, prepared.ready, deps.agentReadyWaitMs ?? AGENT_READY_WAIT_MS);
  }
  const abandon = async (): Promise<void> => {
    hooks.notEstablished?.(accepted, call.cancelled ? 'cancelled' : 'not-established');
    pending.release();
    await early?.prepared.close();
  };
  if (call.cancelled) {
    log.info('call cancelled before the answer; port and agent released');
    return abandon();
  }
  if (hooks.closing()) {
    await abandon();
    return reject(503, 'Service Unavailable');
  }

  let dialog: Dialog;
  try {
    dialog = await call.answer(localSdp);
  } catch (err) {
    // Cancelled at the last moment, or the ACK never came (Timer H; the stack sent BYE).
    await abandon();
    log.info({ err: (err as Error).message }, 'call not established');
    return;
  }
  if (negotiated === undefined) {
    const parsed = parseAnswer(localSdp, dialog.remoteSdp);
    if (!parsed.ok) {
      await abandon();
      log.warn({ detail: parsed.detail }, 'ACK answer unusable; hanging up');
      await dialog.hangup().catch(() => undefined);
      return;
    }
    const keys = offered === undefined ? undefined : answeredCrypto(offered, dialog.remoteSdp);
    if (keys !== undefined && (!keys.ok || keys.srtp === undefined)) {
      await abandon();
      log.warn(
        { detail: keys.ok ? 'no a=crypto' : keys.reason },
        'ACK answer has no usable SRTP key; hanging up',
      );
      await dialog.hangup().catch(() => undefined);
      return;
    }
    negotiated = keys?.srtp === undefined ? parsed : { ...parsed, srtp: keys.srtp };
  }
  hooks.answered({
    id,
    tenant,
    profile,
    dialog,
    pending,
    negotiated,
    from: accepted.from,
    to: accepted.to,
    startedAt: accepted.startedAt,
    variables,
    invitedAtMs,
    ...(early === undefined ? {} : { agent: early }),
  });
}
