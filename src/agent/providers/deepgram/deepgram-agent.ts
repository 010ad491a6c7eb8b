/**
 * Deepgram Voice Agent API v1 adapter, docs/reference/providers-2.md §7 (and providers.md §4.3).
 *
 * Verified against the recorded real frames (test/fixtures/providers/deepgram-agent/, [D2]):
 * - Handshake: `Welcome{request_id}` first, then our `Settings`, then `SettingsApplied` (+~40 ms).
 * - Settings shape: listen/think/speak `{provider:{type, model}}`, `think.prompt`, `think.functions`
 *   (name/description/JSON-schema parameters), `speak` also as an array of fallbacks.
 * - Text turns: `InjectUserMessage{content}` → `ConversationText{user}` → `History` → `EndOfThought` →
 *   `ConversationText{assistant}` (one or more) → `AgentStartedSpeaking{latencies}` → … → `AgentAudioDone`;
 *   `History` and `EndOfThought` are tolerated and ignored. Used for greet() and sendText().
 * - Tools: `FunctionCallRequest{functions:[{id, name, arguments:<JSON string>, client_side}]}`, several
 *   back-to-back for one turn, each answered by id with `FunctionCallResponse{id, name, content}`.
 *
 * Documentation only (UNVERIFIED: the recordings hold no audio frames, no barge-in and no error):
 * - Audio as binary frames both ways, raw μ-law/A-law 8 kHz or linear16 with `container:"none"`, so a G.711
 *   call needs no decode or resample [D1][D3]. Audio is sent only after SettingsApplied [D3].
 * - Barge-in: `UserStartedSpeaking` → 'user.speech.started'; the server stops the reply by itself and there
 *   is no cancel or truncate message [D3]: interrupt() sends nothing and drops the cut-off reply's late audio
 *   locally (frames carry no id; see replies.ts). capabilities.truncate is false.
 * - `KeepAlive` text frame after 8 s without audio (idle timeout → Error CLIENT_MESSAGE_TIMEOUT) [D3].
 * - `Error{code, description}` is fatal (the server closes soon after) [D3]; INTERNAL_SERVER_ERROR and
 *   CLIENT_MESSAGE_TIMEOUT are reported retryable (a new session may work). `Warning` and `InjectionRefused`
 *   are non-fatal errors.
 * - `UpdatePrompt{prompt}` for updateInstructions(); `agent.context.messages` (`{type:'History', role,
 *   content}`) seeds options.history and, after a dropped socket, the turns seen so far (Deepgram has no
 *   session resumption: a reconnect is a new session with the conversation re-sent).
 * - Auth `Authorization: Token <key>`; a bad key is refused at the upgrade (HTTP 401).
 */
import { randomUUID } from 'node:crypto';
import { AgentError, type AgentOptions, type ConversationTurn } from '../../agent.js';
import { BaseAgent, audioBytes, settled } from '../../base-agent.js';
import type { AgentErrorEvent } from '../../events.js';
import type { AgentDeps } from '../../provider.js';
import { SetupGate } from '../../transport/setup-gate.js';
import { WsSession } from '../../transport/ws-session.js';
import { fatalError, injectionRefused, warning } from './errors.js';
import { DeepgramReplies } from './replies.js';
import {
  isKnownServerMessage,
  serverMessageSchemas,
  type DeepgramClientMessage,
  type DeepgramServerMessage,
  type DeepgramServerType,
} from './schemas.js';
import { buildSettings, type DeepgramSettingsCredential } from './settings.js';
import { bytesPerMs, KeepAlivePacer } from './wire.js';
import { parseToolArguments } from '../../tool-arguments.js';

export const DEFAULT_DEEPGRAM_URL = 'wss://agent.deepgram.com/v1/agent/converse';
/** "Send KeepAlive every 8 s while not streaming audio" [D3]. */
const KEEPALIVE_MS = 8000;
/** Turns kept to re-seed a session after a reconnect. */
const MAX_HISTORY_TURNS = 50;

export interface DeepgramCredential extends DeepgramSettingsCredential {
  readonly apiKey: string;
  readonly url?: string | undefined;
}

/** Adapter tuning that tests shorten. */
export interface DeepgramTuning {
  readonly keepAliveMs?: number;
}

type SetupStep = 'Welcome' | 'SettingsApplied';
type Waiter = { resolve: () => void; reject: (e: AgentError) => void };

export class DeepgramAgent extends BaseAgent {
  readonly #session: WsSession;
  readonly #gate: SetupGate;
  readonly #credential: DeepgramCredential;
  readonly #replies = new DeepgramReplies(() => randomUUID().slice(0, 8));
  readonly #now: () => number;
  readonly #bytesPerMs: { readonly input: number; readonly output: number };
  #instructions: string | undefined;
  #starting: Promise<void> | undefined;
  #requestId: string | undefined;
  #waiters = new Map<SetupStep, Waiter>();
  /** Name of each client-side call awaiting its FunctionCallResponse (the response must carry it). */
  readonly #pendingCalls = new Map<string, string>();
  /** options.history plus every final ConversationText since, for a reconnect. */
  readonly #history: ConversationTurn[];
  readonly #keepAlive: KeepAlivePacer;

  constructor(
    credential: DeepgramCredential,
    options: AgentOptions,
    deps: AgentDeps,
    tuning: DeepgramTuning = {},
  ) {
    super('deepgram', options);
    this.#credential = credential;
    this.#instructions = options.instructions;
    this.#history = [...(options.history ?? [])];
    this.#now = deps.now ?? Date.now;
    this.#keepAlive = new KeepAlivePacer(tuning.keepAliveMs ?? KEEPALIVE_MS, this.#now);
    this.#bytesPerMs = { input: bytesPerMs(options.inputFormat), output: bytesPerMs(options.outputFormat) };
    this.#session = new WsSession({
      url: credential.url ?? DEFAULT_DEEPGRAM_URL,
      headers: { Authorization: `Token ${credential.apiKey}` },
      logger: this.log,
      ...(deps.webSocketFactory !== undefined ? { webSocketFactory: deps.webSocketFactory } : {}),
      onOpen: (info) => this.#onOpen(info.reconnect),
      onMessage: (data, isBinary) => this.#onMessage(data, isBinary),
    });
    this.#gate = new SetupGate(this.#session);
    this.#session.on('open', () => this.#gate.flush());
    this.#session.on('reconnecting', ({ attempt, reason }) => this.#onReconnecting(attempt, reason));
    this.#session.on('error', (e) => this.#fatal(e));
    this.#session.on('closed', ({ reason }) => void this.closeWith(`provider session closed: ${reason}`));
  }

  start(): Promise<void> {
    this.assertOpen();
    this.#starting ??= this.#session.connect().then(() => {
      this.#keepAlive.start(() => this.#sendKeepAlive());
      this.emit('session.open', this.#requestId !== undefined ? { sessionId: this.#requestId } : {});
    });
    return this.#starting;
  }

  greet(): Promise<void> {
    return settled(() => {
      this.assertOpen();
      if (this.options.greeting === undefined) return;
      // The greeting is an instruction, so it goes in as a user turn; agent.greeting would be read verbatim.
      this.#send({ type: 'InjectUserMessage', content: this.options.greeting });
    });
  }

  pushAudio(audio: Buffer | Int16Array): void {
    this.assertOpen();
    const bytes = audioBytes(audio);
    if (bytes.length === 0) return;
    this.options.wireTap?.('out', {
      type: 'Audio',
      audio: { audioMs: bytes.length / this.#bytesPerMs.input, bytes: bytes.length },
    });
    this.#keepAlive.sent();
    // Binary frame of raw bytes [D1]; copied, because the caller reuses its buffer and the queue keeps it.
    this.#session.sendAudio(Buffer.from(bytes));
  }

  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void> {
    return settled(() => {
      this.assertOpen();
      // No cancel/truncate message exists [D3]: stop passing the reply on; the server's history keeps it.
      const cut = this.#replies.cut();
      this.log.debug({ playedMs: heard.playedMs, responseId: cut?.responseId }, 'local interrupt');
      if (cut !== undefined)
        this.emit('assistant.turn.end', { responseId: cut.responseId, status: 'cancelled' });
    });
  }

  sendToolResult(callId: string, result: unknown): Promise<void> {
    return settled(() => {
      this.assertOpen();
      const name = this.#pendingCalls.get(callId);
      if (name === undefined) {
        throw new AgentError('AGENT_PROTOCOL', `no pending Deepgram function call ${callId}`);
      }
      this.#pendingCalls.delete(callId);
      const content = typeof result === 'string' ? result : JSON.stringify(result ?? null);
      this.#send({ type: 'FunctionCallResponse', id: callId, name, content });
    });
  }

  sendText(text: string): Promise<void> {
    return settled(() => {
      this.assertOpen();
      if (text === '') return;
      this.#send({ type: 'InjectUserMessage', content: text });
    });
  }

  updateInstructions(text: string): Promise<void> {
    return settled(() => {
      this.assertOpen();
      this.#instructions = text;
      this.#send({ type: 'UpdatePrompt', prompt: text });
    });
  }

  protected async doClose(): Promise<void> {
    this.#keepAlive.stop();
    for (const w of this.#waiters.values()) w.reject(new AgentError('AGENT_CLOSED', 'closed'));
    this.#waiters.clear();
    await this.#session.close(1000, 'normal');
  }

  // --------------------------------------------------------------------------------------- connection

  async #onOpen(reconnect: boolean): Promise<void> {
    this.#gate.hold();
    this.#waiters.clear();
    // "Do not send any messages until you receive the Welcome" [D3].
    await this.#wait('Welcome');
    const applied = this.#wait('SettingsApplied');
    const settings = buildSettings(this.options, this.#credential, this.#instructions, this.#history);
    this.options.wireTap?.('out', settings);
    this.#session.send(JSON.stringify(settings));
    // "Do not send audio or inject messages until SettingsApplied" [D3]: WsSession holds audio until onOpen
    // resolves and the gate holds control messages.
    await applied;
    this.#keepAlive.sent();
    this.#gate.release();
    this.log.debug({ reconnect, historyTurns: this.#history.length }, 'deepgram settings applied');
  }

  #wait(step: SetupStep): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#waiters.set(step, { resolve, reject }));
  }

  #settle(step: SetupStep): void {
    const w = this.#waiters.get(step);
    this.#waiters.delete(step);
    w?.resolve();
  }

  #onReconnecting(attempt: number, reason: string): void {
    this.#gate.hold();
    const active = this.#replies.abandon();
    if (active !== undefined) {
      this.emit('assistant.turn.end', { responseId: active.responseId, status: 'incomplete' });
    }
    // Calls of the lost session cannot be answered on the new one.
    this.#pendingCalls.clear();
    if (attempt === 1) {
      this.emitError({
        code: 'AGENT_CONNECTION_LOST',
        message: `Deepgram connection lost (${reason}); reconnecting with the conversation so far`,
        fatal: false,
        retryable: true,
      });
    }
  }

  #fatal(e: AgentErrorEvent): void {
    this.emitError(e);
    void this.closeWith('provider connection lost');
  }

  #send(message: DeepgramClientMessage): void {
    this.options.wireTap?.('out', message);
    this.#keepAlive.sent();
    this.#gate.send(JSON.stringify(message));
  }

  /** A text frame, never binary [D3]; no reply comes back. False while setting up or reconnecting. */
  #sendKeepAlive(): boolean {
    if (!this.#gate.ready || !this.#session.isOpen) return false;
    this.#session.send(JSON.stringify({ type: 'KeepAlive' }));
    return true;
  }

  // ------------------------------------------------------------------------------------------ messages

  #onMessage(data: Buffer | string, isBinary: boolean): void {
    if (isBinary && Buffer.isBuffer(data)) {
      this.#onAudio(data);
      return;
    }
    const text = typeof data === 'string' ? data : data.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.log.debug('deepgram: non-JSON text frame ignored');
      return;
    }
    this.options.wireTap?.('in', json);
    const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !isKnownServerMessage(type)) {
      this.log.debug({ type }, 'deepgram: message ignored');
      return;
    }
    const parsed = serverMessageSchemas[type].safeParse(json);
    if (!parsed.success) {
      this.log.debug({ type, issues: parsed.error.issues.length }, 'deepgram: malformed message ignored');
      return;
    }
    this.#dispatch(type, parsed.data);
  }

  #onAudio(frame: Buffer): void {
    const reply = this.#replies.audio();
    this.options.wireTap?.('in', {
      type: 'AgentAudio',
      audio: { audioMs: frame.length / this.#bytesPerMs.output, bytes: frame.length },
      dropped: reply === undefined,
    });
    if (reply === undefined) return;
    this.emit('assistant.audio', { audio: frame, itemId: reply.itemId, responseId: reply.responseId });
  }

  #dispatch(type: DeepgramServerType, m: unknown): void {
    const as = <T extends DeepgramServerType>(_t: T): DeepgramServerMessage<T> =>
      m as DeepgramServerMessage<T>;
    switch (type) {
      case 'Welcome':
        this.#requestId = as(type).request_id ?? this.#requestId;
        this.#settle(type);
        return;
      case 'SettingsApplied':
        this.#settle(type);
        return;
      case 'UserStartedSpeaking': {
        // The server stops the reply itself; what is still in flight must not play [D3].
        const cut = this.#replies.cut();
        this.emit('user.speech.started', {});
        if (cut !== undefined)
          this.emit('assistant.turn.end', { responseId: cut.responseId, status: 'cancelled' });
        return;
      }
      case 'ConversationText':
        return this.#onConversationText(as(type));
      case 'AgentStartedSpeaking':
        this.#replies.open();
        return;
      case 'AgentAudioDone': {
        const done = this.#replies.done();
        if (done !== undefined)
          this.emit('assistant.turn.end', { responseId: done.responseId, status: 'completed' });
        return;
      }
      case 'FunctionCallRequest':
        return this.#onFunctionCallRequest(as(type));
      case 'Warning':
        this.emitError(warning(as(type)));
        return;
      case 'InjectionRefused':
        this.emitError(injectionRefused(as(type)));
        return;
      case 'Error':
        return this.#onError(as(type));
      case 'AgentThinking':
      case 'FunctionCallResponse':
      case 'History':
      case 'EndOfThought':
      case 'PromptUpdated':
      case 'SpeakUpdated':
      case 'ThinkUpdated':
        this.log.debug({ type }, 'deepgram: informational message');
        return;
    }
  }

  #onConversationText(m: DeepgramServerMessage<'ConversationText'>): void {
    this.#remember({ role: m.role, text: m.content });
    if (m.role === 'user') {
      this.emit('user.transcript', { text: m.content, final: true });
      return;
    }
    const reply = this.#replies.open();
    this.emit('assistant.text', {
      text: m.content,
      final: true,
      itemId: reply.itemId,
      responseId: reply.responseId,
    });
  }

  #onFunctionCallRequest(m: DeepgramServerMessage<'FunctionCallRequest'>): void {
    for (const f of m.functions) {
      // client_side:false runs on Deepgram's side, which reports its own FunctionCallResponse [D1].
      if (!f.client_side) continue;
      this.#pendingCalls.set(f.id, f.name);
      const args = parseToolArguments(f.arguments);
      if (args === undefined)
        this.log.warn({ callId: f.id, name: f.name }, 'deepgram: arguments are not a JSON object');
      this.emit('tool.call', { callId: f.id, name: f.name, args: args ?? {} });
    }
  }

  #onError(m: DeepgramServerMessage<'Error'>): void {
    const e = fatalError(m);
    if (!this.#gate.ready && this.#waiters.size > 0) {
      // During setup (bad Settings): fail this attempt; start() rejects or the reconnect reports it.
      const err = new AgentError('AGENT_PROVIDER_ERROR', e.message, { retryable: false });
      for (const w of this.#waiters.values()) w.reject(err);
      this.#waiters.clear();
      return;
    }
    // "The connection often closes shortly after" [D3]: the session is over.
    this.emitError(e);
    void this.closeWith('provider error');
  }

  #remember(turn: ConversationTurn): void {
    this.#history.push(turn);
    if (this.#history.length > MAX_HISTORY_TURNS) this.#history.shift();
  }
}
