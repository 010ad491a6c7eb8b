import type { Logger } from '../../observability/logger.js';
import { allowed, type AgentProfile } from '../../routing/dialplan.js';
import { callWebhook, type Resolve, type WebhookResult } from './webhook.js';

export interface ToolCall {
  readonly callId: string;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface TransferTarget {
  readonly name: string;
  readonly uri: string;
  readonly method: 'refer' | 'bridge';
}

export interface TransferOutcome {
  readonly ok: boolean;
  /** The call left this server (REFER accepted, or bridged): the agent is done. */
  readonly callLeft: boolean;
  readonly status?: number;
  /** How the call left: a REFER that fell back to a bridge is still bridged, and must not be hung up. */
  readonly via?: 'refer' | 'bridge';
  readonly message: string;
}

/** What the dispatcher may do to the call; the CallSession supplies these. */
export interface ToolActions {
  /** Resolves when the reply in progress has finished playing, or after `maxWaitMs`. */
  waitForPlayout(maxWaitMs: number): Promise<void>;
  hangup(reason: string): Promise<void>;
  transfer(target: TransferTarget): Promise<TransferOutcome>;
  sendDtmf(digits: string): Promise<void>;
  sendToolResult(callId: string, result: unknown): Promise<void>;
}

export interface ToolOutcome {
  readonly callId: string;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly ok: boolean;
  readonly result: unknown;
}

const PLAYOUT_WAIT_MS = 10_000;

/**
 * The model's tool call marks intent; the server decides and acts (DESIGN.md §4): only tools the profile
 * enables, only allow-listed transfer targets, and hang-up/transfer after the current sentence has played.
 */
export class ToolDispatcher {
  readonly #profile: AgentProfile;
  readonly #actions: ToolActions;
  readonly #log: Logger;
  readonly #resolve: Resolve | undefined;
  readonly #context: { callId: string; tenant: string };
  #ending = false;

  constructor(options: {
    profile: AgentProfile;
    actions: ToolActions;
    logger: Logger;
    context: { callId: string; tenant: string };
    resolve?: Resolve;
  }) {
    this.#profile = options.profile;
    this.#actions = options.actions;
    this.#log = options.logger;
    this.#resolve = options.resolve;
    this.#context = options.context;
  }

  /** True once end_call or a transfer has taken the call away from the agent. */
  get ending(): boolean {
    return this.#ending;
  }

  async handle(call: ToolCall): Promise<ToolOutcome> {
    const done = async (ok: boolean, result: unknown, reply = true): Promise<ToolOutcome> => {
      if (reply) {
        try {
          await this.#actions.sendToolResult(call.callId, result);
        } catch (err) {
          this.#log.warn({ err, tool: call.name }, 'could not return tool result');
        }
      }
      return { callId: call.callId, name: call.name, args: call.args, ok, result };
    };
    const tools = this.#profile.tools;
    switch (call.name) {
      case 'end_call': {
        if (tools.end_call === undefined) return done(false, { error: 'end_call is not enabled' });
        this.#ending = true;
        await this.#actions.waitForPlayout(PLAYOUT_WAIT_MS);
        await this.#actions.hangup('end_call');
        return done(true, { ok: true }, false);
      }
      case 'transfer_call': {
        const transfer = tools.transfer_call;
        const destination = call.args.destination;
        if (transfer === undefined) return done(false, { error: 'transfer_call is not enabled' });
        // Own properties only: "constructor" or "__proto__" from the model is just an unknown name.
        const uri = allowed(transfer.targets, destination);
        if (typeof destination !== 'string' || uri === undefined) {
          const names = Object.keys(transfer.targets);
          return done(false, { error: `unknown transfer destination; allowed: ${names.join(', ')}` });
        }
        this.#ending = true;
        await this.#actions.waitForPlayout(PLAYOUT_WAIT_MS);
        const outcome = await this.#actions.transfer({ name: destination, uri, method: transfer.method });
        if (outcome.callLeft) return done(outcome.ok, outcome, false);
        this.#ending = false;
        return done(false, { error: `transfer failed: ${outcome.message}` });
      }
      case 'send_dtmf': {
        const digits = call.args.digits;
        if (tools.send_dtmf === undefined) return done(false, { error: 'send_dtmf is not enabled' });
        if (typeof digits !== 'string' || !/^[0-9*#A-Da-d]{1,32}$/.test(digits)) {
          return done(false, { error: 'digits must be 1-32 of 0-9, *, #, A-D' });
        }
        await this.#actions.sendDtmf(digits.toUpperCase());
        return done(true, { ok: true, sent: digits.toUpperCase() });
      }
      default: {
        const hook = tools.webhooks.find((h) => h.name === call.name);
        if (hook === undefined) return done(false, { error: `unknown tool "${call.name}"` });
        const result: WebhookResult = await callWebhook(
          {
            url: hook.url,
            args: call.args,
            timeoutMs: hook.timeout_ms,
            allowPrivate: hook.allow_private,
            context: { ...this.#context, tool: hook.name },
          },
          ...(this.#resolve === undefined ? [] : [this.#resolve]),
        );
        return done(result.ok, result.ok ? result.body : { error: result.error });
      }
    }
  }
}
