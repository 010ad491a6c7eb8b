/**
 * A local OpenAI Realtime server (GA, beta and Azure flavours) that speaks the documented protocol
 * (docs/reference/providers.md §1, frames shaped like test/fixtures/providers/openai-ga/): handshake checks,
 * zod validation of every client message, an energy VAD over the received audio, scripted replies streamed
 * faster than real time, response.cancel / conversation.item.truncate / conversation.item.delete semantics
 * and error events. turn_detection is honoured as documented [S1]: with `interrupt_response: false` the VAD's
 * speech_started cancels nothing, with `create_response: false` a committed turn gets no response until the
 * client sends response.create.
 */
import type { IncomingMessage } from 'node:http';
import { alaw, mulaw } from 'alawmulaw';
import type { WebSocket } from 'ws';
import { z } from 'zod';
import { EnergyVad } from '../../src/agent/vad.js';
import type { MockProviderServer, MockTurn } from './mock-provider.js';
import { WsMockBase, type UpgradeDecision } from './ws-mock-base.js';

export type OpenAIMockMode = 'ga' | 'beta' | 'azure' | 'azure-preview';

export interface OpenAIMockOptions {
  readonly mode?: OpenAIMockMode;
  /** The accepted key (Bearer for OpenAI, api-key for Azure). Default 'sk-test' / 'az-test'. */
  readonly apiKey?: string;
  /** How much faster than real time reply audio is streamed. Default 10. */
  readonly speedFactor?: number;
  /** Reply audio chunk length. Default 100 ms. */
  readonly chunkMs?: number;
  /**
   * Audio chunks still sent after a response is cancelled, like deltas already in flight on a real
   * connection. Default 2.
   */
  readonly lateChunksAfterCancel?: number;
  /**
   * Session cap (issue 14; the real one is 60 min [S12]): after this long the session gets an error
   * `session_expired` and is closed with 1001 ("going away"). Default none.
   */
  readonly sessionMaxMs?: number;
}

// ---- client message schemas (GA [S1], beta [S2]) --------------------------------------------------------

const base64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'not base64')
  .refine((s) => s.length % 4 === 0, 'bad base64 length');
const eventId = z.string().optional();
const gaFormat = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('audio/pcm'), rate: z.literal(24000).optional() }),
  z.strictObject({ type: z.literal('audio/pcmu') }),
  z.strictObject({ type: z.literal('audio/pcma') }),
]);
const turnDetection = z
  .discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('server_vad'),
      threshold: z.number().min(0).max(1).optional(),
      prefix_padding_ms: z.number().int().nonnegative().optional(),
      silence_duration_ms: z.number().int().nonnegative().optional(),
      idle_timeout_ms: z.number().int().nullable().optional(),
      create_response: z.boolean().optional(),
      interrupt_response: z.boolean().optional(),
    }),
    z.strictObject({
      type: z.literal('semantic_vad'),
      eagerness: z.enum(['low', 'medium', 'high', 'auto']).optional(),
      create_response: z.boolean().optional(),
      interrupt_response: z.boolean().optional(),
    }),
  ])
  .nullable();
const tool = z.strictObject({
  type: z.literal('function'),
  name: z.string().min(1),
  description: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
});
const toolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.strictObject({ type: z.literal('function'), name: z.string() }),
]);
const gaSession = z.strictObject({
  type: z.literal('realtime'),
  model: z.string().optional(),
  output_modalities: z
    .array(z.enum(['audio', 'text']))
    .length(1)
    .optional(),
  instructions: z.string().optional(),
  audio: z
    .strictObject({
      input: z
        .strictObject({
          format: gaFormat.optional(),
          noise_reduction: z
            .strictObject({ type: z.enum(['near_field', 'far_field']) })
            .nullable()
            .optional(),
          transcription: z
            .strictObject({
              model: z.string().optional(),
              language: z.string().optional(),
              prompt: z.string().optional(),
            })
            .nullable()
            .optional(),
          turn_detection: turnDetection.optional(),
        })
        .optional(),
      output: z
        .strictObject({
          format: gaFormat.optional(),
          voice: z.union([z.string(), z.strictObject({ id: z.string() })]).optional(),
          speed: z.number().min(0.25).max(1.5).optional(),
        })
        .optional(),
    })
    .optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  max_output_tokens: z.union([z.number().int().positive(), z.literal('inf')]).optional(),
  truncation: z.unknown().optional(),
  include: z.array(z.string()).nullable().optional(),
  prompt: z.unknown().optional(),
  tracing: z.unknown().optional(),
});
const betaFormat = z.enum(['pcm16', 'g711_ulaw', 'g711_alaw']);
const betaSession = z.strictObject({
  modalities: z.array(z.enum(['audio', 'text'])).optional(),
  instructions: z.string().optional(),
  voice: z.string().optional(),
  input_audio_format: betaFormat.optional(),
  output_audio_format: betaFormat.optional(),
  input_audio_transcription: z
    .strictObject({ model: z.string(), language: z.string().optional() })
    .nullable()
    .optional(),
  input_audio_noise_reduction: z.unknown().optional(),
  turn_detection: turnDetection.optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  temperature: z.number().min(0.6).max(1.2).optional(),
  max_response_output_tokens: z.union([z.number().int().positive(), z.literal('inf')]).optional(),
});
const contentPart = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('input_text'), text: z.string() }),
  z.strictObject({ type: z.literal('input_audio'), audio: base64, transcript: z.string().optional() }),
  z.strictObject({ type: z.literal('output_text'), text: z.string() }),
  z.strictObject({ type: z.literal('text'), text: z.string() }),
]);
const item = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('message'),
    id: z.string().optional(),
    role: z.enum(['user', 'system', 'assistant']),
    content: z.array(contentPart).min(1),
    status: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('function_call_output'),
    id: z.string().optional(),
    call_id: z.string().min(1),
    output: z.string(),
  }),
]);
const responseParams = z.strictObject({
  instructions: z.string().optional(),
  output_modalities: z.array(z.enum(['audio', 'text'])).optional(),
  modalities: z.array(z.enum(['audio', 'text'])).optional(),
  tools: z.array(tool).optional(),
  tool_choice: toolChoice.optional(),
  conversation: z.enum(['auto', 'none']).optional(),
  input: z.array(z.unknown()).optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});
const clientSchemas = {
  'input_audio_buffer.append': z.strictObject({ type: z.string(), event_id: eventId, audio: base64.min(1) }),
  'input_audio_buffer.commit': z.strictObject({ type: z.string(), event_id: eventId }),
  'input_audio_buffer.clear': z.strictObject({ type: z.string(), event_id: eventId }),
  'response.create': z.strictObject({
    type: z.string(),
    event_id: eventId,
    response: responseParams.optional(),
  }),
  'response.cancel': z.strictObject({
    type: z.string(),
    event_id: eventId,
    response_id: z.string().optional(),
  }),
  'conversation.item.create': z.strictObject({
    type: z.string(),
    event_id: eventId,
    previous_item_id: z.string().nullable().optional(),
    item,
  }),
  'conversation.item.truncate': z.strictObject({
    type: z.string(),
    event_id: eventId,
    item_id: z.string().min(1),
    content_index: z.number().int().nonnegative(),
    audio_end_ms: z.number().int().nonnegative(),
  }),
  'conversation.item.delete': z.strictObject({ type: z.string(), event_id: eventId, item_id: z.string() }),
} as const;
const gaSessionUpdate = z.strictObject({ type: z.string(), event_id: eventId, session: gaSession });
const betaSessionUpdate = z.strictObject({ type: z.string(), event_id: eventId, session: betaSession });

// ---- audio helpers --------------------------------------------------------------------------------------

export type Enc = 'pcm' | 'pcmu' | 'pcma';

function encFromGa(f: { type: string } | undefined, fallback: Enc): Enc {
  if (f === undefined) return fallback;
  return f.type === 'audio/pcmu' ? 'pcmu' : f.type === 'audio/pcma' ? 'pcma' : 'pcm';
}
function encFromBeta(f: string | undefined, fallback: Enc): Enc {
  if (f === undefined) return fallback;
  return f === 'g711_ulaw' ? 'pcmu' : f === 'g711_alaw' ? 'pcma' : 'pcm';
}
const bytesPerMsOf = (e: Enc): number => (e === 'pcm' ? 48 : 8);

function decodeToPcm(bytes: Buffer, e: Enc): Int16Array {
  if (e === 'pcmu') return mulaw.decode(bytes);
  if (e === 'pcma') return alaw.decode(bytes);
  const copy = Buffer.from(bytes); // aligned copy
  return new Int16Array(copy.buffer, copy.byteOffset, copy.length >> 1);
}

/** Reply PCM16 24 kHz → wire bytes in `e` (G.711 after a 3:1 averaging decimation to 8 kHz). */
export function encodeReply(pcm24k: Int16Array, e: Enc): Buffer {
  if (e === 'pcm') return Buffer.from(pcm24k.buffer, pcm24k.byteOffset, pcm24k.byteLength);
  const pcm8k = new Int16Array(Math.floor(pcm24k.length / 3));
  for (let i = 0; i < pcm8k.length; i++)
    pcm8k[i] = Math.round((pcm24k[3 * i]! + pcm24k[3 * i + 1]! + pcm24k[3 * i + 2]!) / 3);
  return Buffer.from(e === 'pcmu' ? mulaw.encode(pcm8k) : alaw.encode(pcm8k));
}

/**
 * A provider failure in the middle of a reply (issue 11): after `afterMs` of the reply's audio the mock
 * either stops sending (`stall`: no more deltas, no response.done, the socket stays open) or drops the
 * socket without a close frame (`drop`), or dies for good (`die`: drops the socket and refuses every
 * reconnect from then on, like a provider outage: issue 15).
 */
export interface ReplyFault {
  readonly kind: 'stall' | 'drop' | 'die';
  readonly afterMs: number;
}

type TurnDetectionWire = { create_response?: boolean; interrupt_response?: boolean } | null | undefined;

// ---- the server -----------------------------------------------------------------------------------------

interface ItemRecord {
  readonly role: string;
  audioMs: number;
}

interface ActiveResponse {
  readonly id: string;
  cancelled: boolean;
  /** Late chunks still to send after the cancel. */
  lateLeft: number;
  reason?: 'turn_detected' | 'client_cancelled';
}

export class OpenAIMockServer implements MockProviderServer {
  readonly slug: string;
  readonly outputSampleRateHz = 24000;
  /** response.cancel sent by the client although nothing was active (harmless, answered with an error). */
  redundantCancels = 0;
  /** Observes every server event as it is sent (a test's clock of provider moments); no effect on the wire. */
  onServerEvent: ((type: string, fields: Record<string, unknown>) => void) | undefined;
  /** Observes every valid client message as it arrives (before the mock acts on it). */
  onClientEvent: ((type: string, message: Record<string, unknown>) => void) | undefined;
  /** Responses the server itself cancelled because its VAD heard the caller (interrupt_response). */
  readonly serverCancelled: string[] = [];
  /** conversation.item.deleted sent, in order. */
  readonly deletedItems: { itemId: string; role: string }[] = [];
  /** conversation.item.truncated sent, in order. */
  readonly truncations: { itemId: string; audioEndMs: number }[] = [];
  readonly #base: WsMockBase;
  readonly #mode: OpenAIMockMode;
  readonly #apiKey: string;
  readonly #speedFactor: number;
  readonly #chunkMs: number;
  readonly #lateChunks: number;
  readonly #turns: MockTurn[] = [];
  readonly #callerTranscripts: string[] = [];
  #conn: Connection | undefined;
  #fault: ReplyFault | undefined;
  /** WebSocket sessions accepted so far (a reconnect is a new one). */
  connections = 0;
  /** Sessions ended by the session cap (sessionMaxMs). */
  expiredSessions = 0;
  readonly sessionMaxMs: number | undefined;

  constructor(options: OpenAIMockOptions = {}) {
    this.#mode = options.mode ?? 'ga';
    this.slug = this.#mode.startsWith('azure') ? 'azure-openai' : 'openai';
    this.#apiKey = options.apiKey ?? (this.slug === 'azure-openai' ? 'az-test' : 'sk-test');
    this.#speedFactor = options.speedFactor ?? 10;
    this.#chunkMs = options.chunkMs ?? 100;
    this.#lateChunks = options.lateChunksAfterCancel ?? 2;
    this.sessionMaxMs = options.sessionMaxMs;
    this.#base = new WsMockBase(
      (req, url) => this.#check(req, url),
      (ws) => {
        this.#conn?.stop();
        this.#conn = new Connection(this, ws, this.#base, ++this.connections);
      },
    );
  }

  async listen(): Promise<void> {
    await this.#base.listen();
  }

  get url(): string {
    const path =
      this.#mode === 'azure'
        ? '/openai/v1/realtime'
        : this.#mode === 'azure-preview'
          ? '/openai/realtime'
          : '/v1/realtime';
    return `ws://127.0.0.1:${this.#base.port}${path}`;
  }
  get received(): ReadonlyArray<{ type: string; message: unknown; atMs: number }> {
    return this.#base.received;
  }
  get violations(): readonly string[] {
    return this.#base.violations;
  }
  get dialect(): 'ga' | 'beta' {
    return this.#mode === 'beta' || this.#mode === 'azure-preview' ? 'beta' : 'ga';
  }
  get speedFactor(): number {
    return this.#speedFactor;
  }
  get chunkMs(): number {
    return this.#chunkMs;
  }
  get lateChunksAfterCancel(): number {
    return this.#lateChunks;
  }
  enqueueTurn(turn: MockTurn): void {
    this.#turns.push(turn);
  }
  /** What the transcription of the caller's next turns says (in order); then 'mock caller words'. */
  enqueueCallerTranscript(text: string): void {
    this.#callerTranscripts.push(text);
  }
  nextCallerTranscript(): string {
    return this.#callerTranscripts.shift() ?? 'mock caller words';
  }
  /** The next scripted turn, or a short default reply. */
  nextTurn(): MockTurn {
    return this.#turns.shift() ?? { replyAudioPcm16: new Int16Array(2400), replyText: 'OK.' };
  }
  waitForMessage(type: string, predicate?: (m: unknown) => boolean, timeoutMs?: number): Promise<unknown> {
    return this.#base.waitForMessage(type, predicate, timeoutMs);
  }
  audioReceivedMs(): number {
    return this.#conn?.audioReceivedMs ?? 0;
  }
  sendRecoverableError(): void {
    this.#conn?.sendError('invalid_request_error', 'invalid_value', 'Mock recoverable error', null);
  }
  dropConnection(): void {
    this.#base.dropConnection();
  }
  /** The next reply with audio fails after `fault.afterMs` of it (once). */
  failNextReply(fault: ReplyFault): void {
    this.#fault = fault;
  }
  /** The pending fault, taken by the reply that will suffer it. */
  takeFault(): ReplyFault | undefined {
    const f = this.#fault;
    this.#fault = undefined;
    return f;
  }
  refuseConnections(on: boolean): void {
    this.#base.refuseConnections(on);
  }
  async close(): Promise<void> {
    this.#conn?.stop();
    await this.#base.close();
  }

  #check(req: IncomingMessage, url: URL): UpgradeDecision {
    const h = req.headers;
    const betaHeader = h['openai-beta'];
    const unauthorized: UpgradeDecision = {
      accept: false,
      status: 401,
      body: JSON.stringify({
        error: {
          type: 'invalid_request_error',
          code: 'invalid_api_key',
          message: 'Incorrect API key provided.',
        },
      }),
    };
    const bad = (why: string): UpgradeDecision => {
      this.#base.violation(`handshake: ${why}`);
      return { accept: false, status: 400, body: why };
    };
    switch (this.#mode) {
      case 'ga':
      case 'beta':
        if (url.pathname !== '/v1/realtime') return bad(`path ${url.pathname}`);
        if (!url.searchParams.get('model')) return bad('missing ?model=');
        if (h.authorization !== `Bearer ${this.#apiKey}`) return unauthorized;
        if (this.#mode === 'beta' && betaHeader !== 'realtime=v1')
          return bad('beta mode needs OpenAI-Beta: realtime=v1');
        // A GA setup sending the beta header was closed at once (S11b, UNVERIFIED); flag it.
        if (this.#mode === 'ga' && betaHeader !== undefined) return bad('GA session sent OpenAI-Beta header');
        return { accept: true };
      case 'azure':
        if (url.pathname !== '/openai/v1/realtime') return bad(`path ${url.pathname}`);
        if (!url.searchParams.get('model')) return bad('missing ?model=<deployment>');
        if (url.searchParams.has('api-version')) return bad('GA v1 path takes no api-version');
        if (h['api-key'] !== this.#apiKey) return unauthorized;
        return { accept: true };
      case 'azure-preview':
        if (url.pathname !== '/openai/realtime') return bad(`path ${url.pathname}`);
        if (!url.searchParams.get('api-version') || !url.searchParams.get('deployment'))
          return bad('missing api-version or deployment');
        if (h['api-key'] !== this.#apiKey) return unauthorized;
        return { accept: true };
    }
  }
}

/** One client connection (a realtime session). */
class Connection {
  audioReceivedMs = 0;
  readonly #inputs: { enc: Enc; vad: EnergyVad };
  #outEnc: Enc = 'pcm';
  #createResponse = true;
  #interruptResponse = true;
  #transcription = false;
  #active: ActiveResponse | undefined;
  #seq = 0;
  #lastItemId: string | null = null;
  #speechItemId: string | undefined;
  readonly #items = new Map<string, ItemRecord>();
  readonly #callIds = new Set<string>();
  #stopped = false;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly server: OpenAIMockServer,
    private readonly ws: WebSocket,
    private readonly base: WsMockBase,
    /** Numbers ids, so a reconnected session never reuses an id of the one before (like the real service). */
    private readonly index: number,
  ) {
    this.#inputs = { enc: 'pcm', vad: this.#makeVad('pcm') };
    ws.on('message', (data: Buffer, isBinary) => this.#onMessage(data.toString('utf8'), isBinary));
    ws.on('close', () => this.stop());
    const capMs = server.sessionMaxMs;
    if (capMs !== undefined) {
      const cap = setTimeout(() => {
        // The cap as the brief of issue 14 describes it: an error event, then a 1001 close.
        server.expiredSessions++;
        this.sendError(
          'invalid_request_error',
          'session_expired',
          'Your session hit the maximum duration of 60 minutes.',
          null,
        );
        this.stop();
        ws.close(1001, 'session expired');
      }, capMs);
      this.#timers.add(cap);
    }
    const sessionId = this.#id('sess');
    this.send('session.created', {
      session: {
        type: 'realtime',
        object: 'realtime.session',
        id: sessionId,
        model: 'gpt-realtime',
        output_modalities: ['audio'],
      },
    });
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  send(type: string, fields: Record<string, unknown>): void {
    if (this.#stopped || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ type, event_id: this.#id('event'), ...fields }));
    this.server.onServerEvent?.(type, fields);
  }

  sendError(type: string, code: string, message: string, param: string | null, clientEventId?: string): void {
    this.send('error', { error: { type, code, message, param, event_id: clientEventId ?? null } });
  }

  /** The server's answer to an item id it does not hold (delete, truncate). */
  #itemNotFound(itemId: string, clientEventId: string | undefined): void {
    this.sendError(
      'invalid_request_error',
      'item_not_found',
      `Item with item_id not found: ${itemId}`,
      'item_id',
      clientEventId,
    );
  }

  #id(prefix: string): string {
    return `${prefix}_mock${this.index}x${(++this.#seq).toString().padStart(6, '0')}`;
  }

  #makeVad(enc: Enc): EnergyVad {
    return new EnergyVad(
      { sampleRateHz: enc === 'pcm' ? 24000 : 8000, thresholdDbfs: -35, minSpeechMs: 60, minSilenceMs: 300 },
      (t) => (t.type === 'start' ? this.#speechStarted(t.atMs) : this.#speechStopped(t.atMs)),
    );
  }

  #name(ga: string, beta: string): string {
    return this.server.dialect === 'beta' ? beta : ga;
  }

  #onMessage(text: string, isBinary: boolean): void {
    if (isBinary) {
      this.base.violation('binary frame');
      return;
    }
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      this.base.violation('non-JSON frame');
      this.sendError('invalid_request_error', 'invalid_json', 'Invalid JSON', null);
      return;
    }
    const type =
      typeof msg === 'object' && msg !== null && 'type' in msg && typeof msg.type === 'string'
        ? msg.type
        : '';
    this.base.record(type, msg);
    const clientEventId = (msg as { event_id?: string }).event_id;
    const schema =
      type === 'session.update'
        ? this.server.dialect === 'beta'
          ? betaSessionUpdate
          : gaSessionUpdate
        : (clientSchemas as Record<string, z.ZodType | undefined>)[type];
    if (schema === undefined) {
      this.base.violation(`unknown client event ${JSON.stringify(type)}`);
      this.sendError(
        'invalid_request_error',
        'invalid_value',
        `Invalid value: '${type}'. Supported values are: …`,
        'type',
        clientEventId,
      );
      return;
    }
    const parsed = schema.safeParse(msg);
    if (!parsed.success) {
      this.base.violation(
        `malformed ${type}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
      this.sendError(
        'invalid_request_error',
        'invalid_value',
        `Invalid ${type}`,
        parsed.error.issues[0]?.path.join('.') ?? null,
        clientEventId,
      );
      return;
    }
    this.server.onClientEvent?.(type, parsed.data as Record<string, unknown>);
    this.#handle(type, parsed.data as Record<string, unknown>, clientEventId);
  }

  #handle(type: string, m: Record<string, unknown>, clientEventId: string | undefined): void {
    switch (type) {
      case 'session.update':
        return this.#sessionUpdate(m.session as Record<string, unknown>);
      case 'input_audio_buffer.append': {
        const bytes = Buffer.from(m.audio as string, 'base64');
        this.audioReceivedMs += bytes.length / bytesPerMsOf(this.#inputs.enc);
        this.#inputs.vad.process(decodeToPcm(bytes, this.#inputs.enc));
        return;
      }
      case 'input_audio_buffer.commit':
      case 'input_audio_buffer.clear':
        return;
      case 'conversation.item.delete': {
        // Removes the item from the conversation; an unknown id is an error [S1].
        const itemId = m.item_id as string;
        const rec = this.#items.get(itemId);
        if (rec === undefined) {
          this.base.violation(`delete of unknown item ${itemId}`);
          this.#itemNotFound(itemId, clientEventId);
          return;
        }
        this.#items.delete(itemId);
        this.server.deletedItems.push({ itemId, role: rec.role });
        this.send('conversation.item.deleted', { item_id: itemId });
        return;
      }
      case 'response.create': {
        if (this.#active !== undefined) {
          this.base.violation('response.create while a response is active');
          this.sendError(
            'invalid_request_error',
            'conversation_already_has_active_response',
            'Conversation already has an active response in progress',
            null,
            clientEventId,
          );
          return;
        }
        const params = m.response as { instructions?: string } | undefined;
        this.#startResponse(params?.instructions);
        return;
      }
      case 'response.cancel': {
        const rid = m.response_id as string | undefined;
        if (
          this.#active === undefined ||
          this.#active.cancelled ||
          (rid !== undefined && rid !== this.#active.id)
        ) {
          this.server.redundantCancels++;
          this.sendError(
            'invalid_request_error',
            'response_cancel_not_active',
            'Cancellation failed: no active response found',
            null,
            clientEventId,
          );
          return;
        }
        this.#active.cancelled = true;
        this.#active.reason = 'client_cancelled';
        return;
      }
      case 'conversation.item.create':
        return this.#itemCreate(m.item as { type: string; call_id?: string; role?: string }, clientEventId);
      case 'conversation.item.truncate': {
        const itemId = m.item_id as string;
        const audioEndMs = m.audio_end_ms as number;
        const rec = this.#items.get(itemId);
        if (rec === undefined || rec.role !== 'assistant') {
          this.base.violation(`truncate of unknown or non-assistant item ${itemId}`);
          this.#itemNotFound(itemId, clientEventId);
          return;
        }
        if (audioEndMs > rec.audioMs) {
          this.base.violation(`truncate audio_end_ms ${audioEndMs} > item audio ${rec.audioMs} ms`);
          this.sendError(
            'invalid_request_error',
            'invalid_value',
            `Audio content of ${rec.audioMs}ms is already shorter than ${audioEndMs}ms`,
            'audio_end_ms',
            clientEventId,
          );
          return;
        }
        rec.audioMs = audioEndMs;
        this.server.truncations.push({ itemId, audioEndMs });
        this.send('conversation.item.truncated', {
          item_id: itemId,
          content_index: m.content_index,
          audio_end_ms: audioEndMs,
        });
        return;
      }
    }
  }

  #sessionUpdate(s: Record<string, unknown>): void {
    if (this.server.dialect === 'beta') {
      const inEnc = encFromBeta(s.input_audio_format as string | undefined, this.#inputs.enc);
      this.#setInput(inEnc);
      this.#outEnc = encFromBeta(s.output_audio_format as string | undefined, this.#outEnc);
      if (s.input_audio_transcription !== undefined)
        this.#transcription = s.input_audio_transcription !== null;
      this.#setTurnDetection(s.turn_detection as TurnDetectionWire);
    } else {
      const audio = s.audio as
        { input?: Record<string, unknown>; output?: Record<string, unknown> } | undefined;
      this.#setInput(encFromGa(audio?.input?.format as { type: string } | undefined, this.#inputs.enc));
      this.#outEnc = encFromGa(audio?.output?.format as { type: string } | undefined, this.#outEnc);
      if (audio?.input?.transcription !== undefined) this.#transcription = audio.input.transcription !== null;
      this.#setTurnDetection(audio?.input?.turn_detection as TurnDetectionWire);
    }
    this.send('session.updated', {
      session: { type: 'realtime', object: 'realtime.session', id: 'sess_mock', ...s },
    });
  }

  #setInput(enc: Enc): void {
    if (enc === this.#inputs.enc) return;
    this.#inputs.enc = enc;
    this.#inputs.vad = this.#makeVad(enc);
  }

  #setTurnDetection(t: TurnDetectionWire): void {
    if (t === undefined) return;
    this.#createResponse = t?.create_response ?? t !== null;
    this.#interruptResponse = t?.interrupt_response ?? t !== null;
  }

  #speechStarted(atMs: number): void {
    this.#speechItemId = this.#id('item');
    this.send('input_audio_buffer.speech_started', {
      audio_start_ms: Math.floor(atMs),
      item_id: this.#speechItemId,
    });
    // interrupt_response: the server cancels the reply in progress by itself [S1].
    if (this.#interruptResponse && this.#active !== undefined && !this.#active.cancelled) {
      this.#active.cancelled = true;
      this.#active.reason = 'turn_detected';
      this.server.serverCancelled.push(this.#active.id);
    }
  }

  #speechStopped(atMs: number): void {
    const itemId = this.#speechItemId ?? this.#id('item');
    this.#speechItemId = undefined;
    this.send('input_audio_buffer.speech_stopped', { audio_end_ms: Math.floor(atMs), item_id: itemId });
    this.send('input_audio_buffer.committed', { previous_item_id: this.#lastItemId, item_id: itemId });
    const userItem = {
      id: itemId,
      type: 'message',
      status: 'completed',
      role: 'user',
      content: [{ type: 'input_audio', transcript: null }],
    };
    this.#addItem(userItem, 'user');
    if (this.#transcription) {
      // Partials first, then the completed transcript with its usage [S1] (one delta: whisper-1 style).
      const transcript = this.server.nextCallerTranscript();
      this.send('conversation.item.input_audio_transcription.delta', {
        item_id: itemId,
        content_index: 0,
        delta: transcript,
      });
      this.send('conversation.item.input_audio_transcription.completed', {
        item_id: itemId,
        content_index: 0,
        transcript,
        usage: { type: 'duration', seconds: 1 },
      });
    }
    if (this.#createResponse && this.#active === undefined) this.#startResponse(undefined);
  }

  #addItem(itemObj: Record<string, unknown> & { id: string }, role: string): void {
    this.#items.set(itemObj.id, { role, audioMs: 0 });
    if (this.server.dialect === 'beta') {
      this.send('conversation.item.created', { previous_item_id: this.#lastItemId, item: itemObj });
    } else {
      this.send('conversation.item.added', { previous_item_id: this.#lastItemId, item: itemObj });
      this.send('conversation.item.done', { previous_item_id: this.#lastItemId, item: itemObj });
    }
    this.#lastItemId = itemObj.id;
  }

  #itemCreate(
    itemIn: { type: string; call_id?: string; role?: string },
    clientEventId: string | undefined,
  ): void {
    if (itemIn.type === 'function_call_output' && !this.#callIds.has(itemIn.call_id ?? '')) {
      this.base.violation(`function_call_output for unknown call_id ${itemIn.call_id}`);
      this.sendError(
        'invalid_request_error',
        'invalid_value',
        'Tool call ID not found in conversation',
        'item.call_id',
        clientEventId,
      );
      return;
    }
    const id = this.#id('item');
    this.#addItem({ ...itemIn, id, status: 'completed' }, itemIn.role ?? 'tool');
  }

  #startResponse(instructions: string | undefined): void {
    void instructions;
    const response: ActiveResponse = {
      id: this.#id('resp'),
      cancelled: false,
      lateLeft: this.server.lateChunksAfterCancel,
    };
    this.#active = response;
    const turn = this.server.nextTurn();
    this.send('response.created', {
      response: {
        object: 'realtime.response',
        id: response.id,
        status: 'in_progress',
        status_details: null,
        output: [],
        usage: null,
        metadata: null,
      },
    });
    const output: Record<string, unknown>[] = [];
    let outputIndex = 0;
    if (turn.toolCall !== undefined) {
      const itemId = this.#id('item');
      const callId = this.#id('call');
      const args = JSON.stringify(turn.toolCall.args);
      const fc = {
        id: itemId,
        type: 'function_call',
        status: 'completed',
        name: turn.toolCall.name,
        call_id: callId,
        arguments: args,
      };
      this.#callIds.add(callId);
      this.send('response.output_item.added', {
        response_id: response.id,
        output_index: outputIndex,
        item: { ...fc, status: 'in_progress', arguments: '' },
      });
      this.#addItem(fc, 'tool');
      this.send('response.function_call_arguments.delta', {
        response_id: response.id,
        item_id: itemId,
        output_index: outputIndex,
        call_id: callId,
        delta: args,
      });
      this.send('response.function_call_arguments.done', {
        response_id: response.id,
        item_id: itemId,
        output_index: outputIndex,
        call_id: callId,
        name: turn.toolCall.name,
        arguments: args,
      });
      this.send('response.output_item.done', {
        response_id: response.id,
        output_index: outputIndex,
        item: fc,
      });
      output.push(fc);
      outputIndex++;
    }
    if (turn.replyAudioPcm16.length === 0) {
      this.#finish(response, output);
      return;
    }
    this.#streamAudio(response, turn, outputIndex, output);
  }

  #streamAudio(
    response: ActiveResponse,
    turn: MockTurn,
    outputIndex: number,
    output: Record<string, unknown>[],
  ): void {
    const itemId = this.#id('item');
    const ids = { response_id: response.id, item_id: itemId, output_index: outputIndex, content_index: 0 };
    const msgItem = {
      id: itemId,
      type: 'message',
      status: 'in_progress',
      role: 'assistant',
      content: [] as unknown[],
    };
    this.send('response.output_item.added', {
      response_id: response.id,
      output_index: outputIndex,
      item: msgItem,
    });
    this.#addItem(msgItem, 'assistant');
    this.send('response.content_part.added', { ...ids, part: { type: 'audio', transcript: '' } });
    const bytes = encodeReply(turn.replyAudioPcm16, this.#outEnc);
    const bpm = bytesPerMsOf(this.#outEnc);
    const chunkBytes = this.server.chunkMs * bpm;
    const words = (turn.replyText ?? '').split(/(?<= )/).filter((w) => w.length > 0);
    const rec = this.#items.get(itemId)!;
    const fault = this.server.takeFault();
    const faultBytes = fault === undefined ? Infinity : Math.round(fault.afterMs * bpm);
    let offset = 0;
    let heard = '';
    const step = (): void => {
      if (this.#stopped) return;
      if (fault !== undefined && offset >= faultBytes) {
        // Stall: this reply just stops (deltas, transcript, response.done never come); drop: the socket dies.
        if (fault.kind === 'die') this.server.refuseConnections(true);
        if (fault.kind !== 'stall') this.ws.terminate();
        return;
      }
      if (offset < bytes.length && (!response.cancelled || response.lateLeft-- > 0)) {
        const chunk = bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes));
        offset += chunk.length;
        rec.audioMs = offset / bpm;
        this.send(this.#name('response.output_audio.delta', 'response.audio.delta'), {
          ...ids,
          delta: chunk.toString('base64'),
        });
        const word = words.shift();
        if (word !== undefined) {
          heard += word;
          this.send(this.#name('response.output_audio_transcript.delta', 'response.audio_transcript.delta'), {
            ...ids,
            delta: word,
          });
        }
        const timer = setTimeout(() => {
          this.#timers.delete(timer);
          step();
        }, this.server.chunkMs / this.server.speedFactor);
        this.#timers.add(timer);
        return;
      }
      if (!response.cancelled) heard += words.join('');
      // output_audio.done is also sent when the response is cancelled or interrupted [S1].
      this.send(this.#name('response.output_audio.done', 'response.audio.done'), ids);
      this.send(this.#name('response.output_audio_transcript.done', 'response.audio_transcript.done'), {
        ...ids,
        transcript: heard,
      });
      const part = { type: this.server.dialect === 'beta' ? 'audio' : 'output_audio', transcript: heard };
      this.send('response.content_part.done', { ...ids, part });
      const done = { ...msgItem, status: response.cancelled ? 'incomplete' : 'completed', content: [part] };
      this.send('response.output_item.done', {
        response_id: response.id,
        output_index: outputIndex,
        item: done,
      });
      output.push(done);
      this.#finish(response, output);
    };
    step();
  }

  #finish(response: ActiveResponse, output: Record<string, unknown>[]): void {
    if (this.#active === response) this.#active = undefined;
    this.send('response.done', {
      response: {
        object: 'realtime.response',
        id: response.id,
        status: response.cancelled ? 'cancelled' : 'completed',
        status_details: response.cancelled ? { type: 'cancelled', reason: response.reason } : null,
        output,
        conversation_id: 'conv_mock',
        output_modalities: ['audio'],
        usage: {
          total_tokens: 30,
          input_tokens: 10,
          output_tokens: 20,
          input_token_details: { text_tokens: 4, audio_tokens: 6, cached_tokens: 0 },
          output_token_details: { text_tokens: 5, audio_tokens: 15 },
        },
        metadata: null,
      },
    });
  }
}

export async function startOpenAIMock(options: OpenAIMockOptions = {}): Promise<OpenAIMockServer> {
  const server = new OpenAIMockServer(options);
  await server.listen();
  return server;
}
