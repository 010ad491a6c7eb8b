/**
 * A long-running peer process (linphonec, kamailio) whose output a test waits on: stdout and stderr are
 * kept as one bounded transcript, `waitFor(pattern)` resolves on the first matching line written after a
 * given mark, and `stop()` ends the process by its own pid (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface PeerProcessOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Transcript characters kept (oldest dropped first). */
  readonly maxOutputChars?: number;
}

/** Raised when a peer does not print what a test waits for (the message carries the transcript tail). */
export class PeerTimeoutError extends Error {
  override readonly name = 'PeerTimeoutError';
}

interface Waiter {
  readonly pattern: RegExp;
  readonly from: number;
  readonly resolve: (match: RegExpExecArray) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class PeerProcess {
  readonly #child: ChildProcess;
  readonly #label: string;
  readonly #max: number;
  #output = '';
  /** Characters dropped from the front of #output (marks stay absolute). */
  #dropped = 0;
  #waiters: Waiter[] = [];
  #exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;

  constructor(options: PeerProcessOptions) {
    this.#label = options.command;
    this.#max = options.maxOutputChars ?? 400_000;
    this.#child = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child.stdout?.on('data', (d: Buffer) => this.#append(d.toString('utf8')));
    this.#child.stderr?.on('data', (d: Buffer) => this.#append(d.toString('utf8')));
    // A peer that quits early must not leave a write pending on a closed pipe.
    this.#child.stdin?.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.#child.on('error', (err) => {
        this.#append(`\n[spawn error: ${err.message}]\n`);
        this.#exitCode = null;
        resolve(null);
      });
      this.#child.on('close', (code) => {
        this.#exitCode = code;
        resolve(code);
      });
    });
    void this.exited.then((code) => {
      for (const w of this.#waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(new PeerTimeoutError(`${this.#label} exited (${code}) before ${w.pattern}\n${this.tail()}`));
      }
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Position in the transcript; pass it to `waitFor` to match only what is printed afterwards. */
  mark(): number {
    return this.#dropped + this.#output.length;
  }

  /** The whole kept transcript, or what was printed since `from`. */
  output(from = 0): string {
    return this.#output.slice(Math.max(0, from - this.#dropped));
  }

  tail(chars = 4000): string {
    return this.#output.slice(-chars);
  }

  /** Writes one line to the peer's stdin. */
  send(line: string): void {
    this.#child.stdin?.write(`${line}\n`);
  }

  /** Writes `text` to the peer's stdin as it is (no newline added). */
  write(text: string): void {
    this.#child.stdin?.write(text);
  }

  /** Closes the peer's stdin (end of input: a peer that quits on EOF flushes what it was given first). */
  endInput(): void {
    this.#child.stdin?.end();
  }

  /** Resolves with the first match of `pattern` in the transcript after `from`; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    const found = this.#search(pattern, from);
    if (found) return Promise.resolve(found);
    if (!this.running) {
      return Promise.reject(
        new PeerTimeoutError(`${this.#label} is not running: ${pattern}\n${this.tail()}`),
      );
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        pattern,
        from,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(
            new PeerTimeoutError(`${this.#label}: no ${pattern} within ${timeoutMs} ms\n${this.tail()}`),
          );
        }, timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. Resolves with the exit code. */
  async stop(graceMs = 3000): Promise<number | null> {
    if (this.running) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return await this.exited;
  }

  #search(pattern: RegExp, from: number): RegExpExecArray | null {
    const flags = pattern.flags.includes('m') ? pattern.flags : `${pattern.flags}m`;
    return new RegExp(pattern.source, flags.replace('g', '')).exec(this.output(from));
  }

  #append(text: string): void {
    this.#output += text;
    if (this.#output.length > this.#max) {
      const cut = this.#output.length - this.#max;
      this.#output = this.#output.slice(cut);
      this.#dropped += cut;
    }
    for (const w of [...this.#waiters]) {
      const found = this.#search(w.pattern, w.from);
      if (found) {
        clearTimeout(w.timer);
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(found);
      }
    }
  }
}
