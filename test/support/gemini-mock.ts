/**
 * A protocol-faithful Gemini Live (BidiGenerateContent) server on 127.0.0.1 port 0, per
 * docs/reference/providers.md §2 and the js-genai recordings in test/fixtures/providers/gemini-live/.
 *
 * - Every client frame is validated with the strict client schemas; the first must be `setup`. A bad frame
 *   is a violation and, like the real server, ends the socket with close 1007 (no JSON error frames exist).
 * - An energy VAD over the received 16 kHz PCM stands in for automatic activity detection: speech during a
 *   reply sends `serverContent.interrupted`, the end of speech answers with the next scripted turn.
 * - Replies stream faster than real time as `modelTurn.parts[].inlineData` 24 kHz chunks, some in binary
 *   frames (the real server does that too), then generationComplete and turnComplete + usageMetadata.
 * - Session resumption: a `sessionResumptionUpdate.newHandle` after setup and every turn; `sendGoAway()`;
 *   a setup carrying a handle the mock never issued is closed with 1007 (as observed in the field [G7]).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { clientMessageSchema, clientMessageType } from '../../src/agent/providers/gemini/schemas.js';
import { EnergyVad } from '../../src/agent/vad.js';
import type { MockProviderServer, MockTurn, ReceivedMessage } from './mock-provider.js';

export const GEMINI_MOCK_PATH =
  '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent';
const INPUT_RATE_HZ = 16_000;
const OUTPUT_RATE_HZ = 24_000;
/** Reply audio per frame (the Vertex recordings carry ~200 ms per frame; smaller keeps tests snappy). */
const CHUNK_MS = 100;
/** Gap between reply frames: far faster than real time, as the real server. */
const CHUNK_GAP_MS = 4;

export interface GeminiMockOptions {
  /** The only API key accepted (as `?key=` or `x-goog-api-key`). Default 'gemini-test'. */
  readonly apiKey?: string;
}

export interface GeminiMockServer extends MockProviderServer {
  /** Handles the clients resumed with, in order. */
  readonly resumedWith: readonly string[];
  /** Number of WebSocket connections accepted so far. */
  readonly connections: number;
  /** Announce the end of the connection, like the real server some seconds before its ~10 min limit. */
  sendGoAway(timeLeft?: string): void;
  /** Close every client socket with a code and reason (what the real server does on errors). */
  closeWith(code: number, reason: string): void;
}

interface Conn {
  readonly ws: WebSocket;
  setupDone: boolean;
  /** activityHandling NO_INTERRUPTION: caller activity never cuts the model's turn [G1]. */
  noInterruption: boolean;
  /** The turn being streamed, if any. */
  streaming: { timer: NodeJS.Timeout | undefined; cancelled: boolean } | undefined;
}

export async function startGeminiMock(options: GeminiMockOptions = {}): Promise<GeminiMockServer> {
  const apiKey = options.apiKey ?? 'gemini-test';
  const started = Date.now();
  const received: ReceivedMessage[] = [];
  const violations: string[] = [];
  const turns: MockTurn[] = [];
  const resumedWith: string[] = [];
  const issuedHandles = new Set<string>();
  const pendingCallIds = new Set<string>();
  const waiters: Array<{ type: string; predicate: (m: unknown) => boolean; resolve: (m: unknown) => void }> =
    [];
  let audioBytes = 0;
  let refusing = false;
  let connections = 0;
  let handleSeq = 0;
  let callSeq = 0;
  let current: Conn | undefined;
  const sockets = new Set<Socket>();

  const vad = new EnergyVad({
    sampleRateHz: INPUT_RATE_HZ,
    thresholdDbfs: -40,
    minSpeechMs: 60,
    minSilenceMs: 400,
  });

  const http: Server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  http.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({ noServer: true });

  http.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (refusing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    if (url.pathname !== GEMINI_MOCK_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const key = url.searchParams.get('key') ?? req.headers['x-goog-api-key'];
    wss.handleUpgrade(req, socket, head, (ws) => {
      connections++;
      if (key !== apiKey) {
        // UNVERIFIED: the key is checked after the upgrade and reported as a policy-violation close.
        ws.close(1008, 'API key not valid. Please pass a valid API key.');
        return;
      }
      const conn: Conn = { ws, setupDone: false, noInterruption: false, streaming: undefined };
      current = conn;
      vad.reset();
      ws.on('message', (data, isBinary) => onMessage(conn, data as Buffer, isBinary));
      ws.on('close', () => {
        stopStreaming(conn);
        if (current === conn) current = undefined;
      });
      ws.on('error', () => undefined);
    });
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;

  function send(conn: Conn, message: unknown, binary = false): void {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const json = JSON.stringify(message);
    conn.ws.send(binary ? Buffer.from(json) : json, { binary });
  }

  function violation(conn: Conn, text: string): void {
    violations.push(text);
    // The real server has no error frame: it closes with "invalid argument" (1007) [G1][G7].
    conn.ws.close(1007, 'Request contains an invalid argument.');
  }

  function issueHandle(conn: Conn): void {
    const handle = `mock-handle-${++handleSeq}`;
    issuedHandles.add(handle);
    send(conn, { sessionResumptionUpdate: { newHandle: handle, resumable: true } });
  }

  function onMessage(conn: Conn, data: Buffer, isBinary: boolean): void {
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      violation(conn, `non-JSON ${isBinary ? 'binary' : 'text'} frame`);
      return;
    }
    const type = clientMessageType(json);
    received.push({ type, message: json, atMs: Date.now() - started });
    for (const w of waiters.slice()) {
      if (w.type === type && w.predicate(json)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(json);
      }
    }
    const parsed = clientMessageSchema.safeParse(json);
    if (!parsed.success) {
      violation(
        conn,
        `${type}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
      return;
    }
    const msg = parsed.data;
    if (!conn.setupDone && !('setup' in msg)) {
      violation(conn, `${type} before setup`);
      return;
    }
    if ('setup' in msg) {
      if (conn.setupDone) {
        violation(conn, 'second setup on one connection');
        return;
      }
      const handle = msg.setup.sessionResumption?.handle;
      if (handle !== undefined) {
        if (!issuedHandles.has(handle)) {
          conn.ws.close(1007, 'Session resumption handle is invalid.');
          return;
        }
        resumedWith.push(handle);
      }
      conn.setupDone = true;
      conn.noInterruption = msg.setup.realtimeInputConfig?.activityHandling === 'NO_INTERRUPTION';
      send(conn, { setupComplete: {} });
      if (msg.setup.sessionResumption !== undefined) issueHandle(conn);
    } else if ('realtimeInput' in msg) {
      const r = msg.realtimeInput;
      const chunks = r.audio !== undefined ? [r.audio] : (r.mediaChunks ?? []);
      for (const chunk of chunks) {
        if (chunk.mimeType !== `audio/pcm;rate=${INPUT_RATE_HZ}`) {
          violation(conn, `unexpected audio mimeType ${chunk.mimeType}`);
          return;
        }
        const bytes = Buffer.from(chunk.data, 'base64');
        if (bytes.length % 2 !== 0) {
          violation(conn, 'odd PCM16 byte count');
          return;
        }
        audioBytes += bytes.length;
        const pcm = new Int16Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
        const t = vad.process(pcm);
        if (t?.type === 'start' && conn.streaming !== undefined && !conn.noInterruption) interruptTurn(conn);
        if (t?.type === 'end') respond(conn);
      }
      if (r.text !== undefined) respond(conn);
    } else if ('clientContent' in msg) {
      if (msg.clientContent.turnComplete === true) respond(conn);
    } else {
      for (const fr of msg.toolResponse.functionResponses) {
        if (fr.id === undefined || !pendingCallIds.delete(fr.id)) {
          violations.push(`toolResponse for unknown call id ${String(fr.id)}`);
        }
      }
      respond(conn);
    }
  }

  function stopStreaming(conn: Conn): void {
    if (conn.streaming === undefined) return;
    clearTimeout(conn.streaming.timer);
    conn.streaming.cancelled = true;
    conn.streaming = undefined;
  }

  function interruptTurn(conn: Conn): void {
    // START_OF_ACTIVITY_INTERRUPTS: the server stops generating and tells the client to flush [G2].
    stopStreaming(conn);
    send(conn, { serverContent: { interrupted: true } });
    send(conn, { serverContent: { turnComplete: true } });
  }

  function respond(conn: Conn): void {
    const turn = turns.shift();
    if (turn === undefined || conn.streaming !== undefined) {
      if (turn !== undefined) turns.unshift(turn);
      return;
    }
    if (turn.toolCall !== undefined) {
      const id = `function-call-${++callSeq}`;
      pendingCallIds.add(id);
      send(conn, {
        toolCall: { functionCalls: [{ name: turn.toolCall.name, args: turn.toolCall.args, id }] },
      });
      if (turn.replyAudioPcm16.length === 0) return;
    }
    const pcm = turn.replyAudioPcm16;
    const bytes = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
    const chunkBytes = (OUTPUT_RATE_HZ / 1000) * CHUNK_MS * 2;
    const state: NonNullable<Conn['streaming']> = { timer: undefined, cancelled: false };
    conn.streaming = state;
    let offset = 0;
    let index = 0;
    if (turn.replyText !== undefined)
      send(conn, { serverContent: { outputTranscription: { text: turn.replyText } } });
    const step = (): void => {
      if (state.cancelled) return;
      if (offset < bytes.length) {
        const data = bytes.subarray(offset, offset + chunkBytes).toString('base64');
        offset += chunkBytes;
        const frame = {
          serverContent: {
            modelTurn: { parts: [{ inlineData: { mimeType: `audio/pcm;rate=${OUTPUT_RATE_HZ}`, data } }] },
          },
        };
        send(conn, frame, index++ % 2 === 1);
        state.timer = setTimeout(step, CHUNK_GAP_MS);
        return;
      }
      conn.streaming = undefined;
      send(conn, { serverContent: { generationComplete: true } });
      send(conn, {
        serverContent: { turnComplete: true },
        usageMetadata: { promptTokenCount: 100, responseTokenCount: 20, totalTokenCount: 120 },
      });
      issueHandle(conn);
      // A turn queued while this one streamed (e.g. after a tool response) is not answered on its own.
    };
    step();
  }

  return {
    slug: 'gemini',
    url: `ws://127.0.0.1:${port}${GEMINI_MOCK_PATH}`,
    outputSampleRateHz: OUTPUT_RATE_HZ,
    received,
    violations,
    get resumedWith() {
      return resumedWith;
    },
    get connections() {
      return connections;
    },
    enqueueTurn(turn) {
      turns.push(turn);
    },
    waitForMessage(type, predicate = () => true, timeoutMs = 5_000) {
      const found = received.find((m) => m.type === type && predicate(m.message));
      if (found !== undefined) return Promise.resolve(found.message);
      return new Promise((resolve, reject) => {
        const waiter = {
          type,
          predicate,
          resolve: (m: unknown) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`gemini mock: timed out waiting for ${type}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    audioReceivedMs() {
      return audioBytes / ((INPUT_RATE_HZ / 1000) * 2);
    },
    sendRecoverableError() {
      // No JSON error frame exists: a transient server failure is a 1011 close [G1][G7].
      if (current !== undefined) current.ws.close(1011, 'Internal error encountered.');
    },
    sendGoAway(timeLeft = '10s') {
      if (current !== undefined) send(current, { goAway: { timeLeft } });
    },
    closeWith(code, reason) {
      for (const ws of wss.clients) ws.close(code, reason);
    },
    dropConnection() {
      for (const ws of wss.clients) ws.terminate();
    },
    refuseConnections(on) {
      refusing = on;
    },
    async close() {
      if (current !== undefined) stopStreaming(current);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
