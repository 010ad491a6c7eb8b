/**
 * An outbound call placed by the control API (`POST /v1/calls`): the tenant's trunk, our offer, the
 * callee's answer. The session starts once the callee answered.
 */
import type { DialRequest } from '../http/ports.js';
import type { AgentProfile } from '../routing/dialplan.js';
import { createOffer } from '../sip/sdp.js';
import { answeredCrypto, offerCrypto, type SrtpPolicy } from '../sip/sdp-crypto.js';
import { SipError, type Dialog } from '../sip/signaling.js';
import type { CallManagerDeps, EstablishedCall } from './call-ports.js';
import { outboundVariables, renderProfile } from './call-variables.js';
import { checkOutbound, parseSipUri, requestUriFor } from './outbound-target.js';
import { trunkIdentity } from './trunk-identity.js';
import { EarlyAudioBuffer } from './early-audio.js';
import { EarlyMediaLeg } from './early-media.js';

/** The trunk's RFC 3262 policy (`sip-trunk` field `prack`); the stack's default (`supported`) otherwise. */
function prackPolicy(value: unknown): { prack?: 'required' | 'supported' | 'off' } {
  return value === 'required' || value === 'supported' || value === 'off' ? { prack: value } : {};
}

/** How long an outbound call may ring before it is abandoned (a typical no-answer timeout). */
const OUTBOUND_RING_TIMEOUT_MS = 30_000;

export async function dialOutbound(deps: CallManagerDeps, request: DialRequest): Promise<EstablishedCall> {
  const plan = deps.dialplans().find((d) => d.dialplan.tenant === request.tenant);
  if (plan === undefined) throw new SipError(404, `tenant "${request.tenant}" has no dialplan`);
  const trunk = await deps.store.getCredential(request.tenant, 'sip-trunk');
  const trunkUri = typeof trunk?.fields.uri === 'string' ? trunk.fields.uri : undefined;
  // Issue 11: never a client's text on the wire. The OutboundGuard (main.ts) applied the tenant policy; here
  // the grammar is checked again and the Request-URI and From are rebuilt from parsed parts.
  const checked = checkOutbound({
    to: request.to,
    from: request.from,
    trusted: true,
    publicHost: deps.publicHost,
    policy: plan.dialplan.outbound,
  });
  const target = requestUriFor(checked.destination, trunkUri);
  // Through the trunk, its from_user/from_name/pai settings say who is calling (trunk-identity.ts).
  const trunkParts = trunkUri === undefined ? undefined : parseSipUri(trunkUri);
  const identity =
    checked.destination.kind === 'number' && trunkParts !== undefined
      ? trunkIdentity(trunk?.fields ?? {}, trunkParts, checked.fromUri)
      : { from: checked.fromUri, headers: {} };
  const pending = await deps.media.allocate();
  // The trunk's SRTP policy: `optional` is best-effort a=crypto in RTP/AVP, `required` is RTP/SAVP.
  const srtp = srtpPolicyOf(trunk?.fields.srtp);
  const crypto = srtp === 'off' ? undefined : offerCrypto();
  const offer = createOffer(
    { address: deps.publicHost, port: pending.localPort },
    crypto === undefined
      ? {}
      : { crypto: crypto.lines, protocol: srtp === 'required' ? 'RTP/SAVP' : 'RTP/AVP' },
  );
  const username = trunk?.fields.username;
  const password = trunk?.fields.password;
  // Only a call through the trunk takes its TLS opt-out; a full URI in `to` is always verified.
  const skipTlsVerify = checked.destination.kind === 'number' && trunk?.fields.tls_verify === false;
  // Early media (a 183 with SDP) starts the leg before the 200; what it carries waits for the agent.
  const earlyAudio = new EarlyAudioBuffer();
  const early = new EarlyMediaLeg({
    pending,
    offer,
    logger: deps.logger,
    onStart: (leg) => earlyAudio.record(leg),
    ...(crypto === undefined
      ? {}
      : { readKeys: (sdp: string) => answeredCrypto(crypto, sdp), requireKeys: srtp === 'required' }),
  });
  const invitedAtMs = Date.now();
  let dialog: Dialog;
  try {
    dialog = await deps.signaling.dial(target, {
      sdpOffer: offer,
      onEarlyMedia: early.onEarlySdp,
      ...prackPolicy(trunk?.fields.prack),
      // An unanswered outbound call gives up with 408 rather than hold the API request for Timer B.
      timeoutMs: OUTBOUND_RING_TIMEOUT_MS,
      ...(identity.from === undefined ? {} : { from: identity.from }),
      ...(Object.keys(identity.headers).length === 0 ? {} : { headers: identity.headers }),
      ...(skipTlsVerify ? { tlsVerify: false } : {}),
      ...(typeof username === 'string' && typeof password === 'string'
        ? { auth: { username, password } }
        : {}),
    });
  } catch (err) {
    earlyAudio.stop();
    early.release();
    throw err;
  }
  const answer = early.answer(dialog.remoteSdp);
  if (!answer.ok) {
    earlyAudio.stop();
    early.release();
    await dialog.hangup().catch(() => undefined);
    deps.logger.info({ detail: answer.detail }, 'outbound answer refused');
    throw new SipError(488, 'callee answered with unusable SDP');
  }
  const base = plan.dialplan.agent;
  const from = request.from ?? 'switchboard';
  const variables = outboundVariables({ tenant: request.tenant, from, to: request.to });
  const requested: AgentProfile = {
    ...base,
    ...(request.agent?.instructions === undefined ? {} : { instructions: request.agent.instructions }),
    ...(request.agent?.greeting === undefined ? {} : { greeting: request.agent.greeting }),
    ...(request.agent?.voice === undefined ? {} : { voice: request.agent.voice }),
    ...(request.agent?.model === undefined ? {} : { model: request.agent.model }),
    ...(request.outbound === undefined ? {} : { outbound: { ...base.outbound, ...request.outbound } }),
  };
  const log = deps.logger.child({ tenant: request.tenant, sipCallId: dialog.callId });
  const amd = request.amd ?? plan.dialplan.outbound.amd;
  return {
    tenant: request.tenant,
    profile: renderProfile(requested, variables, log),
    dialog,
    pending,
    negotiated: answer.negotiated,
    ...(answer.leg === undefined ? {} : { media: answer.leg, earlyAudio }),
    from,
    to: request.to,
    variables,
    invitedAtMs,
    ...(amd?.enabled === true && { amd }),
  };
}

function srtpPolicyOf(value: unknown): SrtpPolicy {
  return value === 'optional' || value === 'required' ? value : 'off';
}
