/**
 * Gemini Live (BidiGenerateContent) adapter, docs/reference/providers.md §2.
 *
 * - `setup` first, then nothing until `setupComplete` [G1]; replayed on every reconnect with the latest
 *   resumable `sessionResumptionUpdate.newHandle`, so goAway and dropped sockets are invisible to the call.
 * - The base protocol has no speech-started/stopped events [G2], so a local energy VAD over the caller audio
 *   reports `user.speech.*`; `serverContent.interrupted` also reports barge-in (deduplicated).
 * - No JSON error frames: errors are WebSocket closes [G1]; transient ones reconnect, the rest are fatal.
 */
import type { AgentErrorEvent } from '../../events.js';
import { AgentError, type AgentOptions } from '../../agent.js';
import type { AgentDeps } from '../../provider.js';
import { BaseAgent, audioBytes, settled } from '../../base-agent.js';
import { classifyCloseCode } from '../../transport/classify.js';
import { WsSession } from '../../transport/ws-session.js';
import { SetupGate } from '../../transport/setup-gate.js';
import { EnergyVad } from '../../vad.js';
import { serverMessageSchema, type GeminiClientMessage, type GeminiServerMessage } from './schemas.js';
import { buildSetup, DEFAULT_GEMINI_MODEL } from './setup.js';
import { GeminiTurns } from './turns.js';
import {
  audioMessage,
  durationMs,
  historyContent,
  INPUT_RATE_HZ,
  mimeRateHz,
  OUTPUT_RATE_HZ,
  tapClient,
  tapServer,
  userTurn,
  isPlainObject,
} from './wire.js';

export const DEFAULT_GEMINI_URL =
  'wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent';

export interface GeminiCredential {
  readonly apiKey: string;
  readonly url?: string | undefined;
  readonly model?: string | undefined;
  readonly contextWindowCompression?: boolean | undefined;
}

/** Close reasons that mean the key is wrong: retrying only burns quota. */
const AUTH_REASON = /api key|permission|unauthori[sz]ed|unauthenticated|credential/i;
/** Reconnect this long before a goAway deadline at the latest. */
const GO_AWAY_MARGIN_MS = 1000;

export class GeminiAgent extends BaseAgent {
  readonly #session: WsSession;
  readonly #credential: GeminiCredential;
  readonly #turns: GeminiTurns;
  readonly #vad: EnergyVad;
  #instructions: string | undefined;
  #handle: string | undefined;
  /** The handle the setup in flight carried (to drop it if the server refuses to resume). */
  #setupHandle: string | undefined;
  #sessionId: string | undefined;
  #starting: Promise<void> | undefined;
  /** Control messages wait here until setup completes on the current connection. */
  readonly #gate: SetupGate;
  #setupWaiter: { resolve: () => void; reject: (e: AgentError) => void } | undefined;
  #lastClose: { code: number; reason: string } | undefined;
  /** Tool call id → name (and whether the id was ours, because the server sent none). */
  readonly #calls = new Map<string, { name: string; synthetic: boolean }>();
  #callSeq = 0;
  #localSpeaking = false;
  #userTranscript = '';
  #userSeq = 0;
  #goAwayTimer: NodeJS.Timeout | undefined;
  #reconnectAfterTurn = false;
  #warnedRate = false;

  constructor(credential: GeminiCredential, options: AgentOptions, deps: AgentDeps) {
    super('gemini', options);
    this.#credential = credential;
    this.#instructions = options.instructions;
    this.#turns = new GeminiTurns({
      audio: (audio, turnId) => this.emit('assistant.audio', { audio, itemId: turnId, responseId: turnId }),
      text: (text, turnId, final) =>
        this.emit('assistant.text', { text, final, itemId: turnId, responseId: turnId }),
      turnEnd: (turnId, status) => this.emit('assistant.turn.end', { responseId: turnId, status }),
    });
    this.#vad = new EnergyVad(
      {
        sampleRateHz: INPUT_RATE_HZ,
        thresholdDbfs: -38,
        minSpeechMs: 100,
        minSilenceMs: options.vad?.silenceDurationMs ?? 500,
      },
      (t) => this.#onLocalVad(t.type, t.atMs),
    );
    const url = new URL(credential.url ?? DEFAULT_GEMINI_URL);
    // The documented Gemini API auth is the `key` query parameter [G1]; WsSession logs only origin + path.
    if (!url.searchParams.has('key')) url.searchParams.set('key', credential.apiKey);
    this.#session = new WsSession({
      url: url.toString(),
      logger: this.log,
      ...(deps.webSocketFactory !== undefined ? { webSocketFactory: deps.webSocketFactory } : {}),
      onOpen: (info) => this.#onOpen(info.reconnect),
      onMessage: (data) => this.#onMessage(data),
      classifyClose: (code, reason) => this.#classifyClose(code, reason),
    });
    this.#session.on('reconnecting', ({ attempt, reason }) => this.#onReconnecting(attempt, reason));
    this.#gate = new SetupGate(this.#session);
    this.#session.on('open', () => this.#gate.flush());
    this.#session.on('error', (e) => this.#fatal(e));
    this.#session.on('closed', ({ reason }) => void this.closeWith(`provider session closed: ${reason}`));
  }

  start(): Promise<void> {
    this.assertOpen();
    this.#starting ??= this.#session.connect().then(
      () => {
        this.emit('session.open', this.#sessionId !== undefined ? { sessionId: this.#sessionId } : {});
      },
      (err: unknown) => {
        throw this.#startError(err);
      },
    );
    return this.#starting;
  }

  greet(): Promise<void> {
    return settled(() => {
      this.assertOpen();
      if (this.options.greeting === undefined) return;
      this.#sendControl(userTurn(this.options.greeting));
    });
  }

  pushAudio(audio: Buffer | Int16Array): void {
    this.assertOpen();
    const bytes = audioBytes(audio);
    if (bytes.length === 0) return;
    // Int16Array needs 2-byte alignment: copy once when the Buffer view is odd (STYLE.md §10).
    const aligned = bytes.byteOffset % 2 === 0 ? bytes : Buffer.from(bytes);
    this.#vad.process(new Int16Array(aligned.buffer, aligned.byteOffset, aligned.length >> 1));
    // base64 copies the samples, so the caller may reuse `audio` at once.
    const message = audioMessage(bytes.toString('base64'));
    this.options.wireTap?.('out', tapClient(message, bytes.length));
    this.#session.sendAudio(JSON.stringify(message));
  }

  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void> {
    return settled(() => {
      this.assertOpen();
      // No truncate message exists: the server either stopped on its own (`interrupted`) or keeps going, and
      // either way the rest of this turn is dropped here [G2].
      const cut = this.#turns.interrupt();
      this.log.debug({ playedMs: heard.playedMs, cut }, 'local interrupt');
    });
  }

  sendToolResult(callId: string, result: unknown): Promise<void> {
    return settled(() => {
      this.assertOpen();
      const call = this.#calls.get(callId);
      if (call === undefined) {
        this.log.warn({ callId }, 'tool result for an unknown or cancelled call dropped');
        return;
      }
      this.#calls.delete(callId);
      // `response` must be a JSON object [G4].
      const response = isPlainObject(result) ? result : { result };
      this.#sendControl({
        toolResponse: {
          functionResponses: [{ ...(call.synthetic ? {} : { id: callId }), name: call.name, response }],
        },
      });
    });
  }

  sendText(text: string): Promise<void> {
    return settled(() => {
      this.assertOpen();
      this.#sendControl(userTurn(text));
    });
  }

  updateInstructions(text: string): Promise<void> {
    return settled(() => {
      this.assertOpen();
      // systemInstruction is fixed by setup; it applies from the next (re)connect. Until then the change is
      // given as context without asking for a reply (turnComplete: false).
      this.#instructions = text;
      this.#sendControl(userTurn(`Updated instructions: ${text}`, false));
    });
  }

  protected async doClose(): Promise<void> {
    clearTimeout(this.#goAwayTimer);
    this.#setupWaiter = undefined;
    await this.#session.close(1000, 'normal');
  }

  // --------------------------------------------------------------------------------------- connection

  async #onOpen(reconnect: boolean): Promise<void> {
    this.#gate.hold();
    this.#lastClose = undefined;
    this.#setupHandle = reconnect ? this.#handle : undefined;
    const done = new Promise<void>((resolve, reject) => {
      this.#setupWaiter = { resolve, reject };
    });
    const setup = buildSetup({
      model: this.#credential.model ?? this.options.model ?? DEFAULT_GEMINI_MODEL,
      options: this.options,
      instructions: this.#instructions,
      resumptionHandle: this.#setupHandle,
      contextWindowCompression: this.#credential.contextWindowCompression ?? true,
    });
    this.options.wireTap?.('out', setup);
    this.#session.send(JSON.stringify(setup));
    await done;
    // A rotated or failed-over session starts with the conversation so far, before anything else is sent.
    const history = reconnect ? undefined : historyContent(this.options.history);
    if (history !== undefined) {
      this.options.wireTap?.('out', history);
      this.#session.send(JSON.stringify(history));
    }
    this.#gate.release();
    this.log.debug({ reconnect, resumed: this.#setupHandle !== undefined }, 'gemini setup complete');
  }

  #classifyClose(code: number, reason: string): { retryable: boolean } {
    this.#lastClose = { code, reason };
    const waiter = this.#setupWaiter;
    this.#setupWaiter = undefined;
    waiter?.reject(new AgentError('AGENT_CONNECT_FAILED', `closed during setup: ${code}`));
    if (AUTH_REASON.test(reason)) return { retryable: false };
    if (code === 1007 && this.#setupHandle !== undefined) {
      // The server refused to resume (observed as 1007 [G7]): start a fresh session on the next attempt.
      this.log.warn({ code }, 'gemini session resumption refused; starting a new session');
      this.#handle = undefined;
      return { retryable: true };
    }
    return classifyCloseCode(code, reason);
  }

  #onReconnecting(attempt: number, reason: string): void {
    this.#gate.hold();
    clearTimeout(this.#goAwayTimer);
    this.#reconnectAfterTurn = false;
    this.#turns.abandon();
    if (attempt === 1 && reason.startsWith('closed ')) {
      // A transient server failure (e.g. 1011): the session survives through resumption.
      const code = /^closed (\d+)/.exec(reason)?.[1];
      this.emitError({
        code: 'AGENT_PROVIDER_ERROR',
        message: `Gemini closed the connection (${reason}); resuming`,
        fatal: false,
        retryable: true,
        ...(code !== undefined ? { providerCode: code } : {}),
      });
    }
  }

  #fatal(e: AgentErrorEvent): void {
    this.emitError(e);
    void this.closeWith('provider connection lost');
  }

  #startError(err: unknown): AgentError {
    const close = this.#lastClose;
    if (
      close !== undefined &&
      (close.code === 1008 || AUTH_REASON.test(close.reason)) &&
      AUTH_REASON.test(close.reason)
    ) {
      return new AgentError('AGENT_AUTH_FAILED', `Gemini rejected the credential (close ${close.code})`, {
        cause: err,
      });
    }
    if (err instanceof AgentError) return err;
    return new AgentError('AGENT_CONNECT_FAILED', 'Gemini connect failed', { cause: err });
  }

  #sendControl(message: GeminiClientMessage): void {
    this.options.wireTap?.('out', message);
    const json = JSON.stringify(message);
    this.#gate.send(json);
  }

  #onGoAway(timeLeft: string | undefined): void {
    const leftMs = durationMs(timeLeft);
    this.log.info({ timeLeftMs: leftMs }, 'gemini goAway: resuming on a new connection');
    if (!this.#turns.inProgress) {
      this.#reconnect();
      return;
    }
    // Let the reply in progress finish on this connection, but not past the deadline.
    this.#reconnectAfterTurn = true;
    clearTimeout(this.#goAwayTimer);
    this.#goAwayTimer = setTimeout(() => this.#reconnect(), Math.max(0, (leftMs ?? 0) - GO_AWAY_MARGIN_MS));
  }

  #reconnect(): void {
    clearTimeout(this.#goAwayTimer);
    this.#reconnectAfterTurn = false;
    if (this.isClosed) return;
    void this.#session.reconnect('goAway');
  }

  // ------------------------------------------------------------------------------------------ messages

  #onMessage(data: Buffer | string): void {
    // Every server message is JSON, but it may arrive in a binary frame [G1].
    const text = typeof data === 'string' ? data : data.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.log.debug({ bytes: text.length }, 'gemini: non-JSON frame ignored');
      return;
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      this.log.debug({ issues: parsed.error.issues.length }, 'gemini: unrecognised message ignored');
      return;
    }
    const msg = parsed.data;
    this.options.wireTap?.('in', tapServer(msg));
    if (msg.setupComplete !== undefined) {
      this.#sessionId ??= msg.setupComplete.sessionId;
      const waiter = this.#setupWaiter;
      this.#setupWaiter = undefined;
      waiter?.resolve();
    }
    const update = msg.sessionResumptionUpdate;
    if (update?.newHandle !== undefined && update.newHandle !== '' && update.resumable !== false) {
      this.#handle = update.newHandle;
    }
    if (msg.serverContent !== undefined) this.#onServerContent(msg.serverContent);
    if (msg.toolCall?.functionCalls !== undefined) this.#onToolCalls(msg.toolCall.functionCalls);
    for (const id of msg.toolCallCancellation?.ids ?? []) {
      this.#calls.delete(id);
      this.log.info({ callId: id }, 'gemini cancelled a tool call');
    }
    if (msg.usageMetadata !== undefined) this.#onUsage(msg.usageMetadata);
    if (msg.serverContent?.turnComplete === true) this.#onTurnComplete();
    if (msg.goAway !== undefined) this.#onGoAway(msg.goAway.timeLeft);
  }

  #onServerContent(content: NonNullable<GeminiServerMessage['serverContent']>): void {
    if (content.interrupted === true) {
      // The server has already stopped generating: flush and drop the rest of the turn [G2].
      this.#turns.interrupt();
      if (!this.#localSpeaking) this.emit('user.speech.started', {});
    }
    for (const part of content.modelTurn?.parts ?? []) {
      const data = part.inlineData?.data;
      if (data === undefined || part.thought === true) continue;
      const rate = mimeRateHz(part.inlineData?.mimeType);
      if (rate !== undefined && rate !== OUTPUT_RATE_HZ && !this.#warnedRate) {
        this.#warnedRate = true;
        this.log.warn({ sampleRateHz: rate }, 'gemini audio at an unexpected rate');
      }
      this.#turns.audio(Buffer.from(data, 'base64'));
    }
    const out = content.outputTranscription?.text;
    if (out !== undefined) this.#turns.text(out);
    const input = content.inputTranscription;
    if (input !== undefined) {
      const itemId = `gemini-user-${this.#userSeq + 1}`;
      if (input.text !== undefined && input.text !== '') {
        this.#userTranscript += input.text;
        this.emit('user.transcript', { text: input.text, final: false, itemId });
      }
      if (input.finished === true) this.#finishUserTranscript();
    }
  }

  #onTurnComplete(): void {
    this.#finishUserTranscript();
    this.#turns.complete();
    if (this.#reconnectAfterTurn) this.#reconnect();
  }

  #finishUserTranscript(): void {
    if (this.#userTranscript === '') return;
    const text = this.#userTranscript;
    this.#userTranscript = '';
    this.emit('user.transcript', { text, final: true, itemId: `gemini-user-${++this.#userSeq}` });
  }

  #onToolCalls(
    calls: ReadonlyArray<{
      id?: string | undefined;
      name: string;
      args?: Record<string, unknown> | undefined;
    }>,
  ): void {
    for (const call of calls) {
      const synthetic = call.id === undefined || call.id === '';
      const callId = synthetic ? `gemini-call-${++this.#callSeq}` : call.id!;
      this.#calls.set(callId, { name: call.name, synthetic });
      this.emit('tool.call', { callId, name: call.name, args: call.args ?? {} });
    }
  }

  #onUsage(usage: NonNullable<GeminiServerMessage['usageMetadata']>): void {
    const audio = (details: typeof usage.promptTokensDetails): number | undefined =>
      details?.find((d) => d.modality === 'AUDIO')?.tokenCount;
    const inputAudioTokens = audio(usage.promptTokensDetails);
    const outputAudioTokens = audio(usage.responseTokensDetails);
    const responseId = this.#turns.currentTurnId;
    this.emit('usage', {
      inputTokens: usage.promptTokenCount ?? 0,
      outputTokens: usage.responseTokenCount ?? 0,
      ...(inputAudioTokens !== undefined ? { inputAudioTokens } : {}),
      ...(outputAudioTokens !== undefined ? { outputAudioTokens } : {}),
      ...(responseId !== undefined ? { responseId } : {}),
    });
  }

  #onLocalVad(type: 'start' | 'end', atMs: number): void {
    if (this.isClosed) return;
    this.#localSpeaking = type === 'start';
    if (type === 'start') this.emit('user.speech.started', { audioStartMs: atMs });
    else this.emit('user.speech.ended', { audioEndMs: atMs });
  }
}
