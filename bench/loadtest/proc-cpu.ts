/**
 * CPU time a process (and its descendants) consumed, from Linux /proc: utime + stime of
 * /proc/<pid>/stat (fields 14 and 15, in clock ticks; all threads of the process). This is CPU time
 * actually spent, not wall time, so other processes on a shared machine do not inflate it: on a busy box
 * a process waits longer for a CPU but uses the same CPU seconds for the same work. Kamailio forks its
 * workers, so the proxy's figure walks the tree (/proc/<pid>/task/<tid>/children).
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux architecture Node supports (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS_PER_S = 100;
/** A bound on the tree walk (Kamailio 5.6 with this config runs ~15 processes). */
const MAX_PROCESSES = 256;

/** utime + stime of one process in seconds, or undefined if it is gone (or there is no /proc). */
export function processCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14 → index 11, stime field 15 → index 12.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / CLOCK_TICKS_PER_S : undefined;
  } catch {
    return undefined;
  }
}

function children(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text !== '') for (const c of text.split(' ')) out.push(Number(c));
    }
  } catch {
    // gone
  }
  return out;
}

/** CPU seconds of `pid` and every live descendant (exited children are no longer counted). */
export function processTreeCpuSeconds(pid: number): number | undefined {
  const root = processCpuSeconds(pid);
  if (root === undefined) return undefined;
  let total = root;
  const queue = children(pid);
  for (let seen = 1; queue.length > 0 && seen < MAX_PROCESSES; seen++) {
    const next = queue.shift()!;
    total += processCpuSeconds(next) ?? 0;
    queue.push(...children(next));
  }
  return total;
}
