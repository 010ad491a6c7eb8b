/**
 * The interface every protocol-faithful provider mock implements, so that one conformance suite
 * (test/agent/conformance/, targets in conformance-targets.ts) drives every adapter against its own mock server.
 */

/** One scripted assistant turn the mock answers with when the model is asked to respond. */
export interface MockTurn {
  /** Reply audio as PCM16 at the provider's output rate (`outputSampleRateHz`). */
  readonly replyAudioPcm16: Int16Array;
  readonly replyText?: string;
  /** A function call sent instead of (or before) audio. */
  readonly toolCall?: { readonly name: string; readonly args: Record<string, unknown> };
}

export interface ReceivedMessage {
  /** The message type as the provider names it (OpenAI `type`, Gemini top-level key, …). */
  readonly type: string;
  readonly message: unknown;
  /** ms since the mock started. */
  readonly atMs: number;
}

export interface MockProviderServer {
  readonly slug: string;
  /** ws://127.0.0.1:<port>/… — pass as the credential `url` override. */
  readonly url: string;
  readonly outputSampleRateHz: number;
  /** Every client message, in arrival order. */
  readonly received: ReadonlyArray<ReceivedMessage>;
  /** Unknown or malformed client messages; a test fails if this is non-empty. */
  readonly violations: readonly string[];
  enqueueTurn(turn: MockTurn): void;
  /** Resolves with the first message of `type` (already received or future) matching `predicate`. */
  waitForMessage(type: string, predicate?: (m: unknown) => boolean, timeoutMs?: number): Promise<unknown>;
  /** Total ms of caller audio received on the current session. */
  audioReceivedMs(): number;
  /** Sends an error the real provider sends for a recoverable condition (the session stays up). */
  sendRecoverableError(): void;
  /** Abruptly terminates every open client connection (no close frame). */
  dropConnection(): void;
  /** While on, new connections are refused (HTTP 503 on upgrade). */
  refuseConnections(on: boolean): void;
  close(): Promise<void>;
}
