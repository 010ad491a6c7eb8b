/**
 * How long a thread waited for a CPU (Linux /proc/<pid>/task/<tid>/schedstat: time on CPU, time runnable
 * but waiting on a run queue, in ns). On a shared machine this separates "the server was slow" from "the
 * server was ready but another process had the core". Undefined where /proc is not available.
 */
import { readFileSync } from 'node:fs';

export interface SchedStat {
  readonly runNs: number;
  readonly waitNs: number;
}

/** The main thread of process `pid` (its tid equals the pid). */
export function readSchedStat(pid: number): SchedStat | undefined {
  try {
    const [run, wait] = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, 'utf8').trim().split(/\s+/);
    const runNs = Number(run);
    const waitNs = Number(wait);
    return Number.isFinite(runNs) && Number.isFinite(waitNs) ? { runNs, waitNs } : undefined;
  } catch {
    return undefined;
  }
}

/** Run-queue wait between two readings, in ms (NaN if either is missing). */
export function waitMsBetween(a: SchedStat | undefined, b: SchedStat | undefined): number {
  return a === undefined || b === undefined ? Number.NaN : (b.waitNs - a.waitNs) / 1e6;
}
