/**
 * Every error Switchboard raises on purpose is a SwitchboardError with a stable code, so callers branch on
 * `code`, never on message text (the fastify `FST_ERR_*` habit).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MEDIA_PORTS_EXHAUSTED'
  | 'MEDIA_RTP_MALFORMED'
  | 'MEDIA_CODEC_UNSUPPORTED'
  | 'MEDIA_WAV_INVALID'
  | 'MEDIA_RESAMPLE_UNSUPPORTED'
  | `SIP_${string}`
  | `AGENT_${string}`
  | `CALL_${string}`
  | `ROUTING_${string}`
  | `TENANT_${string}`
  | `HTTP_${string}`;

export class SwitchboardError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class ConfigError extends SwitchboardError {
  /** The environment variable (or file field) that was rejected. */
  readonly variable: string;

  constructor(variable: string, message: string) {
    super('CONFIG_INVALID', `${variable}: ${message}`);
    this.variable = variable;
  }
}
