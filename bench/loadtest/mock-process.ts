/** The OpenAI load mock (openai-mock-main.ts) as a child process: its URL on start, its stats on request. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { LoadMockStats } from './openai-load-mock.js';

export interface MockProcess {
  readonly url: string;
  stats(): Promise<LoadMockStats | undefined>;
  stop(): void;
}

export async function startMock(mainPath: string, apiKey: string): Promise<MockProcess> {
  const child: ChildProcess = spawn(process.execPath, [mainPath, apiKey], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting: Array<(line: unknown) => void> = [];
  lines.on('line', (line) => {
    try {
      waiting.shift()?.(JSON.parse(line));
    } catch {
      // not ours
    }
  });
  const next = (timeoutMs: number): Promise<unknown> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      waiting.push((v) => {
        clearTimeout(timer);
        resolve(v);
      });
    });
  const hello = (await next(10_000)) as { url?: string } | undefined;
  if (hello?.url === undefined) {
    child.kill('SIGKILL');
    throw new Error('OpenAI load mock did not start');
  }
  return {
    url: hello.url,
    async stats() {
      child.stdin?.write('stats\n');
      const r = (await next(5_000)) as { stats?: LoadMockStats } | undefined;
      return r?.stats;
    },
    stop() {
      child.stdin?.end();
      setTimeout(() => child.kill('SIGKILL'), 3_000).unref();
    },
  };
}
