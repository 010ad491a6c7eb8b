/**
 * The drain state machine (src/cluster/drain.ts) with a fake clock and recording fakes: no sockets, no
 * real timers. The process-level behaviour (SIGTERM, sipp calls, exit codes) is test/lifecycle/drain.test.ts.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DrainController, type DrainState, type EndCallsMode } from '../../src/cluster/drain.js';

class FakeTimers {
  nowMs = 1_000_000;
  #next = 1;
  readonly #pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.#next++;
    this.#pending.set(id, { at: this.nowMs + ms, fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => void this.#pending.delete(handle as number);
  get pending(): number {
    return this.#pending.size;
  }
  /** Runs every timer due within `ms`, in time order (bounded by the timers that exist). */
  advance(ms: number): void {
    const until = this.nowMs + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const due = [...this.#pending.entries()]
        .filter(([, t]) => t.at <= until)
        .sort((a, b) => a[1].at - b[1].at);
      const first = due[0];
      if (first === undefined) break;
      this.#pending.delete(first[0]);
      this.nowMs = first[1].at;
      first[1].fn();
    }
    this.nowMs = until;
  }
}

function setup(initialCalls: number, timeoutMs = 10_000) {
  const timers = new FakeTimers();
  const states: DrainState[] = [];
  const ends: EndCallsMode[] = [];
  let release: (() => void) | undefined;
  const world = { calls: initialCalls, holdEnd: false };
  const drain = new DrainController({
    timeoutMs,
    activeCalls: () => world.calls,
    endCalls: (mode) => {
      ends.push(mode);
      if (!world.holdEnd) {
        world.calls = 0;
        return Promise.resolve();
      }
      return new Promise<void>((r) => (release = r));
    },
    onState: (s) => states.push(s),
    logger: pino({ level: 'silent' }),
    pollMs: 200,
    timers,
    now: () => timers.nowMs,
  });
  return { drain, timers, states, ends, world, release: () => release?.() };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('DrainController', () => {
  it('serving → draining → stopped once the last call ends by itself; nothing is ended by the drain', async () => {
    const { drain, timers, states, ends, world } = setup(2);
    expect(drain.refusing).toBe(false);
    const status = drain.start('SIGTERM');
    expect(status).toMatchObject({ state: 'draining', trigger: 'SIGTERM', callsRemaining: 2 });
    expect(Date.parse(status.deadlineAt!) - Date.parse(status.startedAt!)).toBe(10_000);
    expect(drain.refusing).toBe(true);
    timers.advance(5000);
    expect(drain.state).toBe('draining');
    world.calls = 0;
    timers.advance(200);
    expect(await drain.done).toBe('drained');
    expect(states).toEqual(['draining', 'stopped']);
    expect(ends).toEqual([]);
    expect(timers.pending).toBe(0); // the deadline was cleared
  });

  it('with no call up, a drain is over at once', async () => {
    const { drain } = setup(0);
    drain.start('api');
    expect(await drain.done).toBe('drained');
    expect(drain.status()).toMatchObject({ state: 'stopped', outcome: 'drained', trigger: 'api' });
  });

  it('a second start keeps the first trigger and deadline', () => {
    const { drain, timers } = setup(1);
    const first = drain.start('SIGTERM');
    timers.advance(1000);
    expect(drain.start('api')).toMatchObject({ trigger: 'SIGTERM', deadlineAt: first.deadlineAt });
  });

  it('at the deadline the remaining calls get their goodbye, then the drain stops', async () => {
    const { drain, timers, ends, states } = setup(3, 2000);
    drain.start('SIGTERM');
    timers.advance(1999);
    expect(ends).toEqual([]);
    timers.advance(1);
    expect(ends).toEqual(['goodbye']);
    expect(await drain.done).toBe('timeout');
    expect(states).toEqual(['draining', 'stopped']);
  });

  it('a forced stop ends the calls at once, and overtakes a goodbye in progress', async () => {
    const { drain, timers, ends, world, release } = setup(1, 2000);
    world.holdEnd = true; // the goodbye prompt is still playing
    drain.start('SIGTERM');
    timers.advance(2000);
    expect(ends).toEqual(['goodbye']);
    expect(drain.state).toBe('draining');
    const forced = drain.stopNow();
    expect(ends).toEqual(['goodbye', 'now']);
    release();
    await forced;
    expect(await drain.done).toBe('forced');
    // Once forced, a further stop changes nothing.
    await drain.stopNow();
    expect(ends).toEqual(['goodbye', 'now']);
  });

  it('stopNow without a drain refuses calls and ends them', async () => {
    const { drain, ends, states } = setup(2);
    await drain.stopNow();
    await settle();
    expect(ends).toEqual(['now']);
    expect(states).toEqual(['draining', 'stopped']);
    expect(drain.status()).toMatchObject({ state: 'stopped', outcome: 'forced', trigger: 'forced' });
  });
});
