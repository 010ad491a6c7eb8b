import { z } from 'zod';
import { EXTRA_HEADER_NAME } from '../sip/caller-identity.js';

/** A tenant name: also used in Redis keys and URLs, so keep it to a safe alphabet. */
export const tenantNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "-" and "_", at most 63 characters');

const sipUri = z.string().regex(/^(sips?|tel):\S+$/, 'must be a sip:, sips: or tel: URI');

/**
 * An allowlist keyed by name, as an object without a prototype: `targets["constructor"]` or
 * `targets["__proto__"]` must be undefined like any other name nobody configured.
 */
function ownKeysOnly<V>(record: Record<string, V>): Record<string, V> {
  return Object.assign(Object.create(null) as Record<string, V>, record);
}

/** The URI an allowlist grants for `name`, by own property only; undefined for anything else. */
export function allowed<V>(list: Readonly<Record<string, V>> | undefined, name: unknown): V | undefined {
  if (list === undefined || typeof name !== 'string' || !Object.hasOwn(list, name)) return undefined;
  return list[name];
}

const transferSchema = z
  .object({
    /** Target name → SIP URI. The model only ever sees the names (an enum), never the URIs. */
    targets: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/), sipUri).transform(ownKeysOnly),
    method: z.enum(['refer', 'bridge']).default('refer'),
  })
  .strict();

const webhookSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/, 'a function name'),
    url: z.url({ protocol: /^https?$/ }),
    description: z.string().min(1),
    parameters: z.record(z.string(), z.unknown()).default({ type: 'object', properties: {} }),
    timeout_ms: z.number().int().min(100).max(30_000).default(5_000),
    /** Permit loopback/private addresses (off by default: SSRF protection). */
    allow_private: z.boolean().default(false),
  })
  .strict();

/**
 * Who stops the agent when the caller speaks (issue 14). `mode` absent: `server` where the provider can turn
 * its own auto-interrupt off (capabilities.serverInterruptions), else `provider`. The timings drive the
 * server's policy (src/call/turns/interruption-policy.ts) and are ignored in `provider` mode.
 */
const bargeInSchema = z
  .object({
    enabled: z.boolean().default(true),
    mode: z.enum(['server', 'provider']).optional(),
    /** Caller speech must last this long to confirm an interruption (never less than backchannel_max_ms). */
    min_speech_ms: z.number().int().min(100).max(5_000).default(400),
    /** With input transcripts: a transcript with at least this many words confirms at once. */
    min_words: z.number().int().min(1).max(20).optional(),
    /** Caller speech starting this soon after a reply's first audio is not a candidate (yet). */
    ignore_after_agent_start_ms: z.number().int().min(0).max(3_000).default(300),
    /** Paused this long without a confirmation: a false interruption, the reply resumes. */
    false_interruption_timeout_ms: z.number().int().min(300).max(10_000).default(1_500),
    /** Speech no longer than this is a backchannel ("mhm") or a noise: it never interrupts. */
    backchannel_max_ms: z.number().int().min(0).max(2_000).default(500),
  })
  .strict()
  .default({
    enabled: true,
    min_speech_ms: 400,
    ignore_after_agent_start_ms: 300,
    false_interruption_timeout_ms: 1_500,
    backchannel_max_ms: 500,
  });

export type BargeInProfile = z.infer<typeof bargeInSchema>;

/**
 * Turn settings (issue 14), mapped onto each provider's own fields (src/agent/providers/*). Ranges here are
 * the union of what providers accept; turn-support.ts then refuses, at load, any field the profile's
 * provider (or a failover target) cannot honour, naming the field and the provider.
 */
const turnSchema = z
  .object({
    vad: z.enum(['server_vad', 'semantic_vad']).default('server_vad'),
    /** semantic_vad only: how soon the model decides the caller has finished. */
    eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(),
    /** server_vad activation threshold: higher needs louder speech. */
    threshold: z.number().min(0).max(1).optional(),
    /** Silence that ends the caller's turn (server_vad). */
    silence_ms: z.number().int().min(0).max(10_000).optional(),
    /** Audio kept before the detected start of speech (server_vad). */
    prefix_padding_ms: z.number().int().min(0).max(5_000).optional(),
    /** The provider's input noise reduction: near_field (handset), far_field (speakerphone) or off. */
    noise_reduction: z.enum(['near_field', 'far_field', 'off']).optional(),
    transcription: z
      .object({
        enabled: z.boolean(),
        language: z
          .string()
          .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a language code such as "en" or "en-US"')
          .optional(),
        model: z.string().min(1).max(200).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.eagerness !== undefined && t.vad !== 'semantic_vad')
      ctx.addIssue({ code: 'custom', path: ['eagerness'], message: 'eagerness needs vad: semantic_vad' });
    if (t.vad === 'semantic_vad') {
      // semantic_vad has no padding/threshold/silence fields (providers-2.md §2.4).
      for (const field of ['threshold', 'silence_ms', 'prefix_padding_ms'] as const)
        if (t[field] !== undefined)
          ctx.addIssue({ code: 'custom', path: [field], message: `${field} needs vad: server_vad` });
    }
    if (
      t.transcription?.enabled === false &&
      (t.transcription.language ?? t.transcription.model) !== undefined
    )
      ctx.addIssue({
        code: 'custom',
        path: ['transcription', 'enabled'],
        message: 'language/model given but transcription is disabled',
      });
  });

export type TurnProfile = z.output<typeof turnSchema>;

export const agentProfileSchema = z
  .object({
    provider: z.string().min(1),
    model: z.string().min(1).optional(),
    voice: z.string().min(1).optional(),
    instructions: z.string().optional(),
    greeting: z.string().optional(),
    temperature: z.number().min(0).max(2).optional(),
    tools: z
      .object({
        transfer_call: transferSchema.optional(),
        end_call: z.object({}).strict().optional(),
        send_dtmf: z.object({}).strict().optional(),
        webhooks: z.array(webhookSchema).default([]),
        /** A webhook that has not returned within this many ms gets the filler (issue 14); unset: off. */
        filler_after_ms: z.number().int().min(200).max(10_000).optional(),
        /**
         * The filler: a short WAV clip ("One moment, please"), played on the call's playout. (A spoken
         * phrase by the model is not offered: sendText is a user turn, not a preamble.)
         */
        filler: z
          .object({ audio: z.string().min(1) })
          .strict()
          .optional(),
        /** A WAV looped after the filler while a long tool still runs. */
        hold_audio: z.string().min(1).optional(),
      })
      .strict()
      .default({ webhooks: [] }),
    barge_in: bargeInSchema,
    /** Turn detection, noise reduction and transcription at the provider (issue 14); absent: its defaults. */
    turn: turnSchema.optional(),
    /** Uplink clean-up before the provider hears anything (issue 14). */
    audio: z
      .object({
        /**
         * Line echo canceller with what we sent on RTP as its reference (G.711 and G.722 calls). Off by
         * default until it is robust to the echo path moving with the jitter buffers (issue 14).
         */
        echo_cancel: z.boolean().default(false),
        /** Echo tail it covers: network round trip + the phone's hybrid + our jitter buffer. */
        echo_tail_ms: z.number().int().min(32).max(256).default(128),
        /**
         * Stationary background noise taken out of the caller's audio after the echo canceller (8 and 16 kHz
         * calls; adds 20 ms to the uplink). Off by default: a provider's own VAD may prefer the raw line.
         */
        noise_suppression: z.boolean().default(false),
      })
      .strict()
      .default({ echo_cancel: false, echo_tail_ms: 128, noise_suppression: false }),
    limits: z
      .object({
        max_duration_s: z.number().int().min(1).max(86_400).default(3600),
        idle_timeout_s: z.number().int().min(1).max(3600).default(30),
        /** Dead air inside a reply after which the provider counts as stalled (default 2000, issue 11). */
        provider_stall_ms: z.number().int().min(200).max(30_000).optional(),
        /** Neither side spoke for this long: the agent is prompted to check on the caller (issue 14). */
        reprompt_after_s: z.number().min(1).max(600).optional(),
        /** How many times before the idle timeout hangs up (unset or 0: never). */
        reprompts: z.number().int().min(0).max(10).optional(),
        /** The note the agent gets (a system message). */
        reprompt_text: z.string().min(1).max(500).optional(),
        /** Provider session cap to rotate before (default per provider: agent-handover.ts, issue 14). */
        session_max_s: z.number().int().min(10).max(86_400).optional(),
      })
      .strict()
      .default({ max_duration_s: 3600, idle_timeout_s: 30 }),
    /** Providers the call moves to, in order, when the current one fails for good (issue 15). */
    failover: z
      .array(
        z
          .object({
            provider: z.string().min(1),
            model: z.string().min(1).optional(),
            voice: z.string().min(1).optional(),
          })
          .strict(),
      )
      .max(4)
      .optional(),
    /** A short clip played while the call moves to the next provider (WAV/raw path, like fallback.audio). */
    failover_bridge_audio: z.string().min(1).optional(),
    fallback: z
      .object({ audio: z.string().min(1).optional(), transfer_to: z.string().min(1).optional() })
      .strict()
      .optional(),
    /** Phrases in the assistant transcript that end or transfer the call when the provider has no tools. */
    keywords: z
      .object({
        hangup: z.array(z.string().min(1)).default([]),
        transfer: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .optional(),
    record: z.boolean().default(false),
    /** Outbound calls: the greeting waits for the callee's first words, or this much silence (default 1000). */
    outbound: z
      .object({ greet_after_ms: z.number().int().min(0).max(30_000).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const targets = p.tools.transfer_call?.targets;
    if (p.fallback?.transfer_to !== undefined && allowed(targets, p.fallback.transfer_to) === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['fallback', 'transfer_to'],
        message: `"${p.fallback.transfer_to}" is not a transfer_call target`,
      });
    }
    if (p.tools.filler_after_ms !== undefined && p.tools.filler?.audio === undefined && !p.tools.hold_audio) {
      ctx.addIssue({
        code: 'custom',
        path: ['tools', 'filler', 'audio'],
        message: 'filler_after_ms needs a filler clip (filler.audio) or hold_audio to play',
      });
    }
    if ((p.limits.reprompts ?? 0) > 0 && p.limits.reprompt_after_s === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['limits', 'reprompt_after_s'],
        message: 'reprompts needs reprompt_after_s (how long a silence is)',
      });
    }
  });

/** A called user part: digits with optional leading "+", a SIP user name, or "*" for any. */
const numberPattern = z.string().regex(/^(\*|\+?[0-9A-Za-z_.*#-]{1,64})$/, 'a number, a SIP user or "*"');

/**
 * A number a tenant may call through its trunk: digits with an optional leading "+" (ignored when matching,
 * like the dialplan's own numbers), optionally ending in "*" for "any digits after this prefix"; "*" alone
 * is any number.
 */
const outboundPattern = z
  .string()
  .regex(/^(\*|\+?[0-9]{1,15}\*?)$/, 'digits with an optional leading "+" and trailing "*", or "*"');

/**
 * Answering-machine detection on an outbound call (issue 18): `POST /v1/calls` `amd`, or the dialplan's
 * `outbound.amd` default. The agent greets at once; the decision runs beside it (call/outbound/amd-call.ts).
 */
export const amdSettingsSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** A machine: hang up, leave `voicemail_message` after the beep, or let the agent carry on. */
    on_machine: z.enum(['hangup', 'voicemail', 'agent']).default('hangup'),
    voicemail_message: z.string().min(1).max(2_000).optional(),
  })
  .strict()
  .refine((a) => a.on_machine !== 'voicemail' || a.voicemail_message !== undefined, {
    message: 'on_machine "voicemail" needs a voicemail_message',
    path: ['voicemail_message'],
  });

/** What POST /v1/calls may do for this tenant (issue 11: no toll fraud through a tenant key). */
const outboundSchema = z
  .object({
    /** Numbers the tenant may dial; empty (the default): tenant keys cannot place calls. */
    allow: z.array(outboundPattern).default([]),
    max_concurrent_calls: z.number().int().min(1).max(10_000).default(10),
    calls_per_minute: z.number().int().min(1).max(10_000).default(30),
    /** The AMD default for this tenant's outbound calls; a request's own `amd` replaces it. */
    amd: amdSettingsSchema.optional(),
  })
  .strict();

/**
 * Inbound SIP digest authentication (issue 11), checked after `allow_from`: an INVITE without a valid
 * answer to our challenge gets 401, a wrong password 403, and neither takes an RTP port or an agent. The
 * username and password are the tenant's `sip-inbound` credential (admin-written, never returned).
 */
const inboundAuthSchema = z
  .object({
    credential: z.literal('sip-inbound').default('sip-inbound'),
    /** The challenge's realm (default: the tenant name); the caller's HA1 is computed over it. */
    realm: z
      .string()
      .regex(
        /^[\x20\x21\x23-\x5b\x5d-\x7e]{1,128}$/,
        'printable ASCII without " or \\, at most 128 characters',
      )
      .optional(),
    /** How long a nonce answers a challenge; an older one gets 401 `stale=true`. */
    nonce_ttl_s: z.number().int().min(1).max(3600).default(30),
  })
  .strict();

/**
 * Media security for this dialplan's inbound calls (issue 13, RFC 3711/4568): `optional` (default) answers
 * RTP/SAVP offers with SRTP and plain offers with RTP; `required` refuses plain offers with 488; `off`
 * refuses RTP/SAVP-only offers with 488 and answers best-effort a=crypto in RTP/AVP with plain RTP.
 */
export const srtpPolicySchema = z.enum(['off', 'optional', 'required']);

const mediaSchema = z.object({ srtp: srtpPolicySchema.default('optional') }).strict();

export const dialplanSchema = z
  .object({
    tenant: tenantNameSchema,
    numbers: z.array(numberPattern).min(1),
    allow_from: z.array(z.string()).optional(),
    auth: inboundAuthSchema.optional(),
    outbound: outboundSchema.default({ allow: [], max_concurrent_calls: 10, calls_per_minute: 30 }),
    /** Inbound calls this tenant may hold at once (INVITEs awaiting ACK included); beyond it 486 (issue 11). */
    limits: z
      .object({ max_concurrent_calls: z.number().int().min(1).max(100_000).optional() })
      .strict()
      .optional(),
    media: mediaSchema.default({ srtp: 'optional' }),
    /**
     * `X-` headers of the INVITE given to the agent as `{{sip.headers.<name>}}` and kept in the recording
     * metadata (caller-identity.ts; values cleaned and length-capped).
     */
    headers: z.array(z.string().regex(EXTRA_HEADER_NAME, 'an X- header name')).max(20).default([]),
    agent: agentProfileSchema,
  })
  .strict();

export type Dialplan = z.output<typeof dialplanSchema>;
export type AgentProfile = z.output<typeof agentProfileSchema>;
/** A profile as written (defaults not applied yet), e.g. overrides parsed again by the schema. */
export type AgentProfileInput = z.input<typeof agentProfileSchema>;
export type OutboundPolicy = z.output<typeof outboundSchema>;
export type AmdSettings = z.output<typeof amdSettingsSchema>;
export type InboundAuthPolicy = z.output<typeof inboundAuthSchema>;
export type FailoverTarget = NonNullable<AgentProfile['failover']>[number];
