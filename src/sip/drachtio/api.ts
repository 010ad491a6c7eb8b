/**
 * The slice of drachtio-srf we use, typed by us. drachtio-srf is CommonJS with declarations that disagree
 * with its runtime (e.g. `connect()` is typed as a Promise but returns the app), so the adapter programs
 * against these interfaces and only `srf-api.ts` touches the library. Unit tests supply a fake of this surface.
 */

export type Headers = Readonly<Record<string, string>>;

export interface DrachtioConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly secret: string;
  readonly tags?: readonly string[];
  readonly enablePing?: boolean;
  readonly pingInterval?: number;
  /** Library-side reconnect: delay starts at 150 ms and grows ×1.7 up to `retryMaxDelay`. */
  readonly reconnect?: { readonly retryMaxDelay?: number; readonly maxAttempts?: number };
}

/** An incoming request (drachtio `Request`). */
export interface DrachtioRequest {
  readonly method: string;
  readonly uri: string;
  readonly body: string | undefined;
  /** Not set by drachtio-srf 5.0.29 on incoming requests; read the Call-ID header instead. */
  readonly callId?: string | undefined;
  readonly source_address: string;
  readonly source_port: number | string;
  /** 'udp' | 'tcp' | 'tls' | 'ws' | … (lowercase in drachtio); may be empty on ACK. */
  readonly protocol: string;
  /** Set on server-generated requests, e.g. `{ source: 'application' }` on the BYE after an ACK timeout. */
  readonly meta?: { readonly source?: string };
  get(name: string): string | undefined;
  has(name: string): boolean;
  on(event: 'cancel', listener: () => void): unknown;
}

/** A response we send (drachtio `Response`). */
export interface DrachtioResponse {
  send(
    status: number,
    reason?: string,
    opts?: { readonly headers?: Headers; readonly body?: string },
    callback?: (err: unknown) => void,
  ): void;
}

/** A final response to a request we sent. */
export interface DrachtioResponseMessage {
  readonly status: number;
  readonly reason: string;
  readonly body?: string;
  get(name: string): string | undefined;
}

export interface DrachtioDialogEvents {
  destroy: [req: DrachtioRequest | undefined, reason?: string];
  ack: [req: DrachtioRequest];
  modify: [req: DrachtioRequest, res: DrachtioResponse];
  update: [req: DrachtioRequest, res: DrachtioResponse];
  info: [req: DrachtioRequest, res: DrachtioResponse];
  notify: [req: DrachtioRequest, res: DrachtioResponse];
  refer: [req: DrachtioRequest, res: DrachtioResponse];
}

/** drachtio `Dialog`. Its `info()`/`refer()` shortcuts are broken (wrong `this`); only `request()` is used. */
export interface DrachtioDialog {
  readonly id: string;
  readonly type: 'uas' | 'uac';
  readonly sip: { readonly callId: string; readonly localTag: string; readonly remoteTag: string };
  readonly local: { readonly uri: string; readonly sdp: string; readonly contact: string };
  readonly remote: { readonly uri: string; readonly sdp: string };
  on<E extends keyof DrachtioDialogEvents>(
    event: E,
    listener: (...args: DrachtioDialogEvents[E]) => void,
  ): unknown;
  request(opts: { method: string; headers?: Headers; body?: string }): Promise<DrachtioResponseMessage>;
  destroy(opts?: { headers?: Headers }): Promise<unknown>;
}

/** What `createUAC`'s cbRequest hands us: the INVITE as sent, cancellable. */
export interface DrachtioSentRequest {
  cancel(): void;
}

export interface DrachtioUacOptions {
  readonly localSdp: string;
  readonly headers?: Headers;
  readonly proxy?: string;
  readonly auth?: { readonly username: string; readonly password: string };
}

export interface DrachtioUacCallbacks {
  readonly cbRequest?: (err: unknown, req: DrachtioSentRequest) => void;
  readonly cbProvisional?: (res: DrachtioResponseMessage) => void;
}

export interface DrachtioApiEvents {
  connect: [err: Error | null | undefined, hostports?: string];
  /** The admin connection dropped; the library is reconnecting. */
  close: [];
  reconnecting: [info: { delay: number; attempt: number }];
  error: [err: Error];
}

/** Out-of-dialog methods that reach the application only to be refused (drachtio routes in-dialog ones). */
export type OutOfDialogMethod =
  'register' | 'subscribe' | 'publish' | 'message' | 'notify' | 'info' | 'refer';

/** The Srf surface: one instance per signaling backend. */
export interface DrachtioApi {
  connect(opts: DrachtioConnectOptions): void;
  disconnect(): void;
  on<E extends keyof DrachtioApiEvents>(event: E, listener: (...args: DrachtioApiEvents[E]) => void): unknown;
  invite(handler: (req: DrachtioRequest, res: DrachtioResponse) => void): void;
  options(handler: (req: DrachtioRequest, res: DrachtioResponse) => void): void;
  /** Handler for an out-of-dialog request of another method (drachtio-srf's `srf.register(...)` etc.). */
  method(name: OutOfDialogMethod, handler: (req: DrachtioRequest, res: DrachtioResponse) => void): void;
  /** Resolves when the 200 is sent; rejects with a SipError(487) or a bare string when cancelled. */
  createUAS(
    req: DrachtioRequest,
    res: DrachtioResponse,
    opts: { readonly localSdp: string; readonly headers?: Headers },
  ): Promise<DrachtioDialog>;
  /** Rejects with a SipError-like `{ status }` on a final non-2xx. */
  createUAC(uri: string, opts: DrachtioUacOptions, callbacks: DrachtioUacCallbacks): Promise<DrachtioDialog>;
}
