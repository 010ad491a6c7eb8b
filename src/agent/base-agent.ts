import { EventEmitter } from 'node:events';
import type { Logger } from '../observability/logger.js';
import { AgentError, type Agent, type AgentOptions } from './agent.js';
import type { AgentErrorEvent, AgentEvents } from './events.js';

/**
 * The lifecycle every adapter shares, so adapters only translate their wire protocol: a closed flag,
 * AGENT_CLOSED guards, an idempotent close() that runs the adapter's teardown once and then emits
 * 'session.close', and an 'error' emit that never throws for want of a listener.
 */
export abstract class BaseAgent extends EventEmitter<AgentEvents> implements Agent {
  readonly provider: string;
  protected readonly options: AgentOptions;
  protected readonly log: Logger;
  #closing: Promise<void> | undefined;

  protected constructor(provider: string, options: AgentOptions) {
    super();
    this.provider = provider;
    this.options = options;
    this.log = options.logger.child({ provider });
  }

  /** True from the moment close() (or closeWith()) is first called. */
  get isClosed(): boolean {
    return this.#closing !== undefined;
  }

  abstract start(): Promise<void>;
  abstract greet(): Promise<void>;
  abstract pushAudio(audio: Buffer | Int16Array): void;
  abstract interrupt(heard: { readonly playedMs: number; readonly itemId?: string }): Promise<void>;
  abstract sendToolResult(callId: string, result: unknown): Promise<void>;
  abstract sendText(text: string): Promise<void>;
  abstract updateInstructions(text: string): Promise<void>;

  /** Idempotent: every call returns the same promise, which never rejects. */
  close(): Promise<void> {
    return this.closeWith('closed');
  }

  /** Throws AgentError('AGENT_CLOSED') once close has begun. Call first in every public method. */
  protected assertOpen(): void {
    if (this.#closing !== undefined) {
      throw new AgentError('AGENT_CLOSED', `${this.provider} agent is closed`);
    }
  }

  /**
   * Emit 'error' without the EventEmitter rule that an unhandled 'error' throws: with no listener the
   * error is logged instead, so a provider hiccup can never crash the process.
   */
  protected emitError(e: AgentErrorEvent): void {
    if (this.listenerCount('error') > 0) {
      this.emit('error', e);
      return;
    }
    this.log.warn(
      { code: e.code, fatal: e.fatal, retryable: e.retryable, providerCode: e.providerCode },
      'agent error with no listener',
    );
  }

  /**
   * close() with a reason for 'session.close' (e.g. 'connection lost' after a fatal provider error).
   * Adapters call this when the provider ends the session; the first reason wins.
   */
  protected closeWith(reason: string): Promise<void> {
    this.#closing ??= this.#runClose(reason);
    return this.#closing;
  }

  /** The adapter's teardown (close the socket, clear timers). Called exactly once. */
  protected abstract doClose(): Promise<void>;

  async #runClose(reason: string): Promise<void> {
    try {
      await this.doClose();
    } catch (err) {
      this.log.warn({ err }, 'agent teardown failed');
    }
    try {
      this.emit('session.close', { reason });
    } catch (err) {
      this.log.warn({ err }, 'session.close listener threw');
    }
  }
}

/** Runs a synchronous operation as a Promise: a throw (AGENT_CLOSED) becomes a rejection, never a throw. */
export function settled(fn: () => void): Promise<void> {
  try {
    fn();
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** The bytes of pushed audio (an Int16Array is viewed, not copied). */
export function audioBytes(audio: Buffer | Int16Array): Buffer {
  return Buffer.isBuffer(audio) ? audio : Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
}
