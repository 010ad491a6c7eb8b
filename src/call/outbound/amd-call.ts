/**
 * Answering-machine detection on a live outbound call (issue 18): taps the callee's decoded audio (it sits in
 * the uplink chain, after the clean-up stages) and the provider's user transcripts, and acts on the decision
 * (amd.ts) while the agent goes on talking — the greeting is never delayed by AMD:
 *
 * - machine + `hangup` ⇒ BYE, reason `amd-machine`; machine + `agent` ⇒ nothing, the agent carries on;
 * - machine + `voicemail` ⇒ at the end of the greeting (the beep, or 1 s of silence after it) the agent is cut
 *   off (flush + truncate, as a barge-in), asked to speak `voicemail_message`, and once that reply has played
 *   the call ends with `voicemail-left`;
 * - fax (CNG/CED) ⇒ `fax`, SIT ⇒ `sit`; human, screening and unknown ⇒ the call goes on.
 *
 * The decision goes to the timeline (`amd`), the 'call ended' log (summary()) and the
 * switchboard_amd_results_total counter.
 */
import type { Logger } from '../../observability/logger.js';
import type { AmdSettings } from '../../routing/dialplan.js';
import type { UplinkCleaner } from '../audio-bridge.js';
import type { CallMetrics } from '../call-metrics.js';
import type { EndReason } from '../session-types.js';
import { AnsweringMachineDetector, type AmdDecision, type GreetingEnd } from './amd.js';

/** Longest wait for the voicemail message to start and play out before hanging up anyway. */
const VOICEMAIL_MAX_MS = 60_000;

export interface AmdCallActions {
  /** Stop the agent's audio at once (flush the playout, truncate the reply). */
  cutAgent(): void;
  /** Ask the agent to say something (a user-side text message the model answers). */
  say(text: string): Promise<void>;
  /** Resolves once the next reply has started, played and drained (or after `maxWaitMs`). */
  waitForNextReply(maxWaitMs: number): Promise<void>;
  end(reason: EndReason): Promise<void>;
  timeline(kind: string, data: Record<string, unknown>): void;
}

export interface AmdCallDeps {
  readonly settings: AmdSettings;
  readonly sampleRateHz: number;
  readonly logger: Logger;
  readonly metrics: CallMetrics;
  readonly actions: AmdCallActions;
}

export interface AmdSummary extends AmdDecision {
  readonly greetingEnd?: GreetingEnd;
  readonly onMachine: AmdSettings['on_machine'];
}

/** The instruction that makes the agent leave the message (its words, not a paraphrase). */
export function voicemailInstruction(message: string): string {
  return (
    'The call reached an answering machine and its beep has sounded: it is recording now. Say exactly the ' +
    `following message, word for word, then stop talking: "${message}"`
  );
}

export class AmdCall implements UplinkCleaner {
  readonly #d: AmdCallDeps;
  readonly #detector: AnsweringMachineDetector;
  #decision: AmdDecision | undefined;
  #greetingEnd: GreetingEnd | undefined;

  private constructor(deps: AmdCallDeps, sampleRateHz: 8000 | 16000) {
    this.#d = deps;
    this.#detector = new AnsweringMachineDetector({
      sampleRateHz,
      expectTranscripts: true,
      onDecision: (d) => this.#onDecision(d),
      onGreetingEnd: (e) => this.#onGreetingEnd(e),
    });
  }

  /** The detector for this call, or undefined when AMD is off or the call's rate is not 8/16 kHz. */
  static create(
    call: { readonly amd?: AmdSettings; readonly metrics: CallMetrics },
    sampleRateHz: number,
    logger: Logger,
    actions: AmdCallActions,
  ): AmdCall | undefined {
    const settings = call.amd;
    if (settings?.enabled !== true) return undefined;
    if (sampleRateHz !== 8000 && sampleRateHz !== 16000) {
      logger.warn({ sampleRateHz }, 'answering-machine detection needs an 8 or 16 kHz codec; off');
      return undefined;
    }
    return new AmdCall({ settings, sampleRateHz, logger, metrics: call.metrics, actions }, sampleRateHz);
  }

  /** The uplink chain with this detector listening after `cleaner` (the clean-up stages, if any). */
  after(cleaner: UplinkCleaner | undefined): UplinkCleaner {
    if (cleaner === undefined) return this;
    return { process: (pcm) => (cleaner.process(pcm), this.process(pcm)) };
  }

  /** One decoded callee frame (the uplink chain calls it; the frame is not modified). */
  process(pcm: Int16Array): void {
    if (this.#detector.listening) this.#detector.process(pcm);
  }

  transcript(text: string): void {
    if (this.#detector.listening) this.#detector.transcript(text);
  }

  summary(): AmdSummary | undefined {
    if (this.#decision === undefined) return undefined;
    return {
      ...this.#decision,
      onMachine: this.#d.settings.on_machine,
      ...(this.#greetingEnd !== undefined && { greetingEnd: this.#greetingEnd }),
    };
  }

  close(): void {
    this.#detector.close();
  }

  #onDecision(decision: AmdDecision): void {
    const { actions, metrics, logger, settings } = this.#d;
    this.#decision = decision;
    metrics.amdResults.inc({ result: decision.result });
    actions.timeline('amd', { ...decision, onMachine: settings.on_machine });
    logger.info({ amd: decision }, 'answering-machine detection decided');
    if (decision.result === 'fax' || decision.result === 'sit') void actions.end(decision.result);
    else if (decision.result === 'machine' && settings.on_machine === 'hangup')
      void actions.end('amd-machine');
  }

  #onGreetingEnd(end: GreetingEnd): void {
    const { actions, settings } = this.#d;
    this.#greetingEnd = end;
    actions.timeline('amd.greeting-end', { ...end });
    if (settings.on_machine !== 'voicemail' || settings.voicemail_message === undefined) return;
    void this.#leaveVoicemail(settings.voicemail_message);
  }

  async #leaveVoicemail(message: string): Promise<void> {
    const { actions, logger } = this.#d;
    actions.cutAgent();
    const played = actions.waitForNextReply(VOICEMAIL_MAX_MS);
    try {
      await actions.say(voicemailInstruction(message));
      await played;
    } catch (err) {
      logger.warn({ err }, 'voicemail message failed');
    }
    await actions.end('voicemail-left');
  }
}
