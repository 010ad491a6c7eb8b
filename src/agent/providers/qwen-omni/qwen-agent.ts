/**
 * DashScope Qwen-Omni-Realtime adapter, docs/reference/providers.md §3.
 *
 * - Flow: wait `session.created` → `session.update` → wait `session.updated` → stream [Q1]; replayed on
 *   reconnect (DashScope has no session resumption, so a reconnect starts a fresh conversation).
 * - Barge-in: the server cancels on `speech_started` itself (`interrupt_response` defaults to true [Q1]);
 *   interrupt() sends `response.cancel` only while a response is in progress (it errors otherwise [Q1]) and
 *   never a truncate (not a documented client event). Late deltas of a cancelled response are dropped by id.
 * - `session.finish` on close, waiting briefly for `session.finished` [Q2].
 */
import { randomUUID } from 'node:crypto';
import type { AgentErrorEvent } from '../../events.js';
import { AgentError, type AgentOptions } from '../../agent.js';
import type { AgentDeps } from '../../provider.js';
import { BaseAgent, audioBytes, settled } from '../../base-agent.js';
import { WsSession } from '../../transport/ws-session.js';
import { SetupGate } from '../../transport/setup-gate.js';
import {
  isKnownServerEvent,
  serverEventSchemas,
  type QwenClientEvent,
  type QwenServerEvent,
  type QwenServerEventType,
} from './schemas.js';
import { QwenResponses } from './responses.js';
import { INPUT_RATE_HZ, optId, tapView } from './wire.js';
import { parseToolArguments } from '../../tool-arguments.js';
import { buildSessionConfig, DEFAULT_QWEN_MODEL } from './session-config.js';

export const DEFAULT_QWEN_URL = 'wss://dashscope.aliyuncs.com/api-ws/v1/realtime';
/** How long close() waits for `session.finished` before closing the socket itself. */
const FINISH_WAIT_MS = 1500;

export interface QwenCredential {
  readonly apiKey: string;
  readonly url?: string | undefined;
  readonly model?: string | undefined;
  /** Optional `X-DashScope-WorkSpace` header [Q2]. */
  readonly workspace?: string | undefined;
}

type Waiter = { resolve: () => void; reject: (e: AgentError) => void };

export class QwenOmniAgent extends BaseAgent {
  readonly #session: WsSession;
  #instructions: string | undefined;
  #starting: Promise<void> | undefined;
  /** Control messages wait here until setup completes on the current connection. */
  readonly #gate: SetupGate;
  #sessionId: string | undefined;
  #waiters = new Map<'session.created' | 'session.updated' | 'session.finished', Waiter>();
  readonly #responses: QwenResponses;
  /** Tool calls already reported (function_call_arguments.done and output_item.done both carry them). */
  #reportedCalls = new Set<string>();

  constructor(credential: QwenCredential, options: AgentOptions, deps: AgentDeps) {
    super('qwen-omni', options);
    this.#responses = new QwenResponses(deps.now ?? Date.now);
    this.#instructions = options.instructions;
    const url = new URL(credential.url ?? DEFAULT_QWEN_URL);
    if (!url.searchParams.has('model')) {
      url.searchParams.set('model', credential.model ?? options.model ?? DEFAULT_QWEN_MODEL);
    }
    this.#session = new WsSession({
      url: url.toString(),
      headers: {
        Authorization: `Bearer ${credential.apiKey}`,
        ...(credential.workspace !== undefined ? { 'X-DashScope-WorkSpace': credential.workspace } : {}),
      },
      logger: this.log,
      ...(deps.webSocketFactory !== undefined ? { webSocketFactory: deps.webSocketFactory } : {}),
      onOpen: (info) => this.#onOpen(info.reconnect),
      onMessage: (data) => this.#onMessage(data),
    });
    this.#session.on('reconnecting', ({ attempt, reason }) => this.#onReconnecting(attempt, reason));
    this.#gate = new SetupGate(this.#session);
    this.#session.on('open', () => this.#gate.flush());
    this.#session.on('error', (e) => this.#fatal(e));
    this.#session.on('closed', ({ reason }) => void this.closeWith(`provider session closed: ${reason}`));
  }

  start(): Promise<void> {
    this.assertOpen();
    this.#starting ??= this.#session.connect().then(() => {
      this.emit('session.open', this.#sessionId !== undefined ? { sessionId: this.#sessionId } : {});
    });
    return this.#starting;
  }

  greet(): Promise<void> {
    return settled(() => {
      this.assertOpen();
      if (this.options.greeting === undefined) return;
      // UNVERIFIED: per-response instructions as in OpenAI beta; the DashScope docs list response.create [Q1].
      this.#send({ type: 'response.create', response: { instructions: this.options.greeting } });
    });
  }

  pushAudio(audio: Buffer | Int16Array): void {
    this.assertOpen();
    const bytes = audioBytes(audio);
    if (bytes.length === 0) return;
    const event: QwenClientEvent = { type: 'input_audio_buffer.append', audio: bytes.toString('base64') };
    this.options.wireTap?.('out', {
      type: event.type,
      audio: { audioMs: bytes.length / ((INPUT_RATE_HZ / 1000) * 2), bytes: bytes.length },
    });
    this.#session.sendAudio(JSON.stringify(event));
  }

  interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void> {
    return settled(() => {
      this.assertOpen();
      const responseId = this.#responses.cancel();
      this.log.debug({ playedMs: heard.playedMs, responseId }, 'local interrupt');
      if (responseId === undefined) return;
      this.#send({ type: 'response.cancel' });
    });
  }

  sendToolResult(callId: string, result: unknown): Promise<void> {
    return settled(() => {
      this.assertOpen();
      // UNVERIFIED: OpenAI-beta function_call_output item, then response.create [Q2].
      const output = typeof result === 'string' ? result : JSON.stringify(result ?? null);
      this.#send({
        type: 'conversation.item.create',
        item: { type: 'function_call_output', call_id: callId, output },
      });
      this.#send({ type: 'response.create' });
    });
  }

  sendText(text: string): Promise<void> {
    return settled(() => {
      this.assertOpen();
      // UNVERIFIED: a user text item via conversation.item.create (the SDK's create_item [Q2]).
      this.#send({
        type: 'conversation.item.create',
        item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] },
      });
      this.#send({ type: 'response.create' });
    });
  }

  updateInstructions(text: string): Promise<void> {
    return settled(() => {
      this.assertOpen();
      this.#instructions = text;
      this.#send({ type: 'session.update', session: { instructions: text } });
    });
  }

  protected async doClose(): Promise<void> {
    if (this.#gate.ready && this.#session.isOpen) {
      // The server answers session.finish with session.finished and then closes [Q2].
      const finished = this.#wait('session.finished');
      this.#session.send(JSON.stringify(this.#stamp({ type: 'session.finish' })));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        finished.catch(() => undefined),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, FINISH_WAIT_MS))),
      ]);
      clearTimeout(timer);
    }
    for (const w of this.#waiters.values()) w.reject(new AgentError('AGENT_CLOSED', 'closed'));
    this.#waiters.clear();
    await this.#session.close(1000, 'normal');
  }

  // --------------------------------------------------------------------------------------- connection

  async #onOpen(reconnect: boolean): Promise<void> {
    this.#gate.hold();
    // Replace any waiter a failed attempt left behind.
    this.#waiters.clear();
    const created = this.#wait('session.created');
    await created;
    const updated = this.#wait('session.updated');
    const update: QwenClientEvent = {
      type: 'session.update',
      session: buildSessionConfig(this.options, this.#instructions),
    };
    this.options.wireTap?.('out', update);
    this.#session.send(JSON.stringify(this.#stamp(update)));
    await updated;
    this.#gate.release();
    this.log.debug({ reconnect }, 'qwen-omni session configured');
  }

  #wait(type: 'session.created' | 'session.updated' | 'session.finished'): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#waiters.set(type, { resolve, reject }));
  }

  #onReconnecting(attempt: number, reason: string): void {
    this.#gate.hold();
    const active = this.#responses.abandon();
    if (active !== undefined) {
      this.emit('assistant.turn.end', { responseId: active, status: 'incomplete' });
    }
    if (attempt === 1) {
      this.emitError({
        code: 'AGENT_CONNECTION_LOST',
        message: `Qwen-Omni connection lost (${reason}); reconnecting with a new session`,
        fatal: false,
        retryable: true,
      });
    }
  }

  #fatal(e: AgentErrorEvent): void {
    this.emitError(e);
    void this.closeWith('provider connection lost');
  }

  #stamp(event: QwenClientEvent): QwenClientEvent {
    return { event_id: `event_${randomUUID().replaceAll('-', '')}`, ...event };
  }

  #send(event: QwenClientEvent): void {
    this.options.wireTap?.('out', event);
    const json = JSON.stringify(this.#stamp(event));
    this.#gate.send(json);
  }

  // ------------------------------------------------------------------------------------------ messages

  #onMessage(data: Buffer | string): void {
    // All DashScope traffic is JSON text; the SDK treats binary frames as unexpected [Q2].
    const text = typeof data === 'string' ? data : data.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.log.debug('qwen-omni: non-JSON frame ignored');
      return;
    }
    const type = typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
    if (typeof type !== 'string' || !isKnownServerEvent(type)) {
      this.log.debug({ type }, 'qwen-omni: event ignored');
      if (this.options.wireTap !== undefined) this.options.wireTap('in', json);
      return;
    }
    const parsed = serverEventSchemas[type].safeParse(json);
    if (!parsed.success) {
      this.log.debug({ type, issues: parsed.error.issues.length }, 'qwen-omni: malformed event ignored');
      return;
    }
    if (this.options.wireTap !== undefined) this.options.wireTap('in', tapView(type, parsed.data));
    this.#dispatch(type, parsed.data);
  }

  #dispatch(type: QwenServerEventType, e: unknown): void {
    const as = <T extends QwenServerEventType>(_t: T): QwenServerEvent<T> => e as QwenServerEvent<T>;
    switch (type) {
      case 'session.created':
        this.#sessionId ??= as(type).session?.id;
        this.#settle(type);
        return;
      case 'session.updated':
      case 'session.finished':
        this.#settle(type);
        return;
      case 'error':
        return this.#onError(as(type));
      case 'input_audio_buffer.speech_started': {
        const s = as(type);
        this.emit('user.speech.started', {
          ...(s.audio_start_ms !== undefined ? { audioStartMs: s.audio_start_ms } : {}),
          ...(s.item_id !== undefined ? { itemId: s.item_id } : {}),
        });
        return;
      }
      case 'input_audio_buffer.speech_stopped': {
        const s = as(type);
        this.emit('user.speech.ended', {
          ...(s.audio_end_ms !== undefined ? { audioEndMs: s.audio_end_ms } : {}),
          ...(s.item_id !== undefined ? { itemId: s.item_id } : {}),
        });
        return;
      }
      case 'conversation.item.input_audio_transcription.delta': {
        const d = as(type);
        const text = d.delta ?? d.text;
        if (text !== undefined && text !== '')
          this.emit('user.transcript', { text, final: false, ...optId(d.item_id) });
        return;
      }
      case 'conversation.item.input_audio_transcription.completed': {
        const d = as(type);
        this.emit('user.transcript', { text: d.transcript, final: true, ...optId(d.item_id) });
        return;
      }
      case 'response.created':
        this.#responses.created(as(type).response.id);
        return;
      case 'response.audio.delta': {
        const d = as(type);
        if (this.#responses.isCancelled(d.response_id)) return;
        this.emit('assistant.audio', {
          audio: Buffer.from(d.delta, 'base64'),
          itemId: d.item_id,
          responseId: d.response_id,
        });
        return;
      }
      case 'response.audio_transcript.delta':
      case 'response.text.delta': {
        const d = as('response.text.delta');
        if (this.#responses.isCancelled(d.response_id)) return;
        this.emit('assistant.text', {
          text: d.delta,
          final: false,
          itemId: d.item_id,
          responseId: d.response_id,
        });
        return;
      }
      case 'response.audio_transcript.done': {
        const d = as(type);
        this.emit('assistant.text', {
          text: d.transcript,
          final: true,
          itemId: d.item_id,
          responseId: d.response_id,
        });
        return;
      }
      case 'response.text.done': {
        const d = as(type);
        this.emit('assistant.text', {
          text: d.text,
          final: true,
          itemId: d.item_id,
          responseId: d.response_id,
        });
        return;
      }
      case 'response.function_call_arguments.done': {
        const d = as(type);
        return this.#toolCall(d.call_id, d.name, d.arguments);
      }
      case 'response.output_item.added':
      case 'response.output_item.done': {
        const item = as('response.output_item.done').item;
        // output_item.done carries the whole call; function_call_arguments.done may lack `name` (UNVERIFIED).
        if (
          type === 'response.output_item.done' &&
          item.type === 'function_call' &&
          item.call_id !== undefined
        ) {
          this.#toolCall(item.call_id, item.name, item.arguments ?? '{}');
        }
        return;
      }
      case 'response.done':
        return this.#onResponseDone(as(type).response);
    }
  }

  #settle(type: 'session.created' | 'session.updated' | 'session.finished'): void {
    const w = this.#waiters.get(type);
    this.#waiters.delete(type);
    w?.resolve();
  }

  #onError(e: QwenServerEvent<'error'>): void {
    const providerCode = e.error.code ?? e.error.type;
    if (this.#responses.isCancelEcho(e.error.message)) {
      // response.cancel raced the server's own cancellation: nothing was left to cancel [Q1].
      this.log.debug({ providerCode }, 'qwen-omni: cancel had nothing to cancel');
      return;
    }
    this.emitError({
      code: 'AGENT_PROVIDER_ERROR',
      message: e.error.message ?? 'Qwen-Omni error',
      fatal: false,
      retryable: false,
      ...(providerCode !== undefined && providerCode !== null ? { providerCode } : {}),
    });
  }

  #toolCall(callId: string, name: string | undefined, argumentsJson: string): void {
    if (this.#reportedCalls.has(callId) || name === undefined) return;
    this.#reportedCalls.add(callId);
    const args = parseToolArguments(argumentsJson);
    if (args === undefined)
      this.log.warn({ callId, name }, 'qwen-omni: tool arguments are not a JSON object');
    this.emit('tool.call', { callId, name, args: args ?? {} });
  }

  #onResponseDone(r: QwenServerEvent<'response.done'>['response']): void {
    const status = this.#responses.done(r.id, r.status);
    const usage = r.usage;
    if (usage !== undefined && usage !== null) {
      const inputAudioTokens = usage.input_token_details?.audio_tokens;
      const outputAudioTokens = usage.output_token_details?.audio_tokens;
      this.emit('usage', {
        inputTokens: usage.input_tokens ?? 0,
        outputTokens: usage.output_tokens ?? 0,
        ...(inputAudioTokens !== undefined ? { inputAudioTokens } : {}),
        ...(outputAudioTokens !== undefined ? { outputAudioTokens } : {}),
        responseId: r.id,
      });
    }
    this.emit('assistant.turn.end', { responseId: r.id, status });
  }
}
