/** Audio as the agent takes it in and gives it out. G.711 is 8 kHz by definition. */
export type AudioFormat =
  | { readonly encoding: 'pcm16'; readonly sampleRateHz: 8000 | 16000 | 24000 | 48000 }
  | { readonly encoding: 'pcmu'; readonly sampleRateHz: 8000 }
  | { readonly encoding: 'pcma'; readonly sampleRateHz: 8000 };

export interface AgentErrorEvent {
  /** A stable code, e.g. `AGENT_PROVIDER_ERROR`, `AGENT_CONNECTION_LOST`, `AGENT_AUTH_FAILED`. */
  readonly code: string;
  readonly message: string;
  /** The session is over; the call must fall back (prompt, transfer or hang up). */
  readonly fatal: boolean;
  /** Retrying the same operation (or reconnecting) may succeed. */
  readonly retryable: boolean;
  /** The provider's own error code or type, when it sent one. */
  readonly providerCode?: string;
}

/**
 * The normalised events every provider adapter emits (the seed `realtime` package's event set).
 * Listeners receive exactly one payload object.
 */
export interface AgentEvents {
  'session.open': [{ readonly sessionId?: string }];
  'session.close': [{ readonly reason: string }];
  /** The caller started talking: barge-in. Emitted as soon as the provider (or local VAD) says so. */
  'user.speech.started': [{ readonly audioStartMs?: number; readonly itemId?: string }];
  'user.speech.ended': [{ readonly audioEndMs?: number; readonly itemId?: string }];
  'user.transcript': [{ readonly text: string; readonly final: boolean; readonly itemId?: string }];
  /** Assistant audio in `options.outputFormat`. `audio` is owned by the listener once emitted. */
  'assistant.audio': [{ readonly audio: Buffer; readonly itemId: string; readonly responseId: string }];
  'assistant.text': [
    {
      readonly text: string;
      readonly final: boolean;
      readonly itemId?: string;
      readonly responseId?: string;
    },
  ];
  'assistant.turn.end': [
    { readonly responseId: string; readonly status: 'completed' | 'cancelled' | 'failed' | 'incomplete' },
  ];
  'tool.call': [{ readonly callId: string; readonly name: string; readonly args: Record<string, unknown> }];
  usage: [
    {
      readonly inputTokens: number;
      readonly outputTokens: number;
      readonly inputAudioTokens?: number;
      readonly outputAudioTokens?: number;
      readonly responseId?: string;
    },
  ];
  error: [AgentErrorEvent];
}

export type AgentEventName = keyof AgentEvents;
