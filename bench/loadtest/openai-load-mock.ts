/**
 * A lean OpenAI Realtime (GA dialect) server for the load test: many concurrent sessions, no recording of
 * client messages, no schema validation. test/support/openai-mock.ts is the protocol-faithful mock the tests
 * use, but it serves one connection at a time and keeps every client message, which a 500-call run would
 * turn into gigabytes; this one keeps per-session state only.
 *
 * Each session runs an energy VAD over `input_audio_buffer.append` and, at the end of a caller turn, answers
 * like server VAD with `create_response: true` does (docs/reference/providers.md §1): speech_started/stopped,
 * committed, response.created, the caller's own utterance back as `response.output_audio.delta` chunks
 * streamed faster than real time, then response.done. `response.cancel` and `conversation.item.truncate`
 * are honoured so barge-in behaves as against the real API.
 */
import { createServer, type Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { EnergyVad } from '../../src/agent/vad.js';
import { ALAW_DECODE_TABLE, ULAW_DECODE_TABLE } from '../../src/media/codecs/g711.js';

type Encoding = 'pcmu' | 'pcma' | 'pcm24k';

export interface LoadMockOptions {
  /** The accepted Bearer key. */
  readonly apiKey: string;
  /** How much faster than real time reply audio is streamed. Default 5. */
  readonly speedFactor?: number;
  /** Reply chunk length. Default 100 ms. */
  readonly chunkMs?: number;
  /** Longest utterance echoed back. Default 10 s. */
  readonly maxReplyMs?: number;
}

export interface LoadMockStats {
  readonly sessions: number;
  readonly openSessions: number;
  readonly responses: number;
  readonly cancelled: number;
  readonly audioInMs: number;
  readonly audioOutMs: number;
}

const bytesPerMs = (enc: Encoding): number => (enc === 'pcm24k' ? 48 : 8);

function encodingOf(format: unknown): Encoding | undefined {
  const type = (format as { type?: unknown } | undefined)?.type;
  if (type === 'audio/pcmu') return 'pcmu';
  if (type === 'audio/pcma') return 'pcma';
  if (type === 'audio/pcm') return 'pcm24k';
  return undefined;
}

/** One client connection. */
class Session {
  #seq = 0;
  #inEnc: Encoding = 'pcm24k';
  #outEnc: Encoding = 'pcm24k';
  #vad: EnergyVad;
  #pcm = new Int16Array(4800);
  /** Raw input bytes of the current utterance (bounded by maxReplyMs). */
  #utterance: Buffer[] = [];
  #utteranceBytes = 0;
  #itemId = '';
  #active: { id: string; itemId: string; timer: NodeJS.Timeout | undefined } | undefined;
  #closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly mock: OpenAILoadMock,
  ) {
    this.#vad = this.#makeVad();
    ws.on('message', (data: Buffer) => this.#onMessage(data));
    ws.on('close', () => this.close());
    ws.on('error', () => this.close());
    this.#send({ type: 'session.created', session: { type: 'realtime', id: this.#id('sess') } });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#active?.timer !== undefined) clearTimeout(this.#active.timer);
    this.#active = undefined;
    this.mock.sessionClosed();
  }

  #id(prefix: string): string {
    return `${prefix}_load${(++this.#seq).toString(36)}`;
  }

  #send(message: Record<string, unknown>): void {
    if (this.#closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify({ event_id: this.#id('event'), ...message }));
  }

  #makeVad(): EnergyVad {
    return new EnergyVad(
      {
        sampleRateHz: this.#inEnc === 'pcm24k' ? 24000 : 8000,
        thresholdDbfs: -35,
        minSpeechMs: 60,
        minSilenceMs: 500,
      },
      (t) => (t.type === 'start' ? this.#speechStarted(t.atMs) : this.#speechStopped(t.atMs)),
    );
  }

  #onMessage(data: Buffer): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
    } catch {
      return;
    }
    switch (msg.type) {
      case 'session.update': {
        const session = msg.session as {
          audio?: { input?: { format?: unknown }; output?: { format?: unknown } };
        };
        this.#inEnc = encodingOf(session.audio?.input?.format) ?? this.#inEnc;
        this.#outEnc = encodingOf(session.audio?.output?.format) ?? this.#outEnc;
        this.#vad = this.#makeVad();
        this.#send({ type: 'session.updated', session: { type: 'realtime', id: this.#id('sess') } });
        return;
      }
      case 'input_audio_buffer.append':
        if (typeof msg.audio === 'string') this.#onAudio(Buffer.from(msg.audio, 'base64'));
        return;
      case 'response.create':
        this.#respond(Buffer.alloc(0));
        return;
      case 'response.cancel':
        this.#cancel();
        return;
      case 'conversation.item.truncate':
        this.#send({
          type: 'conversation.item.truncated',
          item_id: msg.item_id,
          content_index: 0,
          audio_end_ms: msg.audio_end_ms,
        });
        return;
      default:
        // conversation.item.create, input_audio_buffer.clear, …: nothing the load needs.
        return;
    }
  }

  #onAudio(bytes: Buffer): void {
    this.mock.audioInMs += bytes.length / bytesPerMs(this.#inEnc);
    if (this.#vad.speaking) this.#keep(bytes);
    let pcm: Int16Array;
    if (this.#inEnc === 'pcm24k') {
      const aligned = Buffer.from(bytes);
      pcm = new Int16Array(aligned.buffer, aligned.byteOffset, aligned.length >> 1);
    } else {
      if (this.#pcm.length < bytes.length) this.#pcm = new Int16Array(bytes.length);
      const table = this.#inEnc === 'pcmu' ? ULAW_DECODE_TABLE : ALAW_DECODE_TABLE;
      for (let i = 0; i < bytes.length; i++) this.#pcm[i] = table[bytes[i]!]!;
      pcm = this.#pcm.subarray(0, bytes.length);
    }
    const wasSpeaking = this.#vad.speaking;
    this.#vad.process(pcm);
    if (!wasSpeaking && this.#vad.speaking) this.#keep(bytes);
  }

  #keep(bytes: Buffer): void {
    if (this.#utteranceBytes >= this.mock.maxReplyMs * bytesPerMs(this.#inEnc)) return;
    this.#utterance.push(Buffer.from(bytes));
    this.#utteranceBytes += bytes.length;
  }

  #speechStarted(atMs: number): void {
    this.#cancel('turn_detected');
    this.#utterance = [];
    this.#utteranceBytes = 0;
    this.#itemId = this.#id('item');
    this.#send({
      type: 'input_audio_buffer.speech_started',
      audio_start_ms: Math.round(atMs),
      item_id: this.#itemId,
    });
  }

  #speechStopped(atMs: number): void {
    const itemId = this.#itemId;
    this.#send({
      type: 'input_audio_buffer.speech_stopped',
      audio_end_ms: Math.round(atMs),
      item_id: itemId,
    });
    this.#send({ type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: null });
    const reply = Buffer.concat(this.#utterance);
    this.#utterance = [];
    this.#utteranceBytes = 0;
    this.#respond(reply);
  }

  /** The reply in the output format: the utterance itself when formats match, else a tone as long. */
  #replyAudio(input: Buffer): Buffer {
    if (this.#inEnc === this.#outEnc && input.length > 0) return input;
    const ms = input.length > 0 ? input.length / bytesPerMs(this.#inEnc) : 1000;
    if (this.#outEnc !== 'pcm24k')
      return Buffer.alloc(Math.round(ms * 8), this.#outEnc === 'pcmu' ? 0x9e : 0x9e ^ 0x55);
    const samples = Math.round(ms * 24);
    const out = Buffer.alloc(samples * 2);
    for (let i = 0; i < samples; i++)
      out.writeInt16LE(Math.round(4000 * Math.sin((2 * Math.PI * 440 * i) / 24000)), i * 2);
    return out;
  }

  #respond(input: Buffer): void {
    this.#cancel();
    const audio = this.#replyAudio(input);
    const id = this.#id('resp');
    const itemId = this.#id('item');
    this.mock.responses++;
    this.#send({
      type: 'response.created',
      response: { id, object: 'realtime.response', status: 'in_progress', output: [] },
    });
    this.#send({
      type: 'response.output_item.added',
      response_id: id,
      output_index: 0,
      item: { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] },
    });
    const chunkBytes = Math.round(this.mock.chunkMs * bytesPerMs(this.#outEnc));
    const active: { id: string; itemId: string; timer: NodeJS.Timeout | undefined } = {
      id,
      itemId,
      timer: undefined,
    };
    this.#active = active;
    let offset = 0;
    const step = (): void => {
      active.timer = undefined;
      if (this.#active !== active) return;
      if (offset < audio.length) {
        const chunk = audio.subarray(offset, Math.min(audio.length, offset + chunkBytes));
        offset += chunk.length;
        this.mock.audioOutMs += chunk.length / bytesPerMs(this.#outEnc);
        this.#send({
          type: 'response.output_audio.delta',
          response_id: id,
          item_id: itemId,
          output_index: 0,
          content_index: 0,
          delta: chunk.toString('base64'),
        });
        active.timer = setTimeout(step, this.mock.chunkMs / this.mock.speedFactor);
        return;
      }
      this.#send({
        type: 'response.output_audio.done',
        response_id: id,
        item_id: itemId,
        output_index: 0,
        content_index: 0,
      });
      this.#finish('completed');
    };
    step();
  }

  #cancel(reason: 'turn_detected' | 'client_cancelled' = 'client_cancelled'): void {
    const active = this.#active;
    if (active === undefined) return;
    if (active.timer !== undefined) clearTimeout(active.timer);
    this.mock.cancelled++;
    this.#finish('cancelled', reason);
  }

  #finish(status: 'completed' | 'cancelled', reason?: string): void {
    const active = this.#active;
    if (active === undefined) return;
    this.#active = undefined;
    this.#send({
      type: 'response.done',
      response: {
        id: active.id,
        object: 'realtime.response',
        status,
        ...(reason === undefined ? {} : { status_details: { type: status, reason } }),
        output: [{ id: active.itemId, type: 'message', role: 'assistant', status: 'completed', content: [] }],
        usage: { total_tokens: 0, input_tokens: 0, output_tokens: 0 },
      },
    });
  }
}

/** The server: HTTP on 127.0.0.1, upgrades `/v1/realtime?model=…` with the right Bearer key. */
export class OpenAILoadMock {
  readonly speedFactor: number;
  readonly chunkMs: number;
  readonly maxReplyMs: number;
  sessions = 0;
  openSessions = 0;
  responses = 0;
  cancelled = 0;
  audioInMs = 0;
  audioOutMs = 0;
  readonly #apiKey: string;
  readonly #http: Server;
  readonly #wss = new WebSocketServer({ noServer: true });
  #port = 0;

  constructor(options: LoadMockOptions) {
    this.#apiKey = options.apiKey;
    this.speedFactor = options.speedFactor ?? 5;
    this.chunkMs = options.chunkMs ?? 100;
    this.maxReplyMs = options.maxReplyMs ?? 10_000;
    this.#http = createServer((_req, res) => res.writeHead(426).end());
    this.#http.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const ok =
        url.pathname === '/v1/realtime' &&
        url.searchParams.has('model') &&
        req.headers.authorization === `Bearer ${this.#apiKey}`;
      if (!ok) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => {
        this.sessions++;
        this.openSessions++;
        new Session(ws, this);
      });
    });
  }

  async listen(host = '127.0.0.1'): Promise<void> {
    await new Promise<void>((resolve) => this.#http.listen(0, host, resolve));
    const address = this.#http.address();
    if (address === null || typeof address === 'string') throw new Error('mock has no port');
    this.#port = address.port;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/v1/realtime`;
  }

  sessionClosed(): void {
    this.openSessions--;
  }

  stats(): LoadMockStats {
    return {
      sessions: this.sessions,
      openSessions: this.openSessions,
      responses: this.responses,
      cancelled: this.cancelled,
      audioInMs: Math.round(this.audioInMs),
      audioOutMs: Math.round(this.audioOutMs),
    };
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }
}
