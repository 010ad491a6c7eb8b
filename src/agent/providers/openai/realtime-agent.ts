/**
 * The OpenAI Realtime adapter (GA and beta protocols; also used for Azure OpenAI): translates the Agent
 * contract to the WebSocket protocol in docs/reference/providers.md §1. Transport concerns (retry, audio
 * queue, heartbeat, reconnect) live in WsSession; response sequencing and barge-in bookkeeping live in
 * ResponseSequencer and AssistantAudioTracker.
 */
import type { ClientOptions } from 'ws';
import type WebSocket from 'ws';
import { AgentError, type AgentOptions } from '../../agent.js';
import { BaseAgent, audioBytes } from '../../base-agent.js';
import type { AgentDeps } from '../../provider.js';
import { WsSession } from '../../transport/ws-session.js';
import { AssistantAudioTracker } from './audio-tracker.js';
import { ResponseSequencer, type ResponseParams } from './response-sequencer.js';
import { parseServerEvent, type AnyServerEvent, type ServerEvent, type ServerItem } from './schemas.js';
import {
  buildInstructionsUpdate,
  buildSessionUpdate,
  bytesPerMs,
  isSupportedFormat,
  type Dialect,
} from './session-config.js';
import { historyItems } from './history.js';
import { ToolCallTracker } from './tool-calls.js';
import { tapInbound, tapOutboundAudio } from './wire-tap.js';

/** Where and how to connect; built from a credential by the openai / azure-openai definitions. */
export interface OpenAIConnection {
  readonly url: string;
  /** Handshake headers (Authorization / api-key / OpenAI-Beta). Never logged. */
  readonly headers: Record<string, string>;
  readonly dialect: Dialect;
  readonly model: string;
  /** Input transcription model (OpenAI) or deployment (Azure); undefined = off. */
  readonly transcriptionModel?: string | undefined;
}

/** Error codes the adapter handles itself instead of reporting (providers.md §1.6, §1.7). */
const COLLISION_CODE = 'conversation_already_has_active_response';
const CANCEL_NOT_ACTIVE_CODE = 'response_cancel_not_active';
/** Codes after which the server ends the session (60-minute limit [S12]). */
const FATAL_CODES = new Set(['session_expired']);
const SESSION_UPDATED_TIMEOUT_MS = 10_000;
/** input_audio_buffer.append batches at least this much audio (one RTP frame). */
const MIN_APPEND_MS = 20;

export class OpenAIRealtimeAgent extends BaseAgent {
  readonly #conn: OpenAIConnection;
  readonly #deps: AgentDeps;
  readonly #inBytesPerMs: number;
  readonly #minAppendBytes: number;
  readonly #batch: Buffer;
  #batchBytes = 0;
  readonly #responses: ResponseSequencer;
  readonly #audio: AssistantAudioTracker;
  #session: WsSession | undefined;
  #instructions: string | undefined;
  #sessionId: string | undefined;
  #eventSeq = 0;
  /** The response the server is cancelling by itself (speech_started with interrupt_response:true). */
  #serverCancelling: string | undefined;
  /** A local barge-in came while our response.create was unanswered: cancel it as soon as it exists. */
  #cancelWhenCreated = false;
  /** The caller's last committed utterance (speech_stopped), for userTurn({respond:false}) to delete. */
  #lastUserItem: string | undefined;
  readonly #toolCalls = new ToolCallTracker();
  #setupWaiter: { eventId: string; resolve: () => void; reject: (e: AgentError) => void } | undefined;

  constructor(provider: string, connection: OpenAIConnection, options: AgentOptions, deps: AgentDeps) {
    super(provider, options);
    this.#conn = connection;
    this.#deps = deps;
    this.#instructions = options.instructions;
    this.#inBytesPerMs = bytesPerMs(options.inputFormat);
    this.#minAppendBytes = MIN_APPEND_MS * this.#inBytesPerMs;
    this.#batch = Buffer.allocUnsafe(this.#minAppendBytes * 2);
    this.#responses = new ResponseSequencer((params) => this.#sendResponseCreate(params));
    this.#audio = new AssistantAudioTracker(bytesPerMs(options.outputFormat));
  }

  async start(): Promise<void> {
    this.assertOpen();
    for (const [field, format] of [
      ['inputFormat', this.options.inputFormat],
      ['outputFormat', this.options.outputFormat],
    ] as const) {
      if (!isSupportedFormat(format)) {
        throw new AgentError(
          'AGENT_FORMAT_UNSUPPORTED',
          `${this.provider} does not support ${field} ${format.encoding}@${format.sampleRateHz}`,
        );
      }
    }
    if (this.#conn.dialect === 'ga' && this.options.temperature !== undefined) {
      this.log.debug('temperature is not supported by the GA Realtime API; ignored');
    }
    const factory = this.#deps.webSocketFactory;
    const session = new WsSession({
      url: this.#conn.url,
      headers: this.#conn.headers,
      logger: this.log,
      ...(factory !== undefined && {
        webSocketFactory: (url: string, o: ClientOptions): WebSocket => factory(url, o),
      }),
      onOpen: (info) => this.#onOpen(info.reconnect),
      onMessage: (data, isBinary) => this.#onMessage(data, isBinary),
    });
    this.#session = session;
    session.on('reconnecting', ({ attempt }) => {
      if (attempt === 1) this.#forgetConversation();
    });
    session.on('reconnected', () => {
      // A new socket is a new OpenAI session: the conversation (and any reply in progress) is gone.
      this.emitError({
        code: 'AGENT_CONNECTION_LOST',
        message: 'provider connection was lost and re-established; the conversation context was reset',
        fatal: false,
        retryable: true,
      });
    });
    session.on('error', (e) => {
      this.emitError(e);
      if (e.fatal) void this.closeWith('connection lost');
    });
    session.on('closed', () => void this.closeWith('connection closed'));
    await session.connect();
    this.emit('session.open', this.#sessionId === undefined ? {} : { sessionId: this.#sessionId });
  }

  greet(): Promise<void> {
    return this.#guarded(() => {
      const greeting = this.options.greeting;
      if (greeting === undefined || greeting === '') return;
      this.#responses.request({ instructions: greeting });
    });
  }

  pushAudio(audio: Buffer | Int16Array): void {
    this.assertOpen();
    const bytes = audioBytes(audio);
    if (bytes.length === 0) return;
    if (this.#batchBytes === 0 && bytes.length >= this.#minAppendBytes) {
      this.#sendAppend(bytes);
      return;
    }
    if (this.#batchBytes + bytes.length > this.#batch.length) {
      this.#flushBatch();
      if (bytes.length >= this.#minAppendBytes) {
        this.#sendAppend(bytes);
        return;
      }
    }
    bytes.copy(this.#batch, this.#batchBytes);
    this.#batchBytes += bytes.length;
    if (this.#batchBytes >= this.#minAppendBytes) this.#flushBatch();
  }

  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void> {
    return this.#guarded(() => {
      const active = this.#responses.activeResponseId;
      const itemId = heard.itemId ?? this.#audio.currentItemId;
      const itemResponse = itemId === undefined ? undefined : this.#audio.responseOf(itemId);
      const truncate =
        itemId === undefined
          ? undefined
          : this.#audio.truncatePoint(
              itemId,
              heard.playedMs,
              itemResponse !== undefined && itemResponse === active,
            );
      // Drop late deltas first, synchronously: nothing of the discarded reply may reach the caller [S7].
      if (active !== undefined) this.#audio.drop(active);
      if (itemResponse !== undefined) this.#audio.drop(itemResponse);
      if (active !== undefined && active !== this.#serverCancelling) {
        // The server cancels by itself only when its own VAD fired (interrupt_response:true) [S1][S5].
        this.#send({ type: 'response.cancel', response_id: active });
      } else if (active === undefined && this.#responses.createInFlight) {
        this.#cancelWhenCreated = true;
      }
      if (itemId !== undefined && truncate !== undefined) {
        this.#send({
          type: 'conversation.item.truncate',
          item_id: itemId,
          content_index: 0,
          audio_end_ms: truncate.audioEndMs,
        });
      }
    });
  }

  /** Server mode: create_response is off, so a real turn is answered here; a false one is deleted [S1]. */
  userTurn(verdict: { readonly respond: boolean }): Promise<void> {
    return this.#guarded(() => {
      const item = this.#lastUserItem;
      this.#lastUserItem = undefined;
      if (verdict.respond) this.#responses.request();
      else if (item !== undefined) this.#send({ type: 'conversation.item.delete', item_id: item });
    });
  }

  sendToolResult(callId: string, result: unknown): Promise<void> {
    return this.#guarded(() => {
      if (!this.#toolCalls.knows(callId)) {
        // After a reconnect the call is no longer in the conversation; the server would reject the output.
        this.log.warn({ callId }, 'tool result for an unknown call_id dropped');
        return;
      }
      const output = typeof result === 'string' ? result : JSON.stringify(result ?? null);
      this.#send({
        type: 'conversation.item.create',
        item: { type: 'function_call_output', call_id: callId, output },
      });
      if (this.#toolCalls.resolve(callId)) this.#responses.request();
    });
  }

  sendText(text: string): Promise<void> {
    return this.#guarded(() => {
      this.#send({
        type: 'conversation.item.create',
        item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
      });
      this.#responses.request();
    });
  }

  updateInstructions(text: string): Promise<void> {
    return this.#guarded(() => {
      this.#instructions = text;
      this.#send(buildInstructionsUpdate(this.#conn.dialect, text));
    });
  }

  /** Runs a public operation: AGENT_CLOSED (and any other throw) becomes a rejection, never a sync throw. */
  #guarded(op: () => void): Promise<void> {
    try {
      this.assertOpen();
      op();
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  protected async doClose(): Promise<void> {
    this.#setupWaiter?.reject(new AgentError('AGENT_CLOSED', 'agent closed during setup'));
    this.#setupWaiter = undefined;
    await this.#session?.close(1000, 'normal');
  }

  // ---- connection ------------------------------------------------------------------------------------

  /** Send (or replay) session.update and wait for session.updated before audio flows [S8][S11b]. */
  #onOpen(reconnect: boolean): Promise<void> {
    if (reconnect) this.#forgetConversation();
    const update = buildSessionUpdate(this.#conn.dialect, this.options, {
      model: this.#conn.model,
      transcriptionModel: this.#conn.transcriptionModel,
      instructions: this.#instructions,
    });
    const eventId = this.#send(update);
    // The conversation a rotated or failed-over session continues (a reconnect gets the continuation prompt).
    if (!reconnect)
      for (const item of historyItems(this.#conn.dialect, this.options.history)) this.#send(item);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#setupWaiter = undefined;
        reject(
          new AgentError('AGENT_CONNECT_FAILED', 'no session.updated from the provider', { retryable: true }),
        );
      }, SESSION_UPDATED_TIMEOUT_MS);
      this.#setupWaiter = {
        eventId,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** The conversation died with the socket: end the reply in progress and forget per-conversation state. */
  #forgetConversation(): void {
    const active = this.#responses.activeResponseId;
    this.#responses.reset();
    this.#audio.reset();
    this.#toolCalls.reset();
    this.#serverCancelling = undefined;
    this.#cancelWhenCreated = false;
    this.#lastUserItem = undefined;
    this.#batchBytes = 0;
    if (active !== undefined) this.emit('assistant.turn.end', { responseId: active, status: 'failed' });
  }

  // ---- outbound --------------------------------------------------------------------------------------

  /** A control message with a fresh event_id (errors echo it [S1]). Returns the event_id. */
  #send(message: Record<string, unknown>): string {
    const eventId = `sb_${++this.#eventSeq}`;
    const withId = { ...message, event_id: eventId };
    this.options.wireTap?.('out', withId);
    this.#session?.send(JSON.stringify(withId));
    return eventId;
  }

  #sendResponseCreate(params: ResponseParams | undefined): void {
    this.#send(
      params?.instructions === undefined
        ? { type: 'response.create' }
        : { type: 'response.create', response: { instructions: params.instructions } },
    );
  }

  #flushBatch(): void {
    if (this.#batchBytes === 0) return;
    this.#sendAppend(this.#batch.subarray(0, this.#batchBytes));
    this.#batchBytes = 0;
  }

  #sendAppend(bytes: Buffer): void {
    const audio = bytes.toString('base64');
    this.options.wireTap?.('out', tapOutboundAudio(bytes.length, this.#inBytesPerMs));
    this.#session?.sendAudio(JSON.stringify({ type: 'input_audio_buffer.append', audio }));
  }

  // ---- inbound ---------------------------------------------------------------------------------------

  #onMessage(data: Buffer | string, isBinary: boolean): void {
    if (isBinary) {
      this.log.debug('unexpected binary frame from provider ignored');
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
    } catch {
      this.log.warn('non-JSON frame from provider ignored');
      return;
    }
    if (this.options.wireTap !== undefined)
      this.options.wireTap('in', tapInbound(raw, bytesPerMs(this.options.outputFormat)));
    const parsed = parseServerEvent(raw);
    if (parsed.kind === 'unknown') {
      this.log.debug({ type: parsed.type }, 'unknown provider event ignored');
      return;
    }
    if (parsed.kind === 'malformed') {
      this.log.debug({ type: parsed.type, issues: parsed.issues }, 'malformed provider event ignored');
      return;
    }
    this.#dispatch(parsed.event);
  }

  #dispatch(e: AnyServerEvent): void {
    switch (e.type) {
      case 'input_audio_buffer.speech_started':
        // With interrupt_response:true the server is now cancelling the reply in progress [S1]. Noted before
        // the emit because listeners call interrupt() synchronously; then barge-in goes out at once, ahead
        // of any other processing (DESIGN.md §4).
        if (
          this.#responses.activeResponseId !== undefined &&
          (this.options.interruptions ?? 'provider') === 'provider'
        )
          this.#serverCancelling = this.#responses.activeResponseId;
        this.emit('user.speech.started', { audioStartMs: e.audio_start_ms, itemId: e.item_id });
        return;
      case 'input_audio_buffer.speech_stopped':
        this.#lastUserItem = e.item_id;
        this.emit('user.speech.ended', { audioEndMs: e.audio_end_ms, itemId: e.item_id });
        return;
      case 'session.created':
        this.#sessionId = e.session.id;
        return;
      case 'session.updated':
        this.#setupWaiter?.resolve();
        this.#setupWaiter = undefined;
        return;
      case 'error':
        this.#onError(e);
        return;
      case 'conversation.item.input_audio_transcription.delta':
        this.emit('user.transcript', { text: e.delta, final: false, itemId: e.item_id });
        return;
      case 'conversation.item.input_audio_transcription.completed':
        this.emit('user.transcript', { text: e.transcript, final: true, itemId: e.item_id });
        return;
      case 'response.created':
        this.#responses.onCreated(e.response.id);
        if (this.#cancelWhenCreated) {
          this.#cancelWhenCreated = false;
          this.#audio.drop(e.response.id);
          this.#send({ type: 'response.cancel', response_id: e.response.id });
        }
        return;
      case 'response.output_audio.delta':
      case 'response.audio.delta': {
        if (this.#audio.isDropped(e.response_id)) return;
        const audio = Buffer.from(e.delta, 'base64');
        if (!this.#audio.accept(e.response_id, e.item_id, audio.length)) return;
        this.emit('assistant.audio', { audio, itemId: e.item_id, responseId: e.response_id });
        return;
      }
      case 'response.output_audio_transcript.delta':
      case 'response.audio_transcript.delta':
      case 'response.output_text.delta':
      case 'response.text.delta':
        if (this.#audio.isDropped(e.response_id)) return;
        this.emit('assistant.text', {
          text: e.delta,
          final: false,
          itemId: e.item_id,
          responseId: e.response_id,
        });
        return;
      case 'response.output_audio_transcript.done':
      case 'response.audio_transcript.done':
        if (this.#audio.isDropped(e.response_id)) return;
        this.emit('assistant.text', {
          text: e.transcript,
          final: true,
          itemId: e.item_id,
          responseId: e.response_id,
        });
        return;
      case 'response.output_text.done':
      case 'response.text.done':
        if (this.#audio.isDropped(e.response_id)) return;
        this.emit('assistant.text', {
          text: e.text,
          final: true,
          itemId: e.item_id,
          responseId: e.response_id,
        });
        return;
      case 'response.function_call_arguments.done':
        this.#toolCall(e.call_id, e.name, e.arguments);
        return;
      case 'response.done':
        this.#onResponseDone(e);
        return;
      default:
        this.log.debug({ type: e.type }, 'provider event');
    }
  }

  #onResponseDone(e: ServerEvent<'response.done'>): void {
    const r = e.response;
    for (const item of r.output ?? []) this.#toolCallFromItem(item);
    if (r.usage !== undefined && r.usage !== null) {
      const u = r.usage;
      this.emit('usage', {
        inputTokens: u.input_tokens ?? 0,
        outputTokens: u.output_tokens ?? 0,
        ...(typeof u.input_token_details?.audio_tokens === 'number' && {
          inputAudioTokens: u.input_token_details.audio_tokens,
        }),
        ...(typeof u.output_token_details?.audio_tokens === 'number' && {
          outputAudioTokens: u.output_token_details.audio_tokens,
        }),
        responseId: r.id,
      });
    }
    if (this.#serverCancelling === r.id) this.#serverCancelling = undefined;
    const status =
      r.status === 'cancelled' || r.status === 'failed' || r.status === 'incomplete' ? r.status : 'completed';
    this.emit('assistant.turn.end', { responseId: r.id, status });
    this.#responses.onDone(r.id);
  }

  #toolCallFromItem(item: ServerItem): void {
    if (item.type !== 'function_call' || item.call_id === undefined || item.name === undefined) return;
    this.#toolCall(item.call_id, item.name, item.arguments ?? '{}');
  }

  #toolCall(callId: string, name: string, argsJson: string): void {
    const call = this.#toolCalls.announce(callId, name, argsJson);
    if (call === undefined) return;
    if (call.argsError !== undefined)
      this.log.warn({ callId, name, argsError: call.argsError }, 'tool call arguments are not a JSON object');
    this.emit('tool.call', { callId, name, args: call.args });
  }

  #onError(e: ServerEvent<'error'>): void {
    const { code, type, message } = e.error;
    const clientEventId = e.error.event_id ?? undefined;
    if (code === COLLISION_CODE) {
      this.log.debug('response.create collided with a server response; retrying after it');
      this.#responses.onCollision();
      return;
    }
    if (code === CANCEL_NOT_ACTIVE_CODE) {
      this.log.debug('response.cancel found nothing to cancel');
      return;
    }
    const providerCode = code ?? type ?? 'unknown';
    if (this.#setupWaiter !== undefined && clientEventId === this.#setupWaiter.eventId) {
      this.#setupWaiter.reject(
        new AgentError('AGENT_PROTOCOL', `provider rejected session.update: ${message}`),
      );
      this.#setupWaiter = undefined;
      return;
    }
    const fatal = FATAL_CODES.has(providerCode);
    const retryable = fatal || type === 'server_error' || providerCode === 'rate_limit_exceeded';
    this.log.warn({ providerCode, fatal }, 'provider error event');
    this.emitError({ code: 'AGENT_PROVIDER_ERROR', message, fatal, retryable, providerCode });
    if (fatal) void this.closeWith('provider ended the session');
  }
}
