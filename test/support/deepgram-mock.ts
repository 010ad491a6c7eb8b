/**
 * A protocol-faithful Deepgram Voice Agent API v1 server on 127.0.0.1 port 0, per
 * docs/reference/providers-2.md §7 and the recorded frames in test/fixtures/providers/deepgram-agent/.
 *
 * - Upgrade: path `/v1/agent/converse`, `Authorization: Token <key>`; a wrong key is HTTP 401.
 * - `Welcome{request_id}` on connect; the first client message must be `Settings` (strict client schema),
 *   answered by `SettingsApplied`; audio (binary frames) or injections before it are violations and, like
 *   the real server, answered with `Error` and a close [D3]. A text frame that is not JSON, or fails the
 *   schema, is `Error{UNPARSABLE_CLIENT_MESSAGE}` and a close.
 * - Audio in at the Settings' encoding (mulaw/alaw/linear16); every byte is kept (`audioBytes()`), so an
 *   end-to-end test can compare it with what the caller sent. An energy VAD over the decoded audio sends
 *   `UserStartedSpeaking` (and stops a reply in progress: nothing else is sent for it [D3]) and, at the end
 *   of the utterance, answers with the next scripted turn.
 * - Turns in the recorded order [D2]: `ConversationText{user}` → `History` → `EndOfThought` →
 *   `ConversationText{assistant}` → `History` → `AgentStartedSpeaking{latencies}` → binary audio in the
 *   Settings' output encoding (100 ms chunks, faster than real time) → `AgentAudioDone`. A tool turn sends
 *   `FunctionCallRequest{functions:[{id, name, arguments:<JSON string>, client_side:true}]}` and continues
 *   with the next turn once `FunctionCallResponse` answers its id (echoed as `History{function_calls}`).
 * - `KeepAlive` is accepted silently; no client frame for `idleTimeoutMs` → `Error{CLIENT_MESSAGE_TIMEOUT}`
 *   and a close [D3].
 */
import { randomUUID } from 'node:crypto';
import { alaw, mulaw } from 'alawmulaw';
import type { WebSocket } from 'ws';
import {
  clientMessageSchema,
  type DeepgramClientMessage,
  type DeepgramSettings,
} from '../../src/agent/providers/deepgram/schemas.js';
import { EnergyVad } from '../../src/agent/vad.js';
import type { MockProviderServer, MockTurn } from './mock-provider.js';
import { WsMockBase } from './ws-mock-base.js';

export const DEEPGRAM_MOCK_PATH = '/v1/agent/converse';
const CHUNK_MS = 100;
const CHUNK_GAP_MS = 4;

export interface DeepgramMockOptions {
  readonly apiKey?: string;
  /** Rate of MockTurn.replyAudioPcm16 and the output rate Settings must ask for. Default 8000. */
  readonly outputSampleRateHz?: number;
  /** Close with CLIENT_MESSAGE_TIMEOUT after this long without a client frame. Default 10000. */
  readonly idleTimeoutMs?: number;
}

export interface DeepgramMockServer extends MockProviderServer {
  /** The Settings of the latest session. */
  readonly settings: DeepgramSettings | undefined;
  /** Every caller audio byte received, all sessions, in order. */
  audioBytes(): Buffer;
  /** Sends `Error` (fatal: the mock closes the socket as the real server does). */
  sendFatalError(code: string): void;
}

interface Conn {
  readonly ws: WebSocket;
  settings: DeepgramSettings | undefined;
  /** SettingsApplied has been sent: audio and injections may flow [D3]. */
  applied: boolean;
  audioBytes: number;
  streaming: { timer: NodeJS.Timeout | undefined; cancelled: boolean } | undefined;
  idle: NodeJS.Timeout | undefined;
  /** Client-side calls awaiting FunctionCallResponse, id → name. */
  readonly pendingCalls: Map<string, string>;
  closed: boolean;
}

/**
 * The test server options of tenant `acme` routing every number to Deepgram at `mock` (model gpt-4o-mini,
 * voice aura-2-luna-en, tools end_call and send_dtmf), with further agent lines (`  key: value`).
 */
export function deepgramTenant(
  mock: { readonly url: string },
  ...agentLines: string[]
): {
  dialplans: Record<string, string>;
  credentials: Array<{ tenant: string; provider: string; fields: Record<string, string> }>;
} {
  const profile = ['  provider: deepgram', '  model: gpt-4o-mini', '  voice: aura-2-luna-en'];
  const tools = '  tools: { end_call: {}, send_dtmf: {} }';
  return {
    dialplans: {
      'acme.yaml': ['tenant: acme', 'numbers: ["*"]', 'agent:', ...profile, ...agentLines, tools].join('\n'),
    },
    credentials: [{ tenant: 'acme', provider: 'deepgram', fields: { apiKey: 'dg-test', url: mock.url } }],
  };
}

export async function startDeepgramMock(options: DeepgramMockOptions = {}): Promise<DeepgramMockServer> {
  const apiKey = options.apiKey ?? 'dg-test';
  const outputRateHz = options.outputSampleRateHz ?? 8000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 10_000;
  const turns: MockTurn[] = [];
  const audioChunks: Buffer[] = [];
  let current: Conn | undefined;
  let lastSettings: DeepgramSettings | undefined;
  let callSeq = 0;
  let vad: EnergyVad | undefined;

  const base = new WsMockBase(
    (req, url) => {
      if (url.pathname !== DEEPGRAM_MOCK_PATH) return { accept: false, status: 404 };
      if (req.headers.authorization !== `Token ${apiKey}`) {
        return {
          accept: false,
          status: 401,
          body: '{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials."}',
        };
      }
      return { accept: true };
    },
    (ws) => {
      const conn: Conn = {
        ws,
        settings: undefined,
        applied: false,
        audioBytes: 0,
        streaming: undefined,
        idle: undefined,
        pendingCalls: new Map(),
        closed: false,
      };
      current = conn;
      ws.on('message', (data: Buffer, isBinary: boolean) => onFrame(conn, data, isBinary));
      ws.on('close', () => {
        conn.closed = true;
        stop(conn);
        clearTimeout(conn.idle);
      });
      armIdle(conn);
      send(conn, { type: 'Welcome', request_id: randomUUID() });
    },
  );
  await base.listen();

  function send(conn: Conn, message: Record<string, unknown>): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(message));
  }

  /** Error is fatal: "the connection often closes shortly after" [D3]. */
  function fail(conn: Conn, code: string, description: string): void {
    send(conn, { type: 'Error', code, description });
    stop(conn);
    setTimeout(() => conn.ws.close(1000), 20);
  }

  function reject(conn: Conn, code: string, text: string): void {
    base.violation(text);
    fail(conn, code, text);
  }

  function armIdle(conn: Conn): void {
    clearTimeout(conn.idle);
    conn.idle = setTimeout(() => {
      if (!conn.closed)
        fail(conn, 'CLIENT_MESSAGE_TIMEOUT', 'No message received from client within timeout.');
    }, idleTimeoutMs);
  }

  function onFrame(conn: Conn, data: Buffer, isBinary: boolean): void {
    armIdle(conn);
    if (isBinary) return onAudio(conn, data);
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      return reject(conn, 'UNPARSABLE_CLIENT_MESSAGE', 'text frame is not JSON');
    }
    const type =
      typeof (json as { type?: unknown })?.type === 'string' ? (json as { type: string }).type : 'invalid';
    base.record(type, json);
    const parsed = clientMessageSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      return reject(conn, 'UNPARSABLE_CLIENT_MESSAGE', `${type}: ${issues}`);
    }
    const m = parsed.data;
    if (m.type === 'Settings') {
      if (conn.settings !== undefined) return reject(conn, 'SETTINGS_ALREADY_APPLIED', 'Settings sent twice');
      if (m.audio.output.sample_rate !== outputRateHz) {
        base.violation(`Settings output rate ${m.audio.output.sample_rate} ≠ mock rate ${outputRateHz}`);
      }
      conn.settings = m;
      lastSettings = m;
      vad = new EnergyVad({
        sampleRateHz: m.audio.input.sample_rate,
        thresholdDbfs: -40,
        minSpeechMs: 60,
        minSilenceMs: 400,
      });
      // Recorded: SettingsApplied ~40 ms after Settings [D2].
      setTimeout(() => {
        conn.applied = true;
        send(conn, { type: 'SettingsApplied' });
      }, 5);
      return;
    }
    if (!conn.applied) return reject(conn, 'SETTINGS_REQUIRED', `${m.type} before SettingsApplied`);
    onControl(conn, m);
  }

  function onControl(conn: Conn, m: Exclude<DeepgramClientMessage, { type: 'Settings' }>): void {
    switch (m.type) {
      case 'KeepAlive':
        return;
      case 'InjectUserMessage':
        userTurn(conn, m.content);
        return;
      case 'InjectAgentMessage':
        // Injected agent speech: ConversationText + AgentAudioDone without AgentStartedSpeaking [D2].
        send(conn, { type: 'ConversationText', role: 'assistant', content: m.message });
        send(conn, { type: 'History', role: 'assistant', content: m.message });
        send(conn, { type: 'AgentAudioDone' });
        return;
      case 'FunctionCallResponse': {
        const name = conn.pendingCalls.get(m.id);
        if (name === undefined) return base.violation(`FunctionCallResponse for unknown id ${m.id}`);
        if (name !== m.name)
          base.violation(`FunctionCallResponse ${m.id} names ${m.name}, requested ${name}`);
        conn.pendingCalls.delete(m.id);
        setTimeout(() => {
          send(conn, {
            type: 'History',
            function_calls: [{ id: m.id, name, client_side: true, arguments: '{}', response: m.content }],
          });
          respond(conn);
        }, 5);
        return;
      }
      case 'UpdatePrompt':
        send(conn, { type: 'PromptUpdated' });
        return;
      case 'UpdateSpeak':
        send(conn, { type: 'SpeakUpdated' });
        return;
      case 'UpdateThink':
        send(conn, { type: 'ThinkUpdated' });
        return;
    }
  }

  function onAudio(conn: Conn, bytes: Buffer): void {
    const settings = conn.settings;
    // "Do not send audio … until SettingsApplied" [D3].
    if (settings === undefined || !conn.applied)
      return reject(conn, 'SETTINGS_REQUIRED', 'audio before SettingsApplied');
    const encoding = settings.audio.input.encoding;
    if (encoding === 'linear16' && bytes.length % 2 !== 0) base.violation('odd linear16 byte count');
    audioChunks.push(Buffer.from(bytes));
    conn.audioBytes += bytes.length;
    const pcm =
      encoding === 'mulaw'
        ? mulaw.decode(bytes)
        : encoding === 'alaw'
          ? alaw.decode(bytes)
          : new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.length & ~1)));
    const t = vad?.process(pcm);
    if (t?.type === 'start') {
      send(conn, { type: 'UserStartedSpeaking' });
      // The server stops the reply by itself; the client flushes [D3].
      stop(conn);
    } else if (t?.type === 'end') {
      userTurn(conn, '(caller speech)');
    }
  }

  function userTurn(conn: Conn, content: string): void {
    send(conn, { type: 'ConversationText', role: 'user', content });
    send(conn, { type: 'History', role: 'user', content });
    send(conn, { type: 'EndOfThought' });
    respond(conn);
  }

  function stop(conn: Conn): void {
    const s = conn.streaming;
    if (s === undefined) return;
    clearTimeout(s.timer);
    s.cancelled = true;
    conn.streaming = undefined;
  }

  function respond(conn: Conn): void {
    if (conn.streaming !== undefined) return;
    const turn = turns.shift();
    if (turn === undefined) return;
    // A tool turn without audio is only the request; with audio the reply is spoken first (a goodbye, then
    // end_call): the order a think model that says something and then calls a function produces.
    if (turn.toolCall !== undefined && turn.replyAudioPcm16.length === 0) {
      requestCall(conn, turn.toolCall);
      return;
    }
    const text = turn.replyText ?? 'Okay.';
    send(conn, { type: 'ConversationText', role: 'assistant', content: text });
    send(conn, { type: 'History', role: 'assistant', content: text });
    send(conn, { type: 'AgentStartedSpeaking', total_latency: 0.77, tts_latency: 0.31, ttt_latency: 0.47 });
    const audio = encode(conn, turn.replyAudioPcm16);
    const chunkBytes = (audio.bytesPerMs * CHUNK_MS) | 0;
    const state: NonNullable<Conn['streaming']> = { timer: undefined, cancelled: false };
    conn.streaming = state;
    let offset = 0;
    const step = (): void => {
      if (state.cancelled || conn.ws.readyState !== conn.ws.OPEN) return;
      if (offset < audio.bytes.length) {
        conn.ws.send(audio.bytes.subarray(offset, offset + chunkBytes), { binary: true });
        offset += chunkBytes;
        state.timer = setTimeout(step, CHUNK_GAP_MS);
        return;
      }
      conn.streaming = undefined;
      send(conn, { type: 'AgentAudioDone' });
      if (turn.toolCall !== undefined) requestCall(conn, turn.toolCall);
    };
    step();
  }

  function requestCall(conn: Conn, call: NonNullable<MockTurn['toolCall']>): void {
    const id = `call_${(++callSeq).toString().padStart(6, '0')}`;
    conn.pendingCalls.set(id, call.name);
    send(conn, {
      type: 'FunctionCallRequest',
      functions: [{ id, name: call.name, arguments: JSON.stringify(call.args), client_side: true }],
    });
  }

  function encode(conn: Conn, pcm: Int16Array): { bytes: Buffer; bytesPerMs: number } {
    const encoding = conn.settings?.audio.output.encoding;
    if (encoding === 'mulaw')
      return { bytes: Buffer.from(mulaw.encode(pcm)), bytesPerMs: outputRateHz / 1000 };
    if (encoding === 'alaw') return { bytes: Buffer.from(alaw.encode(pcm)), bytesPerMs: outputRateHz / 1000 };
    return { bytes: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength), bytesPerMs: outputRateHz / 500 };
  }

  const inputBytesPerMs = (): number => {
    const input = current?.settings?.audio.input;
    if (input === undefined) return 8;
    return input.encoding === 'linear16' ? input.sample_rate / 500 : input.sample_rate / 1000;
  };

  return {
    slug: 'deepgram',
    url: `ws://127.0.0.1:${base.port}${DEEPGRAM_MOCK_PATH}`,
    outputSampleRateHz: outputRateHz,
    received: base.received,
    violations: base.violations,
    get settings() {
      return lastSettings;
    },
    audioBytes: () => Buffer.concat(audioChunks),
    enqueueTurn: (turn) => turns.push(turn),
    waitForMessage: (type, predicate, timeoutMs) => base.waitForMessage(type, predicate, timeoutMs),
    audioReceivedMs: () => (current?.audioBytes ?? 0) / inputBytesPerMs(),
    sendRecoverableError() {
      // A Warning is non-fatal [D3].
      if (current !== undefined)
        send(current, {
          type: 'Warning',
          code: 'THINK_REQUEST_FAILED',
          description: 'Think request failed.',
        });
    },
    sendFatalError(code) {
      if (current !== undefined) fail(current, code, `Mock fatal error ${code}`);
    },
    dropConnection: () => base.dropConnection(),
    refuseConnections: (on) => base.refuseConnections(on),
    async close() {
      if (current !== undefined) {
        stop(current);
        clearTimeout(current.idle);
      }
      await base.close();
    },
  };
}
