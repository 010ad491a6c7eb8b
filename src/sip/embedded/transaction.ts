/**
 * RFC 3261 §17 transaction state machines (with the RFC 6026 "accepted" states). Each class only decides; its
 * side effects (send, timers, hand to the TU) are injected, so the tests drive them with fake timers and no
 * sockets (STYLE.md §4).
 */
import { SipHeaders, type SipRequest, type SipResponse } from './message.js';
import { MAGIC_COOKIE, parseVia } from './syntax.js';

export type TimerHandle = { readonly __timer: true } | NodeJS.Timeout;

/** Injectable timer API; the default uses the real clock. */
export interface Scheduler {
  set(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle | undefined): void;
}

export const realScheduler: Scheduler = {
  set: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clear: (h) => {
    if (h !== undefined) clearTimeout(h as NodeJS.Timeout);
  },
};

/** §17.1.1.1 timer values. */
export interface TimerConfig {
  readonly t1Ms: number;
  readonly t2Ms: number;
  readonly t4Ms: number;
}

export const DEFAULT_TIMERS: TimerConfig = { t1Ms: 500, t2Ms: 4000, t4Ms: 5000 };

interface TxBase {
  readonly scheduler: Scheduler;
  readonly timers: TimerConfig;
  /** Stream transports need no retransmissions (§17.1.1.2 Timer A only on unreliable transports). */
  readonly reliable: boolean;
  readonly onTerminated: () => void;
}

export interface ServerTxDeps extends TxBase {
  readonly send: (response: SipResponse) => void;
  /** INVITE only: Timer H fired, the ACK for our non-2xx final never came. */
  readonly onAckTimeout?: () => void;
}

export interface ClientTxDeps extends TxBase {
  readonly send: (request: SipRequest) => void;
  readonly onResponse: (response: SipResponse) => void;
  /** Timer B/F: no final response (the TU treats this as a 408). */
  readonly onTimeout: () => void;
}

/** The top Via branch, or undefined when absent or not RFC 3261-compliant. */
export function topBranch(headers: SipHeaders): string | undefined {
  const top = headers.get('Via');
  const via = top === undefined ? undefined : parseVia(top);
  return via?.params.get('branch') ?? undefined;
}

/**
 * §17.2.3 server transaction key: branch + sent-by + method (ACK and CANCEL are matched against the INVITE by
 * swapping the method). Without an RFC 3261 branch (RFC 2543 peers, RFC 4475 §3.1.1.7) the key is built from
 * Request-URI, Call-ID, From tag, CSeq number and the top Via, as §17.2.3 prescribes for that case.
 */
export function serverKey(request: SipRequest): string | undefined {
  const top = request.headers.get('Via');
  const via = top === undefined ? undefined : parseVia(top);
  if (via === undefined) return undefined;
  const method = request.method === 'ACK' ? 'INVITE' : request.method;
  const branch = via.params.get('branch');
  if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
    return `${branch}|${via.host}:${via.port ?? ''}|${method}`;
  }
  const fromTag = /;\s*tag\s*=\s*([^;\s]+)/i.exec(request.headers.get('From') ?? '')?.[1] ?? '';
  const seq = /^\s*(\d+)/.exec(request.headers.get('CSeq') ?? '')?.[1] ?? '';
  const callId = request.headers.get('Call-ID') ?? '';
  // §17.2.3: the ACK (and CANCEL) of an RFC 2543 INVITE carries the INVITE's Request-URI.
  return `2543|${request.uri}|${callId}|${fromTag}|${seq}|${via.host}:${via.port ?? ''}|${branch ?? ''}|${method}`;
}

/** §17.1.3 client transaction key: branch + CSeq method. */
export function clientKey(branch: string, method: string): string {
  return `${branch}|${method === 'ACK' ? 'INVITE' : method}`;
}

abstract class Transaction {
  state = 'initial';
  private readonly handles = new Set<TimerHandle>();

  constructor(protected readonly base: TxBase) {}

  protected timer(ms: number, fn: () => void): TimerHandle {
    const handle = this.base.scheduler.set(() => {
      this.handles.delete(handle);
      if (this.state !== 'terminated') fn();
    }, ms);
    this.handles.add(handle);
    return handle;
  }

  protected cancel(handle: TimerHandle | undefined): void {
    if (handle === undefined) return;
    this.handles.delete(handle);
    this.base.scheduler.clear(handle);
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    for (const h of this.handles) this.base.scheduler.clear(h);
    this.handles.clear();
    this.base.onTerminated();
  }
}

/** §17.2.1 INVITE server transaction (+ RFC 6026 Accepted). */
export class InviteServerTransaction extends Transaction {
  lastResponse: SipResponse | undefined;
  /** Our To tag for every response to this INVITE, and for the 200 to its CANCEL (§9.2). */
  localTag = '';
  private timerG: TimerHandle | undefined;

  constructor(
    readonly request: SipRequest,
    private readonly deps: ServerTxDeps,
  ) {
    super(deps);
    this.state = 'proceeding';
  }

  /** A retransmitted INVITE or an ACK with the same branch. Returns true when absorbed here. */
  receive(request: SipRequest): boolean {
    if (request.method === 'ACK') {
      if (this.state === 'completed') {
        // §17.2.1: ACK for a non-2xx final; Timer I absorbs ACK retransmissions.
        this.state = 'confirmed';
        this.cancel(this.timerG);
        this.timer(this.deps.reliable ? 0 : this.deps.timers.t4Ms, () => this.terminate());
        return true;
      }
      return this.state === 'confirmed';
    }
    if ((this.state === 'proceeding' || this.state === 'completed') && this.lastResponse !== undefined) {
      this.deps.send(this.lastResponse);
    }
    return true;
  }

  respond(response: SipResponse): void {
    if (this.state !== 'proceeding') return;
    this.lastResponse = response;
    this.deps.send(response);
    if (response.status < 200) return;
    const { t1Ms, t2Ms } = this.deps.timers;
    if (response.status < 300) {
      // RFC 6026 §7.1: Accepted; the TU retransmits the 2xx, retransmitted INVITEs are absorbed (Timer L).
      this.state = 'accepted';
      this.timer(64 * t1Ms, () => this.terminate());
      return;
    }
    this.state = 'completed';
    if (!this.deps.reliable) {
      const retransmit = (intervalMs: number): void => {
        this.timerG = this.timer(intervalMs, () => {
          this.deps.send(response);
          retransmit(Math.min(2 * intervalMs, t2Ms));
        });
      };
      retransmit(t1Ms);
    }
    this.timer(64 * t1Ms, () => {
      this.deps.onAckTimeout?.();
      this.terminate();
    });
  }
}

/** §17.2.2 non-INVITE server transaction. */
export class NonInviteServerTransaction extends Transaction {
  lastResponse: SipResponse | undefined;

  constructor(
    readonly request: SipRequest,
    private readonly deps: ServerTxDeps,
  ) {
    super(deps);
    this.state = 'trying';
  }

  receive(_request: SipRequest): boolean {
    if (this.lastResponse !== undefined) this.deps.send(this.lastResponse);
    return true;
  }

  respond(response: SipResponse): void {
    if (this.state === 'completed' || this.state === 'terminated') return;
    this.lastResponse = response;
    this.deps.send(response);
    if (response.status < 200) {
      this.state = 'proceeding';
      return;
    }
    this.state = 'completed';
    this.timer(this.deps.reliable ? 0 : 64 * this.deps.timers.t1Ms, () => this.terminate()); // Timer J
  }
}

/** §17.1.1 INVITE client transaction (+ RFC 6026 Accepted, which passes 2xx retransmissions up). */
export class InviteClientTransaction extends Transaction {
  private timerA: TimerHandle | undefined;
  private timerB: TimerHandle | undefined;
  private ack: SipRequest | undefined;

  constructor(
    readonly request: SipRequest,
    private readonly deps: ClientTxDeps,
  ) {
    super(deps);
  }

  start(): void {
    this.state = 'calling';
    this.deps.send(this.request);
    const { t1Ms } = this.deps.timers;
    if (!this.deps.reliable) {
      const retransmit = (intervalMs: number): void => {
        this.timerA = this.timer(intervalMs, () => {
          this.deps.send(this.request);
          retransmit(2 * intervalMs);
        });
      };
      retransmit(t1Ms);
    }
    this.timerB = this.timer(64 * t1Ms, () => {
      this.deps.onTimeout();
      this.terminate();
    });
  }

  receive(response: SipResponse): void {
    const { t1Ms } = this.deps.timers;
    if (this.state === 'calling' || this.state === 'proceeding') {
      this.cancel(this.timerA);
      if (response.status < 200) {
        // §17.1.1.2: Timer B only runs in Calling; a provisional means the callee is alive (ringing may last
        // minutes). How long we let it ring is the TU's decision (Timer C style, uac.ts: CANCEL).
        this.cancel(this.timerB);
        this.state = 'proceeding';
        this.deps.onResponse(response);
        return;
      }
      this.cancel(this.timerB);
      if (response.status < 300) {
        // RFC 6026 §8.4: Accepted, Timer M; 2xx retransmissions go to the TU which resends its ACK.
        this.state = 'accepted';
        this.timer(64 * t1Ms, () => this.terminate());
        this.deps.onResponse(response);
        return;
      }
      // §17.1.1.3: the transaction itself ACKs a non-2xx final, with the INVITE's branch.
      this.state = 'completed';
      this.ack = buildNon2xxAck(this.request, response);
      this.deps.send(this.ack);
      this.timer(this.deps.reliable ? 0 : 64 * t1Ms, () => this.terminate()); // Timer D
      this.deps.onResponse(response);
      return;
    }
    if (this.state === 'accepted' && response.status >= 200 && response.status < 300) {
      this.deps.onResponse(response);
    } else if (this.state === 'completed' && response.status >= 300 && this.ack !== undefined) {
      this.deps.send(this.ack);
    }
  }
}

/** §17.1.2 non-INVITE client transaction. */
export class NonInviteClientTransaction extends Transaction {
  private timerE: TimerHandle | undefined;

  constructor(
    readonly request: SipRequest,
    private readonly deps: ClientTxDeps,
  ) {
    super(deps);
  }

  start(): void {
    this.state = 'trying';
    this.deps.send(this.request);
    const { t1Ms, t2Ms } = this.deps.timers;
    if (!this.deps.reliable) {
      const retransmit = (intervalMs: number): void => {
        this.timerE = this.timer(intervalMs, () => {
          this.deps.send(this.request);
          retransmit(this.state === 'proceeding' ? t2Ms : Math.min(2 * intervalMs, t2Ms));
        });
      };
      retransmit(t1Ms);
    }
    this.timer(64 * t1Ms, () => {
      this.deps.onTimeout();
      this.terminate();
    }); // Timer F
  }

  receive(response: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    if (response.status < 200) {
      this.state = 'proceeding';
      this.deps.onResponse(response);
      return;
    }
    this.cancel(this.timerE);
    this.state = 'completed';
    this.deps.onResponse(response);
    this.timer(this.deps.reliable ? 0 : this.deps.timers.t4Ms, () => this.terminate()); // Timer K
  }
}

/** §17.1.1.3 ACK for a non-2xx final: same Request-URI, Call-ID, From, top Via, Route; To from the response. */
export function buildNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers = new SipHeaders();
  const via = invite.headers.get('Via');
  if (via !== undefined) headers.append('Via', via);
  for (const route of invite.headers.getAll('Route')) headers.append('Route', route);
  headers.append('Max-Forwards', '70');
  headers.append('From', invite.headers.get('From') ?? '');
  headers.append('To', response.headers.get('To') ?? invite.headers.get('To') ?? '');
  headers.append('Call-ID', invite.headers.get('Call-ID') ?? '');
  const seq = (invite.headers.get('CSeq') ?? '1').trim().split(/\s+/)[0] ?? '1';
  headers.append('CSeq', `${seq} ACK`);
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}
