import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import type { ClientOptions, RawData } from 'ws';
import type { Logger } from '../../observability/logger.js';
import { AgentError, type AgentErrorCode } from '../agent.js';
import type { AgentErrorEvent } from '../events.js';
import { backoffDelayMs } from './backoff.js';
import { classifyCloseCode, classifyHttpStatus } from './classify.js';
import { AudioQueue } from './audio-queue.js';

export interface WsSessionEvents {
  open: [{ reconnect: boolean }];
  reconnecting: [{ attempt: number; reason: string }];
  reconnected: [];
  closed: [{ code: number; reason: string }];
  error: [AgentErrorEvent];
}

export interface WsSessionStats {
  readonly reconnects: number;
  readonly droppedAudioBytes: number;
  readonly sentMessages: number;
  readonly receivedMessages: number;
  /** Control messages given to send() while no connection was up (during a reconnect). */
  readonly droppedControlMessages: number;
}

export interface WsSessionOptions {
  readonly url: string;
  /** Handshake headers (API keys live here: never logged). */
  readonly headers?: Record<string, string>;
  /** Sub-protocols. Only honoured by the default factory: ClientOptions has no place for them. */
  readonly protocols?: string[];
  readonly logger: Logger;
  readonly webSocketFactory?: (url: string, options: ClientOptions) => WebSocket;
  /** Budget for one attempt: TCP + TLS + upgrade + onOpen. Default 10000. */
  readonly connectTimeoutMs?: number;
  /** Attempts per connect()/reconnect(), including the first. Defaults 3 / 250 / 4000. */
  readonly retry?: {
    readonly maxAttempts?: number;
    readonly baseDelayMs?: number;
    readonly maxDelayMs?: number;
  };
  /** ws ping period; a ping still unanswered at the next tick terminates the socket. 0 disables. Default 15000. */
  readonly heartbeatIntervalMs?: number;
  /**
   * Largest provider message accepted (ws `maxPayload`, checked from the frame header before the payload is
   * buffered). Bigger is a fatal AGENT_PROTOCOL error for this session only. Default 4 MiB: a realtime
   * audio delta is a few KiB; ws's own default of 100 MiB let one provider raise RSS by 636 MB (issue 11).
   */
  readonly maxMessageBytes?: number;
  /** Bound of the audio FIFO; on overflow the oldest audio is dropped. Default 1 MiB. */
  readonly maxQueuedBytes?: number;
  /** Queued audio is handed to the socket only while ws.bufferedAmount is below this. Default 16 KiB. */
  readonly highWaterMarkBytes?: number;
  /** Called after every (re)connect before queued audio flows: send (or replay) the provider setup here. */
  readonly onOpen: (info: { reconnect: boolean }) => void | Promise<void>;
  /** Every message of the current connection, including those that arrive while onOpen is running. */
  readonly onMessage: (data: Buffer | string, isBinary: boolean) => void;
  /**
   * Decides whether a close the provider initiated (during setup or mid-session) is worth a reconnect.
   * `code` optionally names the failure, e.g. AGENT_AUTH_FAILED for a close whose reason says the key is
   * bad; otherwise AGENT_CONNECT_FAILED (during setup) or AGENT_CONNECTION_LOST. Default: classifyCloseCode.
   */
  readonly classifyClose?: (code: number, reason: string) => { retryable: boolean; code?: AgentErrorCode };
  /** Jitter source, injectable for tests. */
  readonly random?: () => number;
}

type State = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** Why one attempt failed; converted to an AgentError when the attempts run out. */
class AttemptFailure extends Error {
  constructor(
    readonly error: AgentError,
    readonly retryable: boolean,
  ) {
    super(error.message);
  }
}

const NORMAL_CLOSURE = 1000;
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** ws's error code when a frame header announces more than maxPayload (it then closes with 1009). */
const WS_TOO_BIG = 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
const CLOSE_GRACE_MS = 2000;

/**
 * One provider WebSocket with the transport concerns every adapter shares (the seed `streaming` package):
 * connect with retry, a control path that bypasses queued audio (barge-in must not wait behind audio), a
 * bounded audio FIFO paced by the socket's bufferedAmount, ping/pong liveness, and reconnect that replays
 * the provider setup through onOpen. Provider protocol lives in the adapter, not here.
 */
export class WsSession extends EventEmitter<WsSessionEvents> {
  readonly #opts: WsSessionOptions;
  readonly #log: Logger;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #connectTimeoutMs: number;
  readonly #heartbeatIntervalMs: number;
  readonly #highWaterMarkBytes: number;
  readonly #maxMessageBytes: number;
  /** Sockets ws closed because the provider sent an oversized message. */
  readonly #oversized = new WeakSet<WebSocket>();
  readonly #audio: AudioQueue;
  readonly #drainAfterWrite = (): void => this.#drain();

  #state: State = 'idle';
  #ws: WebSocket | undefined;
  #connecting: Promise<void> | undefined;
  #reconnecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #closedEmitted = false;
  #heartbeat: NodeJS.Timeout | undefined;
  #awaitingPong = false;
  #sleep: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  /** Aborts the attempt in flight (close() during connect). */
  #abortAttempt: (() => void) | undefined;

  #reconnects = 0;
  #sentMessages = 0;
  #receivedMessages = 0;
  #droppedControlMessages = 0;
  #warnedOverflow = false;

  constructor(opts: WsSessionOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger;
    this.#maxAttempts = Math.max(1, opts.retry?.maxAttempts ?? 3);
    this.#baseDelayMs = opts.retry?.baseDelayMs ?? 250;
    this.#maxDelayMs = opts.retry?.maxDelayMs ?? 4000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.#heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 15_000;
    this.#highWaterMarkBytes = opts.highWaterMarkBytes ?? 16 * 1024;
    this.#maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#audio = new AudioQueue(opts.maxQueuedBytes ?? 1024 * 1024);
  }

  /** True while a connection is up and set up (onOpen has completed). */
  get isOpen(): boolean {
    return this.#state === 'open';
  }

  get queuedAudioBytes(): number {
    return this.#audio.bytes;
  }

  get stats(): WsSessionStats {
    return {
      reconnects: this.#reconnects,
      droppedAudioBytes: this.#audio.droppedBytes,
      sentMessages: this.#sentMessages,
      receivedMessages: this.#receivedMessages,
      droppedControlMessages: this.#droppedControlMessages,
    };
  }

  /**
   * Resolves once the first connection is open and onOpen has completed. Rejects with an AgentError:
   * AGENT_AUTH_FAILED (401/403, no retry), AGENT_CONNECT_FAILED (other 4xx, or retries exhausted), or
   * AGENT_CLOSED (close() was called meanwhile). After a rejection the session is closed; nothing is emitted.
   */
  connect(): Promise<void> {
    if (this.#connecting !== undefined) return this.#connecting;
    if (this.#state !== 'idle') {
      return Promise.reject(new AgentError('AGENT_CLOSED', 'WebSocket session already used'));
    }
    this.#state = 'connecting';
    this.#connecting = this.#establish(false, 'connect').then(
      () => {
        this.#log.info({ endpoint: redactUrl(this.#opts.url) }, 'provider websocket open');
      },
      (err: unknown) => {
        if (this.#state === 'connecting') this.#state = 'closed';
        this.#audio.clear();
        throw err;
      },
    );
    return this.#connecting;
  }

  /** A control message: goes out now, ahead of any queued audio. Dropped (and counted) while reconnecting. */
  send(data: string | Buffer): void {
    const ws = this.#ws;
    if (
      ws === undefined ||
      ws.readyState !== WebSocket.OPEN ||
      this.#state === 'closing' ||
      this.#state === 'closed'
    ) {
      this.#droppedControlMessages++;
      this.#log.warn({ state: this.#state }, 'provider control message dropped: not connected');
      return;
    }
    this.#write(ws, data, undefined);
  }

  /** Audio: queued in a bounded FIFO, paced by the socket's bufferedAmount; overflow drops the oldest. */
  sendAudio(data: string | Buffer): void {
    if (this.#state === 'closing' || this.#state === 'closed') return;
    const dropped = this.#audio.push(data);
    if (dropped > 0 && !this.#warnedOverflow) {
      this.#warnedOverflow = true;
      this.#log.warn(
        { droppedBytes: dropped, queuedBytes: this.#audio.bytes },
        'provider audio queue overflow: dropping oldest audio',
      );
    }
    if (this.#state === 'open') this.#drain();
  }

  /**
   * Replace the connection (provider goAway, or an unexpected retryable close): backoff, onOpen({reconnect:
   * true}), then 'reconnected'. If every attempt fails, emits a fatal 'error' and 'closed'. Never rejects.
   */
  reconnect(reason: string): Promise<void> {
    if (this.#state === 'closing' || this.#state === 'closed' || this.#state === 'idle')
      return Promise.resolve();
    if (this.#state === 'connecting' && this.#connecting !== undefined) {
      return this.#connecting.catch(() => undefined);
    }
    this.#reconnecting ??= this.#runReconnect(reason).finally(() => {
      this.#reconnecting = undefined;
    });
    return this.#reconnecting;
  }

  /** Idempotent; resolves once the socket is closed (or terminated after a grace period). Never rejects. */
  close(code: number = NORMAL_CLOSURE, reason = 'normal'): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.#state === 'closed') {
      this.#closing = Promise.resolve();
      return this.#closing;
    }
    this.#state = 'closing';
    this.#stopHeartbeat();
    this.#cancelSleep();
    this.#abortAttempt?.();
    this.#audio.clear();
    const ws = this.#ws;
    this.#ws = undefined;
    this.#closing = closeSocket(ws, code, reason).then(() => {
      this.#state = 'closed';
      this.#log.debug({ code, ...this.stats }, 'provider websocket closed');
      this.#emitClosed(code, reason);
    });
    return this.#closing;
  }

  async #runReconnect(reason: string): Promise<void> {
    this.#stopHeartbeat();
    const old = this.#ws;
    this.#ws = undefined;
    this.#state = 'reconnecting';
    // The old socket's close is ours, not news: its handlers ignore it because it is no longer current.
    void closeSocket(old, NORMAL_CLOSURE, 'reconnecting');
    this.#log.info({ reason }, 'provider websocket reconnecting');
    try {
      await this.#establish(true, reason);
    } catch (err) {
      if (this.#isShutDown()) return;
      const e = err instanceof AgentError ? err : new AgentError('AGENT_CONNECTION_LOST', 'reconnect failed');
      this.#fail({
        code: e.code === 'AGENT_CONNECT_FAILED' ? 'AGENT_CONNECTION_LOST' : e.code,
        message: `provider connection lost and reconnect failed: ${e.message}`,
        fatal: true,
        retryable: false,
      });
      return;
    }
    this.#reconnects++;
    this.#log.info({ reconnects: this.#reconnects }, 'provider websocket reconnected');
    this.#emitSafely(() => this.emit('reconnected'));
  }

  /** Attempts until one opens and completes onOpen; throws an AgentError. */
  async #establish(reconnect: boolean, reason: string): Promise<void> {
    let lastError: AgentError | undefined;
    let lastCode: AgentErrorCode = 'AGENT_CONNECT_FAILED';
    for (let attempt = 1; attempt <= this.#maxAttempts; attempt++) {
      if (attempt > 1) {
        await this.#sleepMs(
          backoffDelayMs(
            attempt - 1,
            { baseDelayMs: this.#baseDelayMs, maxDelayMs: this.#maxDelayMs },
            this.#opts.random,
          ),
        );
      }
      if (this.#isShutDown()) {
        throw new AgentError('AGENT_CLOSED', 'WebSocket session closed while connecting');
      }
      if (reconnect) this.#emitSafely(() => this.emit('reconnecting', { attempt, reason }));
      try {
        await this.#attempt(reconnect);
        return;
      } catch (err) {
        if (!(err instanceof AttemptFailure)) throw err;
        lastError = err.error;
        if (err.error.code === 'AGENT_AUTH_FAILED') lastCode = 'AGENT_AUTH_FAILED';
        if (this.#isShutDown()) {
          throw new AgentError('AGENT_CLOSED', 'WebSocket session closed while connecting');
        }
        this.#log.warn(
          {
            attempt,
            maxAttempts: this.#maxAttempts,
            code: err.error.code,
            retryable: err.retryable,
            err: err.error.message,
          },
          'provider websocket attempt failed',
        );
        if (!err.retryable) throw err.error;
      }
    }
    throw new AgentError(
      lastCode,
      // The last attempt's text once, and no `cause` (pino would append its message again).
      `${lastError?.message ?? 'connect failed'} (after ${this.#maxAttempts} attempts)`,
      { retryable: true },
    );
  }

  /** One socket: open, run onOpen, go live. Rejects with AttemptFailure. */
  #attempt(reconnect: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let opened = false;
      const ws = this.#createSocket();
      this.#ws = ws;
      const finish = (failure: AttemptFailure | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#abortAttempt = undefined;
        if (failure === undefined) {
          resolve();
          return;
        }
        if (this.#ws === ws) this.#ws = undefined;
        ws.terminate();
        reject(failure);
      };
      const fail = (
        code: 'AGENT_CONNECT_FAILED' | 'AGENT_AUTH_FAILED',
        message: string,
        retryable: boolean,
        cause?: unknown,
      ): void => finish(new AttemptFailure(new AgentError(code, message, { retryable, cause }), retryable));
      const timer = setTimeout(
        () =>
          fail('AGENT_CONNECT_FAILED', `provider connect timed out after ${this.#connectTimeoutMs} ms`, true),
        this.#connectTimeoutMs,
      );
      this.#abortAttempt = () => fail('AGENT_CONNECT_FAILED', 'connect aborted by close()', false);

      ws.on('error', (err: Error) => {
        const tooBig = (err as NodeJS.ErrnoException).code === WS_TOO_BIG;
        if (tooBig) {
          this.#oversized.add(ws);
          this.#log.warn({ maxMessageBytes: this.#maxMessageBytes }, 'provider message over the size cap');
        }
        if (settled) this.#log.debug({ err: err.message }, 'provider websocket error');
        else if (tooBig) {
          // The provider's doing, and it would recur on a retry.
          const message = `provider sent a message larger than ${this.#maxMessageBytes} bytes`;
          finish(new AttemptFailure(new AgentError('AGENT_PROTOCOL', message, { retryable: false }), false));
        } else {
          // The text carries the socket error; no `cause` as well: pino's err serializer appends every
          // cause's message, and the error text appeared three times in one log line (issue 19).
          fail('AGENT_CONNECT_FAILED', `provider connect failed: ${err.message}`, true);
        }
      });
      ws.once('unexpected-response', (_req, res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        const c = classifyHttpStatus(status);
        const what =
          c.code === 'AGENT_AUTH_FAILED'
            ? 'provider rejected the credential'
            : 'provider refused the upgrade';
        fail(
          c.code === 'AGENT_AUTH_FAILED' ? 'AGENT_AUTH_FAILED' : 'AGENT_CONNECT_FAILED',
          `${what}: HTTP ${status}`,
          c.retryable,
        );
      });
      ws.on('message', (data: RawData, isBinary: boolean) => this.#onSocketMessage(ws, data, isBinary));
      ws.on('pong', () => {
        if (this.#ws === ws) this.#awaitingPong = false;
      });
      ws.once('close', (code: number, reasonBuf: Buffer) => {
        const reason = reasonBuf.toString('utf8');
        if (!settled) {
          const c = this.#classifyClose(code, reason);
          const retryable = c.retryable || !opened;
          const message = `provider closed the connection during setup: ${code} ${reason}`;
          finish(
            new AttemptFailure(
              new AgentError(c.code ?? 'AGENT_CONNECT_FAILED', message, { retryable }),
              retryable,
            ),
          );
          return;
        }
        this.#onSocketClose(ws, code, reason);
      });
      ws.once('open', () => {
        opened = true;
        if (settled) return;
        this.#runOnOpen(reconnect).then(
          () => {
            if (settled) return;
            if (this.#isShutDown()) {
              fail('AGENT_CONNECT_FAILED', 'closed during setup', false);
              return;
            }
            finish(undefined);
            this.#goLive(ws, reconnect);
          },
          (err: unknown) => {
            if (err instanceof AgentError) {
              finish(new AttemptFailure(err, err.retryable));
            } else {
              fail('AGENT_CONNECT_FAILED', `provider setup failed: ${errorMessage(err)}`, false, err);
            }
          },
        );
      });
    });
  }

  #classifyClose(code: number, reason: string): { retryable: boolean; code?: AgentErrorCode } {
    try {
      return (this.#opts.classifyClose ?? classifyCloseCode)(code, reason);
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'classifyClose threw; treating the close as fatal');
      return { retryable: false };
    }
  }

  /** A method rather than inline checks: the state changes across awaits, which narrowing cannot see. */
  #isShutDown(): boolean {
    return this.#state === 'closing' || this.#state === 'closed';
  }

  async #runOnOpen(reconnect: boolean): Promise<void> {
    await this.#opts.onOpen({ reconnect });
  }

  #goLive(ws: WebSocket, reconnect: boolean): void {
    this.#state = 'open';
    this.#startHeartbeat(ws);
    this.#emitSafely(() => this.emit('open', { reconnect }));
    this.#drain();
  }

  #createSocket(): WebSocket {
    const options: ClientOptions = { headers: { ...this.#opts.headers }, maxPayload: this.#maxMessageBytes };
    if (this.#opts.webSocketFactory !== undefined)
      return this.#opts.webSocketFactory(this.#opts.url, options);
    return new WebSocket(this.#opts.url, this.#opts.protocols ?? [], options);
  }

  #onSocketMessage(ws: WebSocket, data: RawData, isBinary: boolean): void {
    if (this.#ws !== ws) return;
    this.#receivedMessages++;
    const payload = isBinary ? toBuffer(data) : toBuffer(data).toString('utf8');
    try {
      this.#opts.onMessage(payload, isBinary);
    } catch (err) {
      // A bug in one handler must not take the call down with it; the adapter logs its own protocol errors.
      this.#log.error({ err: errorMessage(err) }, 'provider message handler threw');
    }
  }

  #onSocketClose(ws: WebSocket, code: number, reason: string): void {
    if (this.#ws !== ws || this.#state !== 'open') return;
    this.#ws = undefined;
    this.#stopHeartbeat();
    if (this.#oversized.has(ws)) {
      this.#fail({
        code: 'AGENT_PROTOCOL',
        message: `provider sent a message larger than ${this.#maxMessageBytes} bytes`,
        fatal: true,
        retryable: false,
      });
      return;
    }
    const c = this.#classifyClose(code, reason);
    const retryable = c.retryable;
    this.#log.warn({ code, retryable }, 'provider websocket closed unexpectedly');
    if (retryable) {
      void this.reconnect(`closed ${code}${reason === '' ? '' : ` ${reason}`}`);
      return;
    }
    this.#fail({
      code: c.code ?? 'AGENT_CONNECTION_LOST',
      message: `provider closed the session: ${code}${reason === '' ? '' : ` ${reason}`}`,
      fatal: true,
      retryable: false,
    });
  }

  /** The session is over without close() having been called: report, then 'closed'. */
  #fail(event: AgentErrorEvent): void {
    this.#state = 'closed';
    this.#closing ??= Promise.resolve();
    this.#stopHeartbeat();
    this.#audio.clear();
    const ws = this.#ws;
    this.#ws = undefined;
    ws?.terminate();
    if (this.listenerCount('error') > 0) this.#emitSafely(() => this.emit('error', event));
    else this.#log.error({ code: event.code }, 'provider websocket failed with no error listener');
    this.#emitClosed(1006, event.message);
  }

  #emitClosed(code: number, reason: string): void {
    if (this.#closedEmitted) return;
    this.#closedEmitted = true;
    this.#emitSafely(() => this.emit('closed', { code, reason }));
  }

  #emitSafely(emit: () => void): void {
    try {
      emit();
    } catch (err) {
      this.#log.error({ err: errorMessage(err) }, 'WsSession listener threw');
    }
  }

  #drain(): void {
    const ws = this.#ws;
    if (this.#state !== 'open' || ws === undefined || ws.readyState !== WebSocket.OPEN) return;
    while (this.#audio.length > 0 && ws.bufferedAmount < this.#highWaterMarkBytes) {
      const data = this.#audio.shift()!;
      // The write callback fires once the frame has left ws's buffer: the moment to top it up again.
      this.#write(ws, data, this.#drainAfterWrite);
    }
  }

  #write(ws: WebSocket, data: string | Buffer, cb: (() => void) | undefined): void {
    this.#sentMessages++;
    ws.send(data, (err) => {
      if (err !== undefined && err !== null)
        this.#log.debug({ err: err.message }, 'provider websocket write failed');
      else cb?.();
    });
  }

  #startHeartbeat(ws: WebSocket): void {
    this.#stopHeartbeat();
    if (this.#heartbeatIntervalMs <= 0) return;
    this.#awaitingPong = false;
    this.#heartbeat = setInterval(() => {
      if (this.#ws !== ws) return;
      if (this.#awaitingPong) {
        this.#log.warn({ intervalMs: this.#heartbeatIntervalMs }, 'provider websocket heartbeat timed out');
        // terminate() yields close 1006, which is retryable: the close handler reconnects.
        ws.terminate();
        return;
      }
      this.#awaitingPong = true;
      ws.ping();
    }, this.#heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  #stopHeartbeat(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#awaitingPong = false;
  }

  #sleepMs(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#sleep = undefined;
        resolve();
      }, ms);
      this.#sleep = { timer, resolve };
    });
  }

  #cancelSleep(): void {
    const s = this.#sleep;
    if (s === undefined) return;
    this.#sleep = undefined;
    clearTimeout(s.timer);
    s.resolve();
  }
}

/** Close gracefully, terminating after a grace period; resolves when the socket is gone. Never rejects. */
function closeSocket(ws: WebSocket | undefined, code: number, reason: string): Promise<void> {
  if (ws === undefined || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
    ws.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    if (ws.readyState !== WebSocket.OPEN) {
      ws.terminate();
      return;
    }
    try {
      ws.close(code, reason);
    } catch {
      ws.terminate(); // an invalid close code; do not let it stop the teardown
    }
  });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Endpoint for logs: query strings carry API keys (Gemini `?key=`), so only origin and path are logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}
