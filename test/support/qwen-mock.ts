/**
 * A protocol-faithful DashScope Qwen-Omni-Realtime server on 127.0.0.1 port 0, per
 * docs/reference/providers.md §3 (OpenAI-beta-style events, nested tools, `session.finish`).
 *
 * - Upgrade: path `/api-ws/v1/realtime?model=…`, `Authorization: Bearer <key>`; a wrong key is HTTP 401.
 * - `session.created` on connect; every client event is validated with the strict client schemas. An invalid
 *   one is a violation and, like the real server, answered with an `error` event (the socket stays up) [Q1].
 * - Server VAD: an energy VAD over the 16 kHz input sends speech_started/stopped, cancels a reply in
 *   progress (interrupt_response, default true [Q1]) and answers with the next scripted turn
 *   (create_response) as `response.audio.delta` chunks of 24 kHz PCM16, faster than real time.
 * - `response.cancel` with nothing in progress is an error [Q1]; `session.finish` → `session.finished`, close.
 */
import type { WebSocket } from 'ws';
import { clientEventSchema, type QwenSessionConfig } from '../../src/agent/providers/qwen-omni/schemas.js';
import { EnergyVad } from '../../src/agent/vad.js';
import type { MockProviderServer, MockTurn } from './mock-provider.js';
import { WsMockBase } from './ws-mock-base.js';

export const QWEN_MOCK_PATH = '/api-ws/v1/realtime';
const INPUT_RATE_HZ = 16_000;
const OUTPUT_RATE_HZ = 24_000;
const CHUNK_MS = 100;
const CHUNK_GAP_MS = 4;

export interface QwenMockServer extends MockProviderServer {
  /** The last session config the client set (merged session.update payloads). */
  readonly session: Readonly<QwenSessionConfig>;
  /** Models requested in the connection URLs. */
  readonly models: readonly string[];
}

interface Conn {
  readonly ws: WebSocket;
  session: QwenSessionConfig;
  streaming:
    { responseId: string; itemId: string; timer: NodeJS.Timeout | undefined; cancelled: boolean } | undefined;
  finished: boolean;
}

export async function startQwenMock(options: { apiKey?: string } = {}): Promise<QwenMockServer> {
  const apiKey = options.apiKey ?? 'qwen-test';
  const turns: MockTurn[] = [];
  const models: string[] = [];
  const pendingCalls = new Set<string>();
  let audioBytes = 0;
  let seq = 0;
  let current: Conn | undefined;
  let lastSession: QwenSessionConfig = {};
  const vad = new EnergyVad({
    sampleRateHz: INPUT_RATE_HZ,
    thresholdDbfs: -40,
    minSpeechMs: 60,
    minSilenceMs: 400,
  });
  const id = (prefix: string): string => `${prefix}_${(++seq).toString().padStart(6, '0')}`;

  const base = new WsMockBase(
    (req, url) => {
      if (url.pathname !== QWEN_MOCK_PATH) return { accept: false, status: 404 };
      const model = url.searchParams.get('model');
      if (model === null || model === '') return { accept: false, status: 400, body: 'model is required' };
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        return {
          accept: false,
          status: 401,
          body: '{"code":"InvalidApiKey","message":"Invalid API-key provided."}',
        };
      }
      models.push(model);
      return { accept: true };
    },
    (ws) => {
      const conn: Conn = {
        ws,
        session: {
          modalities: ['text', 'audio'],
          voice: 'Chelsie',
          input_audio_format: 'pcm16',
          output_audio_format: 'pcm24',
          turn_detection: {
            type: 'server_vad',
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 800,
            create_response: true,
            interrupt_response: true,
          },
        },
        streaming: undefined,
        finished: false,
      };
      current = conn;
      vad.reset();
      ws.on('message', (data: Buffer, isBinary: boolean) => onMessage(conn, data, isBinary));
      ws.on('close', () => stop(conn));
      send(conn, {
        type: 'session.created',
        session: { id: id('sess'), object: 'realtime.session', ...conn.session },
      });
    },
  );
  await base.listen();

  function send(conn: Conn, event: Record<string, unknown>): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    conn.ws.send(JSON.stringify({ event_id: id('event'), ...event }));
  }

  function error(conn: Conn, code: string, message: string, param?: string): void {
    send(conn, {
      type: 'error',
      error: { type: 'invalid_request_error', code, message, param: param ?? null },
    });
  }

  function onMessage(conn: Conn, data: Buffer, isBinary: boolean): void {
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      base.violation(`non-JSON ${isBinary ? 'binary' : 'text'} frame`);
      return;
    }
    const type =
      typeof (json as { type?: unknown })?.type === 'string' ? (json as { type: string }).type : 'invalid';
    base.record(type, json);
    if (conn.finished) {
      base.violation(`${type} after session.finish`);
      return;
    }
    const parsed = clientEventSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      base.violation(`${type}: ${issues}`);
      error(conn, 'invalid_value', `Invalid event: ${issues}`, parsed.error.issues[0]?.path.join('.'));
      return;
    }
    const e = parsed.data;
    switch (e.type) {
      case 'session.update':
        conn.session = { ...conn.session, ...e.session };
        lastSession = conn.session;
        send(conn, { type: 'session.updated', session: conn.session });
        return;
      case 'input_audio_buffer.append': {
        const bytes = Buffer.from(e.audio, 'base64');
        if (bytes.length % 2 !== 0) base.violation('odd PCM16 byte count');
        audioBytes += bytes.length;
        const pcm = new Int16Array(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.length & ~1)),
        );
        const t = vad.process(pcm);
        if (conn.session.turn_detection === null || conn.session.turn_detection === undefined) return;
        const itemId = id('item');
        if (t?.type === 'start') {
          send(conn, { type: 'input_audio_buffer.speech_started', audio_start_ms: t.atMs, item_id: itemId });
          if (conn.streaming !== undefined && conn.session.turn_detection.interrupt_response !== false)
            cancel(conn);
        } else if (t?.type === 'end') {
          send(conn, { type: 'input_audio_buffer.speech_stopped', audio_end_ms: t.atMs, item_id: itemId });
          send(conn, { type: 'input_audio_buffer.committed', item_id: itemId, previous_item_id: null });
          send(conn, {
            type: 'conversation.item.created',
            item: { id: itemId, type: 'message', role: 'user', content: [{ type: 'input_audio' }] },
          });
          if (conn.session.turn_detection.create_response !== false) respond(conn);
        }
        return;
      }
      case 'input_audio_buffer.commit':
      case 'input_audio_buffer.clear':
      case 'input_image_buffer.append':
        return;
      case 'response.create':
        respond(conn);
        return;
      case 'response.cancel':
        if (conn.streaming === undefined) {
          error(conn, 'invalid_value', 'Cancellation failed: no active response found');
          return;
        }
        cancel(conn);
        return;
      case 'conversation.item.create':
        if (e.item.type === 'function_call_output' && !pendingCalls.delete(e.item.call_id)) {
          base.violation(`function_call_output for unknown call ${e.item.call_id}`);
        }
        send(conn, { type: 'conversation.item.created', item: { id: e.item.id ?? id('item'), ...e.item } });
        return;
      case 'session.finish':
        conn.finished = true;
        stop(conn);
        send(conn, { type: 'session.finished' });
        conn.ws.close(1000, 'session finished');
        return;
    }
  }

  function stop(conn: Conn): void {
    if (conn.streaming === undefined) return;
    clearTimeout(conn.streaming.timer);
    conn.streaming.cancelled = true;
    conn.streaming = undefined;
  }

  function cancel(conn: Conn): void {
    const s = conn.streaming;
    if (s === undefined) return;
    stop(conn);
    send(conn, {
      type: 'response.done',
      response: { id: s.responseId, object: 'realtime.response', status: 'cancelled', output: [] },
    });
  }

  function respond(conn: Conn): void {
    if (conn.streaming !== undefined) return;
    const turn = turns.shift();
    if (turn === undefined) return;
    const responseId = id('resp');
    send(conn, {
      type: 'response.created',
      response: { id: responseId, object: 'realtime.response', status: 'in_progress', output: [] },
    });
    if (turn.toolCall !== undefined) {
      const callId = id('call');
      const itemId = id('item');
      const args = JSON.stringify(turn.toolCall.args);
      const item = {
        id: itemId,
        type: 'function_call',
        status: 'completed',
        call_id: callId,
        name: turn.toolCall.name,
        arguments: args,
      };
      pendingCalls.add(callId);
      send(conn, {
        type: 'response.output_item.added',
        response_id: responseId,
        output_index: 0,
        item: { ...item, status: 'in_progress', arguments: '' },
      });
      send(conn, {
        type: 'response.function_call_arguments.delta',
        response_id: responseId,
        item_id: itemId,
        output_index: 0,
        call_id: callId,
        delta: args,
      });
      send(conn, {
        type: 'response.function_call_arguments.done',
        response_id: responseId,
        item_id: itemId,
        output_index: 0,
        call_id: callId,
        name: turn.toolCall.name,
        arguments: args,
      });
      send(conn, { type: 'response.output_item.done', response_id: responseId, output_index: 0, item });
      send(conn, {
        type: 'response.done',
        response: { id: responseId, object: 'realtime.response', status: 'completed', output: [item] },
      });
      return;
    }
    const itemId = id('item');
    const ids = { response_id: responseId, item_id: itemId, output_index: 0, content_index: 0 };
    send(conn, {
      type: 'response.output_item.added',
      response_id: responseId,
      output_index: 0,
      item: { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] },
    });
    send(conn, { type: 'response.content_part.added', ...ids, part: { type: 'audio', transcript: '' } });
    if (turn.replyText !== undefined)
      send(conn, { type: 'response.audio_transcript.delta', ...ids, delta: turn.replyText });
    const pcm = turn.replyAudioPcm16;
    const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    const chunkBytes = (OUTPUT_RATE_HZ / 1000) * CHUNK_MS * 2;
    const state: NonNullable<Conn['streaming']> = { responseId, itemId, timer: undefined, cancelled: false };
    conn.streaming = state;
    let offset = 0;
    const step = (): void => {
      if (state.cancelled) return;
      if (offset < bytes.length) {
        send(conn, {
          type: 'response.audio.delta',
          ...ids,
          delta: bytes.subarray(offset, offset + chunkBytes).toString('base64'),
        });
        offset += chunkBytes;
        state.timer = setTimeout(step, CHUNK_GAP_MS);
        return;
      }
      conn.streaming = undefined;
      send(conn, { type: 'response.audio.done', ...ids });
      send(conn, { type: 'response.audio_transcript.done', ...ids, transcript: turn.replyText ?? '' });
      send(conn, {
        type: 'response.content_part.done',
        ...ids,
        part: { type: 'audio', transcript: turn.replyText ?? '' },
      });
      send(conn, {
        type: 'response.output_item.done',
        response_id: responseId,
        output_index: 0,
        item: { id: itemId, type: 'message', role: 'assistant', status: 'completed' },
      });
      send(conn, {
        type: 'response.done',
        response: {
          id: responseId,
          object: 'realtime.response',
          status: 'completed',
          usage: {
            total_tokens: 150,
            input_tokens: 100,
            output_tokens: 50,
            input_token_details: { audio_tokens: 80 },
            output_token_details: { audio_tokens: 40 },
          },
        },
      });
    };
    step();
  }

  return {
    slug: 'qwen-omni',
    url: `ws://127.0.0.1:${base.port}${QWEN_MOCK_PATH}`,
    outputSampleRateHz: OUTPUT_RATE_HZ,
    received: base.received,
    violations: base.violations,
    get session() {
      return lastSession;
    },
    models,
    enqueueTurn: (turn) => turns.push(turn),
    waitForMessage: (type, predicate, timeoutMs) => base.waitForMessage(type, predicate, timeoutMs),
    audioReceivedMs: () => audioBytes / ((INPUT_RATE_HZ / 1000) * 2),
    sendRecoverableError() {
      if (current !== undefined)
        error(current, 'invalid_value', 'Invalid value: the request could not be processed.');
    },
    dropConnection: () => base.dropConnection(),
    refuseConnections: (on) => base.refuseConnections(on),
    async close() {
      if (current !== undefined) stop(current);
      await base.close();
    },
  };
}
