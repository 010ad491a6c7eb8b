/**
 * One outbound registration (RFC 3261 §10.2) as a small state machine whose side effects are injected
 * (send a request, send a CRLF keep-alive, timers), so it is tested with a fake clock and no sockets.
 *
 * - Digest (MD5/SHA-256, qop=auth): the challenge is remembered and answered pre-emptively on refreshes
 *   with a counting nc (RFC 7616 §3.4); a 401/407 to credentials just built from a fresh challenge (and not
 *   `stale=true`) is a failure ("401 Unauthorized after credentials"), never a loop.
 * - Refresh before expiry at max(0.8 × granted, granted − 30 s), honouring the Expires the 200 grants our
 *   Contact (§10.2.4); 423 Interval Too Brief → retry with its Min-Expires (§10.2.8), at most 3 times.
 * - Failure (final error, timeout, transport error, keep-alive lost) → `failed`, then a fresh registration
 *   after a bounded, jittered exponential backoff (RFC 5626 §4.5 style; base 5 s, cap 5 min).
 * - `+sip.instance` + reg-id in the Contact (RFC 5626 §4.2), `Supported: gruu` and the pub-gruu of the 200
 *   (RFC 5627 §4.1). Keep-alives while registered: CRLF on TCP/TLS (RFC 5626 §3.5.1), OPTIONS on UDP.
 * - unregister(): Contact `;expires=0` + `Expires: 0` (§10.2.2).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '../../observability/logger.js';
import type {
  Registration,
  RegistrationBinding,
  RegistrationEvents,
  RegistrationStatus,
} from '../registration.js';
import { authorizationHeader, pickChallenge, type DigestChallenge } from './digest.js';
import type { RequestCallbacks } from './endpoint.js';
import { SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { parseNameAddr, parseUri } from './syntax.js';
import type { Scheduler, TimerHandle } from './transaction.js';

export interface RegisterClientDeps {
  readonly scheduler: Scheduler;
  readonly logger: Logger;
  /** Epoch ms (expires_at). */
  readonly now: () => number;
  /** [0, 1): backoff jitter. */
  readonly random: () => number;
  /** Our Contact URI without brackets, e.g. `sip:r-1a2b@203.0.113.5:5060;transport=udp`. */
  readonly contactUri: string;
  readonly callId: string;
  /** New From tag per registration attempt. */
  readonly newTag: () => string;
  /** Start a client transaction toward the registrar (the endpoint adds Via and Max-Forwards). */
  readonly send: (request: SipRequest, callbacks: RequestCallbacks) => void;
  /** CRLF keep-alive on the stream connection; resolves false when it could not be sent. */
  readonly ping: () => Promise<boolean>;
}

export const BACKOFF_BASE_MS = 5_000;
export const BACKOFF_MAX_MS = 300_000;
const MAX_INTERVAL_RETRIES = 3;
/** unregister() resolves after this long even without an answer (a DELETE must not hang on Timer F). */
const UNREGISTER_WAIT_MS = 5_000;

/** When to refresh a binding granted for `grantedS` (ms from now). */
export function refreshDelayMs(grantedS: number): number {
  return Math.max(grantedS * 0.8, grantedS - 30) * 1000;
}

/** Backoff before attempt `failures + 1` (failures ≥ 1): half-jittered doubling, capped. */
export function backoffDelayMs(failures: number, random: number): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(16, failures - 1));
  return Math.round(ceiling * (0.5 + 0.5 * random));
}

interface CachedAuth {
  readonly challenge: DigestChallenge;
  readonly header: 'Authorization' | 'Proxy-Authorization';
  nc: number;
}

export class RegisterClient extends EventEmitter<RegistrationEvents> implements Registration {
  #status: RegistrationStatus = {
    state: 'registering',
    expiresAt: undefined,
    lastError: undefined,
    gruu: undefined,
  };
  #seq = 0;
  #fromTag: string;
  #expiresS: number;
  #auth: CachedAuth | undefined;
  #failures = 0;
  #intervalRetries = 0;
  #timer: TimerHandle | undefined;
  #keepAlive: TimerHandle | undefined;
  #stopped = false;
  /** The attempt in flight; responses to an older one are ignored. */
  #attempt = 0;
  readonly #log: Logger;

  constructor(
    readonly binding: RegistrationBinding,
    private readonly deps: RegisterClientDeps,
  ) {
    super();
    this.#fromTag = deps.newTag();
    this.#expiresS = binding.expiresS;
    this.#log = deps.logger.child({ component: 'register', aor: binding.aor });
  }

  get status(): RegistrationStatus {
    return this.#status;
  }

  /** Send the first REGISTER. */
  start(): void {
    this.#register(false);
  }

  /** Fail at once with `reason` and retry later (e.g. the registrar URI cannot be reached at all). */
  fail(reason: string): void {
    this.#failed(reason);
  }

  #setStatus(patch: Partial<RegistrationStatus>): void {
    this.#status = { ...this.#status, ...patch };
    this.emit('status', this.#status);
  }

  #clearTimers(): void {
    this.deps.scheduler.clear(this.#timer);
    this.deps.scheduler.clear(this.#keepAlive);
    this.#timer = undefined;
    this.#keepAlive = undefined;
  }

  #contact(expiresS: number): string {
    // RFC 5626 §4.2: the instance id is a quoted URN; reg-id names this flow.
    return `<${this.deps.contactUri}>;reg-id=1;+sip.instance="<${this.binding.instanceId}>";expires=${expiresS}`;
  }

  #build(expiresS: number): SipRequest {
    const headers = new SipHeaders();
    this.#seq++;
    headers.append('From', `<${this.binding.aor}>;tag=${this.#fromTag}`);
    headers.append('To', `<${this.binding.aor}>`);
    headers.append('Call-ID', this.deps.callId);
    headers.append('CSeq', `${this.#seq} REGISTER`);
    headers.append('Contact', this.#contact(expiresS));
    headers.append('Expires', String(expiresS));
    headers.append('Supported', 'gruu, outbound');
    headers.append('Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, NOTIFY');
    const auth = this.#auth;
    if (auth !== undefined) {
      // RFC 7616 §3.4: each request under one nonce counts nc up, with a fresh cnonce.
      auth.nc++;
      headers.append(
        auth.header,
        authorizationHeader({
          challenge: auth.challenge,
          method: 'REGISTER',
          uri: this.binding.registrar,
          username: this.binding.username,
          password: this.binding.password,
          nc: auth.nc,
        }),
      );
    }
    return {
      kind: 'request',
      method: 'REGISTER',
      uri: this.binding.registrar,
      headers,
      body: Buffer.alloc(0),
    };
  }

  /** `freshAuth`: the credentials in this request answer the challenge that just came (not a cached one). */
  #register(freshAuth: boolean): void {
    if (this.#stopped) return;
    const attempt = ++this.#attempt;
    const request = this.#build(this.#expiresS);
    this.deps.send(request, {
      onResponse: (res) => {
        if (attempt === this.#attempt && !this.#stopped) this.#onResponse(res, freshAuth);
      },
      onTimeout: () => {
        if (attempt === this.#attempt && !this.#stopped) this.#failed('408 Request Timeout (no response)');
      },
    });
  }

  #onResponse(res: SipResponse, freshAuth: boolean): void {
    if (res.status < 200) return;
    if (res.status < 300) return this.#onSuccess(res);
    if (res.status === 401 || res.status === 407) {
      const challenge = pickChallenge(
        res.headers.getAll(res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'),
      );
      if (challenge === undefined) return this.#failed(`${res.status} ${res.reason} (no usable challenge)`);
      // A fresh challenge answered once already, and not merely stale: the credentials are wrong.
      if (freshAuth && !challenge.stale) return this.#failed(`${res.status} ${res.reason} after credentials`);
      this.#auth = {
        challenge,
        header: res.status === 401 ? 'Authorization' : 'Proxy-Authorization',
        nc: 0,
      };
      this.#log.debug({ algorithm: challenge.algorithm }, 'register answering digest challenge');
      return this.#register(true);
    }
    if (res.status === 423) {
      const minExpires = Number(res.headers.get('Min-Expires'));
      if (
        Number.isInteger(minExpires) &&
        minExpires > this.#expiresS &&
        this.#intervalRetries < MAX_INTERVAL_RETRIES
      ) {
        // RFC 3261 §10.2.8: retry with at least the registrar's minimum.
        this.#intervalRetries++;
        this.#expiresS = minExpires;
        this.#log.info({ minExpires }, 'register interval too brief; retrying with Min-Expires');
        return this.#register(false);
      }
    }
    this.#failed(`${res.status} ${res.reason}`);
  }

  /** RFC 3261 §10.2.4: the 200 lists every binding; ours carries the Expires the registrar granted. */
  #onSuccess(res: SipResponse): void {
    this.#failures = 0;
    this.#intervalRetries = 0;
    const mine = this.#findOurContact(res.headers.getAll('Contact'));
    const headerExpires = Number(res.headers.get('Expires'));
    const contactExpires = Number(mine?.params.get('expires'));
    const grantedS =
      Number.isFinite(contactExpires) && mine?.params.get('expires') !== undefined
        ? contactExpires
        : Number.isFinite(headerExpires) && res.headers.has('Expires')
          ? headerExpires
          : this.#expiresS;
    if (grantedS <= 0) return this.#failed('200 OK without our binding (expires=0)');
    const gruu = mine?.params.get('pub-gruu');
    this.#setStatus({
      state: 'registered',
      expiresAt: new Date(this.deps.now() + grantedS * 1000),
      lastError: undefined,
      gruu: gruu === undefined || gruu === '' ? undefined : gruu,
    });
    this.emit('registered', { expiresS: grantedS });
    this.#log.info({ expiresS: grantedS }, 'registered');
    this.#clearTimers();
    this.#timer = this.deps.scheduler.set(() => this.#register(false), refreshDelayMs(grantedS));
    this.#armKeepAlive();
  }

  #findOurContact(values: readonly string[]): ReturnType<typeof parseNameAddr> {
    const ours = parseUri(this.deps.contactUri);
    for (const value of values) {
      const c = parseNameAddr(value);
      if (c === undefined) continue;
      const instance = c.params.get('+sip.instance');
      if (instance !== undefined && instance.replace(/^<|>$/g, '') === this.binding.instanceId) return c;
      const uri = parseUri(c.uri);
      if (uri !== undefined && ours !== undefined && uri.user === ours.user && uri.host === ours.host) {
        if ((uri.port ?? 5060) === (ours.port ?? 5060)) return c;
      }
    }
    return undefined;
  }

  #armKeepAlive(): void {
    const intervalS = this.binding.keepAliveS ?? 0;
    if (intervalS <= 0) return;
    this.#keepAlive = this.deps.scheduler.set(() => this.#sendKeepAlive(), intervalS * 1000);
  }

  #sendKeepAlive(): void {
    if (this.#stopped || this.#status.state !== 'registered') return;
    const lost = (): void => {
      if (this.#stopped || this.#status.state !== 'registered') return;
      // The path to the registrar is gone (NAT rebinding, network loss): register again from scratch.
      this.#log.warn('register keep-alive failed; re-registering');
      this.#failed('keep-alive failed (network loss)', 0);
    };
    if (this.binding.transport !== 'udp') {
      void this.deps.ping().then((ok) => (ok ? this.#armKeepAlive() : lost()));
      return;
    }
    const headers = new SipHeaders();
    headers.append('From', `<${this.binding.aor}>;tag=${this.deps.newTag()}`);
    headers.append('To', `<${this.binding.registrar}>`);
    headers.append('Call-ID', `ka-${this.deps.newTag()}-${this.deps.callId}`);
    headers.append('CSeq', '1 OPTIONS');
    headers.append('Contact', `<${this.deps.contactUri}>`);
    // Any answer (even 404 or 405) proves the path and refreshes the NAT binding.
    this.deps.send(
      { kind: 'request', method: 'OPTIONS', uri: this.binding.registrar, headers, body: Buffer.alloc(0) },
      { onResponse: (res) => (res.status >= 200 ? this.#armKeepAlive() : undefined), onTimeout: lost },
    );
  }

  /** `failed`, then a fresh registration (new From tag, no cached nonce) after the backoff. */
  #failed(reason: string, delayMs?: number): void {
    if (this.#stopped) return;
    this.#failures++;
    this.#attempt++;
    this.#auth = undefined;
    this.#intervalRetries = 0;
    this.#expiresS = Math.max(this.#expiresS, this.binding.expiresS);
    this.#clearTimers();
    const wait = delayMs ?? backoffDelayMs(this.#failures, this.deps.random());
    this.#log.warn({ reason, retryInMs: wait }, 'registration failed');
    this.#setStatus({ state: 'failed', expiresAt: undefined, lastError: reason, gruu: undefined });
    this.#timer = this.deps.scheduler.set(() => {
      this.#fromTag = this.deps.newTag();
      this.#setStatus({ state: 'registering' });
      this.#register(false);
    }, wait);
  }

  async unregister(): Promise<void> {
    if (this.#stopped) return;
    const wasRegistered = this.#status.state === 'registered';
    this.#stopped = true;
    this.#clearTimers();
    this.#attempt++;
    this.#setStatus({ state: 'unregistered', expiresAt: undefined });
    if (!wasRegistered) return;
    await new Promise<void>((resolve) => {
      const timer = this.deps.scheduler.set(resolve, UNREGISTER_WAIT_MS);
      const done = (): void => {
        this.deps.scheduler.clear(timer);
        resolve();
      };
      const sendRemoval = (answered: boolean): void => {
        this.deps.send(this.#build(0), {
          onResponse: (res) => {
            if (res.status < 200) return;
            if ((res.status === 401 || res.status === 407) && !answered) {
              const challenge = pickChallenge(
                res.headers.getAll(res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'),
              );
              if (challenge !== undefined) {
                const header = res.status === 401 ? 'Authorization' : 'Proxy-Authorization';
                this.#auth = { challenge, header, nc: 0 };
                return sendRemoval(true);
              }
            }
            this.#log.info({ status: res.status }, 'unregistered');
            done();
          },
          onTimeout: done,
        });
      };
      sendRemoval(false);
    });
  }
}
