/**
 * The per-call variables an agent profile's instructions and greeting are rendered with (templates.ts), and
 * that the recording metadata keeps: who called (From, and what the network asserts: P-Asserted-Identity,
 * Remote-Party-ID), who was called, how the call got here (Diversion, History-Info) and the dialplan's
 * configured `X-` headers. Every value from the INVITE is cleaned and length-capped (caller-identity.ts).
 */
import type { Logger } from '../observability/logger.js';
import type { AgentProfile } from '../routing/dialplan.js';
import { renderTemplate } from '../routing/templates.js';
import { cleanValue, parseCallerIdentity, type PartyIdentity } from '../sip/caller-identity.js';
import type { IncomingCall } from '../sip/signaling.js';

export type CallVariables = Readonly<Record<string, string>>;

function put(vars: Record<string, string>, name: string, value: string | undefined): void {
  if (value !== undefined && value !== '') vars[name] = value;
}

function putParty(vars: Record<string, string>, prefix: string, p: PartyIdentity | undefined): void {
  if (p === undefined) return;
  put(vars, `${prefix}.number`, p.number);
  put(vars, `${prefix}.name`, p.name);
  put(vars, `${prefix}.uri`, p.uri);
}

/** The variables of an inbound call. `extraHeaders`: the dialplan's `headers` list. */
export function inboundVariables(p: {
  readonly call: IncomingCall;
  readonly id: string;
  readonly tenant: string;
  readonly calledNumber: string;
  readonly extraHeaders: readonly string[];
}): CallVariables {
  const vars: Record<string, string> = Object.create(null) as Record<string, string>;
  const identity = parseCallerIdentity((name) => p.call.headerValues(name), p.extraHeaders);
  put(vars, 'tenant', p.tenant);
  put(vars, 'call.id', p.id);
  put(vars, 'call.direction', 'inbound');
  put(vars, 'called.number', cleanValue(p.calledNumber));
  put(vars, 'caller.number', cleanValue(p.call.from.user));
  put(vars, 'caller.name', cleanValue(p.call.from.displayName ?? ''));
  put(vars, 'caller.uri', cleanValue(p.call.from.uri));
  // RFC 3325: a sip: and a tel: identity may both be asserted; the tel: number is the canonical one.
  const [firstPai] = identity.assertedIdentities;
  const telPai = identity.assertedIdentities.find((a) => a.uri.toLowerCase().startsWith('tel:'));
  putParty(vars, 'caller.pai', telPai ?? firstPai);
  const rpid = identity.remotePartyId;
  putParty(vars, 'caller.rpid', rpid);
  put(vars, 'caller.rpid.party', rpid?.params.party);
  put(vars, 'caller.rpid.screen', rpid?.params.screen);
  put(vars, 'caller.rpid.privacy', rpid?.params.privacy);
  // The number the network vouches for: PAI, else RPID (unscreened From otherwise is only `caller.number`).
  const asserted = (telPai ?? firstPai)?.number || rpid?.number;
  put(vars, 'caller.asserted.number', asserted);
  // The name from whichever asserted identity carries one (a tel: URI usually has none).
  const assertedName = identity.assertedIdentities.find((a) => a.name !== undefined)?.name;
  put(vars, 'caller.asserted.name', assertedName ?? rpid?.name);
  put(vars, 'caller.privacy', identity.privacy);
  const [lastDiversion] = identity.diversions;
  putParty(vars, 'diversion', lastDiversion);
  put(vars, 'diversion.reason', lastDiversion?.params.reason);
  put(vars, 'diversion.counter', lastDiversion?.params.counter);
  put(vars, 'diversion.original.number', identity.diversions.at(-1)?.number);
  if (identity.diversions.length > 0) put(vars, 'diversion.count', String(identity.diversions.length));
  const history = identity.historyInfo;
  // RFC 7044: the first entry is the original target, the last is this request's; the one before it is
  // the last retarget (and carries the Reason why the call moved on).
  putParty(vars, 'history.original', history[0]);
  if (history.length >= 2) {
    const previous = history[history.length - 2];
    putParty(vars, 'history.last', previous);
    put(vars, 'history.reason', previous?.params.reason ?? history.at(-1)?.params.cause);
  }
  if (history.length > 0) put(vars, 'history.count', String(history.length));
  for (const [name, value] of Object.entries(identity.headers)) put(vars, `sip.headers.${name}`, value);
  return vars;
}

/** The variables of an outbound call placed through the API. */
export function outboundVariables(p: {
  readonly tenant: string;
  readonly from: string;
  readonly to: string;
}): CallVariables {
  const vars: Record<string, string> = Object.create(null) as Record<string, string>;
  put(vars, 'tenant', p.tenant);
  put(vars, 'call.direction', 'outbound');
  put(vars, 'caller.number', cleanValue(p.from));
  put(vars, 'called.number', cleanValue(p.to));
  return vars;
}

/** The profile with its instructions and greeting rendered; a missing variable is logged once per call. */
export function renderProfile(profile: AgentProfile, vars: CallVariables, log: Logger): AgentProfile {
  const instructions =
    profile.instructions === undefined ? undefined : renderTemplate(profile.instructions, vars);
  const greeting = profile.greeting === undefined ? undefined : renderTemplate(profile.greeting, vars);
  const missing = [...new Set([...(instructions?.missing ?? []), ...(greeting?.missing ?? [])])];
  if (missing.length > 0) log.warn({ missing }, 'profile template variables without a value (defaults used)');
  return {
    ...profile,
    ...(instructions === undefined ? {} : { instructions: instructions.text }),
    ...(greeting === undefined ? {} : { greeting: greeting.text }),
  };
}
