/**
 * RFC 3262 UAS side: reliable provisional responses for an INVITE whose caller put `100rel` in Require.
 * Each 1xx (other than 100) gets an RSeq and `Require: 100rel` (§3) and is retransmitted by the TU, first after
 * T1 then at doubling intervals, until a PRACK with a matching RAck arrives; after 64*T1 without one the UAS
 * gives up and rejects the INVITE with a 5xx (§3). A second reliable provisional waits until the first is
 * acknowledged (§3), and the 2xx waits for every outstanding one (we always wait, which §3 requires only when
 * the provisional carried SDP). A pure state machine: sending and timers are injected.
 */
import { SipError } from '../signaling.js';
import type { SipHeaders, SipResponse } from './message.js';
import type { Scheduler, TimerHandle } from './transaction.js';

/** The option tag (RFC 3262 §7.1). */
export const OPTION_100REL = '100rel';

/** §7.2 `RAck: response-num CSeq-num Method`. */
export interface RAck {
  readonly rseq: number;
  readonly cseq: number;
  readonly method: string;
}

const RSEQ_MAX = 2 ** 32 - 1;

export function parseRAck(value: string | undefined): RAck | undefined {
  const m = /^\s*(\d{1,10})\s+(\d{1,10})\s+([A-Za-z]+)\s*$/.exec(value ?? '');
  if (m === null) return undefined;
  const rseq = Number(m[1]);
  const cseq = Number(m[2]);
  if (rseq < 1 || rseq > RSEQ_MAX || cseq > RSEQ_MAX) return undefined;
  return { rseq, cseq, method: m[3]!.toUpperCase() };
}

/** §7.1 `RSeq: 1*DIGIT` (1 to 2**32-1); undefined when absent or malformed. */
export function parseRSeq(value: string | undefined): number | undefined {
  const m = /^\s*(\d{1,10})\s*$/.exec(value ?? '');
  if (m === null) return undefined;
  const n = Number(m[1]);
  return n >= 1 && n <= RSEQ_MAX ? n : undefined;
}

/** Does a header (Require, Supported; every instance) list the 100rel option tag? */
export function lists100rel(headers: SipHeaders, name: 'Require' | 'Supported'): boolean {
  return headers
    .getAll(name)
    .flatMap((v) => v.split(','))
    .some((t) => t.trim().toLowerCase() === OPTION_100REL);
}

export interface ReliableProvisionalDeps {
  readonly scheduler: Scheduler;
  readonly t1Ms: number;
  /** The INVITE's CSeq number: a PRACK's RAck must name it (§7.2). */
  readonly inviteSeq: number;
  /** Hands a response (first send or retransmission) to the INVITE server transaction. */
  readonly send: (response: SipResponse) => void;
  /** 64*T1 went by without the PRACK (§3): reject the INVITE with a 5xx. Called once. */
  readonly onGiveUp: () => void;
  /** The first RSeq (§3: chosen uniformly between 1 and 2**31 - 1); tests fix it. */
  readonly initialRSeq?: number;
}

interface Outstanding {
  readonly response: SipResponse;
  readonly rseq: number;
  retransmit: TimerHandle | undefined;
  giveUp: TimerHandle | undefined;
}

export class ReliableProvisionals {
  readonly #d: ReliableProvisionalDeps;
  #nextRSeq: number;
  #outstanding: Outstanding | undefined;
  readonly #queued: SipResponse[] = [];
  readonly #waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  #failure: SipError | undefined;
  #closed = false;
  /** Retransmissions sent so far (all responses), for logs and tests. */
  retransmissions = 0;

  constructor(deps: ReliableProvisionalDeps) {
    this.#d = deps;
    this.#nextRSeq = deps.initialRSeq ?? 1 + Math.floor(Math.random() * (2 ** 31 - 2));
  }

  /** True while a reliable provisional is unacknowledged or queued behind one. */
  get pending(): boolean {
    return this.#outstanding !== undefined || this.#queued.length > 0;
  }

  /** Sends `response` (a 101–199) reliably, or queues it behind the one still unacknowledged. */
  send(response: SipResponse): void {
    if (this.#closed || this.#failure !== undefined) return;
    if (this.#outstanding !== undefined) {
      this.#queued.push(response);
      return;
    }
    const rseq = this.#nextRSeq;
    this.#nextRSeq = rseq >= RSEQ_MAX ? 1 : rseq + 1;
    response.headers.set('RSeq', String(rseq));
    response.headers.set('Require', OPTION_100REL);
    const outstanding: Outstanding = { response, rseq, retransmit: undefined, giveUp: undefined };
    this.#outstanding = outstanding;
    this.#d.send(response);
    const { scheduler, t1Ms } = this.#d;
    const again = (intervalMs: number): void => {
      outstanding.retransmit = scheduler.set(() => {
        if (this.#outstanding !== outstanding) return;
        this.retransmissions++;
        this.#d.send(response);
        again(2 * intervalMs);
      }, intervalMs);
    };
    again(t1Ms);
    outstanding.giveUp = scheduler.set(() => this.#giveUp(outstanding), 64 * t1Ms);
  }

  /**
   * The unacknowledged reliable provisional this RAck names (§3: RSeq, CSeq number and method must all
   * match), or undefined (the PRACK gets 481).
   */
  match(rack: RAck): SipResponse | undefined {
    const current = this.#outstanding;
    if (current === undefined || rack.rseq !== current.rseq) return undefined;
    if (rack.cseq !== this.#d.inviteSeq || rack.method !== 'INVITE') return undefined;
    return current.response;
  }

  /** A PRACK acknowledged the response `match` returned: stop its retransmissions, send the next one. */
  acknowledge(rack: RAck): boolean {
    const current = this.#outstanding;
    if (current === undefined || this.match(rack) === undefined) return false;
    this.#stop(current);
    this.#outstanding = undefined;
    const next = this.#queued.shift();
    if (next !== undefined) this.send(next);
    else this.#settleWaiters();
    return true;
  }

  /** Resolves once nothing is unacknowledged; rejects if we gave up (§3) or closed first. */
  whenAcknowledged(): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (!this.pending) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** A final response went out (or the call is gone): stop retransmitting; waiters are rejected. */
  close(status = 487, message = 'INVITE ended before its provisional responses were acknowledged'): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#outstanding !== undefined) this.#stop(this.#outstanding);
    this.#outstanding = undefined;
    this.#queued.length = 0;
    this.#failure ??= new SipError(status, message);
    this.#settleWaiters();
  }

  #giveUp(outstanding: Outstanding): void {
    if (this.#outstanding !== outstanding || this.#closed) return;
    this.#failure = new SipError(504, 'no PRACK for a reliable provisional response');
    this.close();
    this.#d.onGiveUp();
  }

  #stop(o: Outstanding): void {
    this.#d.scheduler.clear(o.retransmit);
    this.#d.scheduler.clear(o.giveUp);
  }

  #settleWaiters(): void {
    const waiters = this.#waiters.splice(0);
    for (const w of waiters) {
      if (this.#failure !== undefined) w.reject(this.#failure);
      else w.resolve();
    }
  }
}
