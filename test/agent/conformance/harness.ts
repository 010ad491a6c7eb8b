/**
 * The conformance suite's per-target fixture: start the target's mock, create the adapter against it with a
 * trace-level logger that keeps every line, and after each case check what every provider must satisfy —
 * no protocol violation seen by the mock, no unhandled promise rejection, and no API key in any log line.
 */
import { Writable } from 'node:stream';
import { alaw, mulaw } from 'alawmulaw';
import { pino } from 'pino';
import { afterEach, beforeEach, expect } from 'vitest';
import type { Agent, AgentOptions } from '../../../src/agent/agent.js';
import type { AgentErrorEvent, AgentEvents, AudioFormat } from '../../../src/agent/events.js';
import type { ConformanceTarget } from '../../support/conformance-targets.js';
import type { MockProviderServer } from '../../support/mock-provider.js';

export { conformanceTargets } from '../../support/conformance-targets.js';

/** Bytes per ms of audio in `format` (G.711: 8; PCM16: rate/500). */
export function bytesPerMs(format: AudioFormat): number {
  return format.encoding === 'pcm16' ? format.sampleRateHz / 500 : 8;
}

/** A loud tone (speech for an energy VAD) or silence, `durationMs` long, encoded in `format`. */
export function makeAudio(format: AudioFormat, durationMs: number, loud: boolean): Buffer {
  const samples = Math.round((format.sampleRateHz * durationMs) / 1000);
  const pcm = new Int16Array(samples);
  if (loud) {
    for (let i = 0; i < samples; i++)
      pcm[i] = Math.round(12000 * Math.sin((2 * Math.PI * 440 * i) / format.sampleRateHz));
  }
  if (format.encoding === 'pcmu') return Buffer.from(mulaw.encode(pcm));
  if (format.encoding === 'pcma') return Buffer.from(alaw.encode(pcm));
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** Push `durationMs` of audio in 20 ms frames. */
export function pushAudio(agent: Agent, format: AudioFormat, durationMs: number, loud: boolean): void {
  for (let t = 0; t < durationMs; t += 20) agent.pushAudio(makeAudio(format, 20, loud));
}

/** A reply of `durationMs` of tone at the mock's output rate. */
export function replyPcm(mock: MockProviderServer, durationMs: number): Int16Array {
  const rate = mock.outputSampleRateHz;
  const pcm = new Int16Array(Math.round((rate * durationMs) / 1000));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * 300 * i) / rate));
  return pcm;
}

export function nextEvent<K extends keyof AgentEvents>(
  agent: Agent,
  name: K,
  predicate: (...args: AgentEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<AgentEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.off(name, listener as never);
      reject(new Error(`timed out waiting for agent event ${String(name)}`));
    }, timeoutMs);
    const listener = (...args: AgentEvents[K]): void => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      agent.off(name, listener as never);
      resolve(args);
    };
    agent.on(name, listener as never);
  });
}

export interface ConformanceContext {
  /** Start the mock and the adapter (started, listening for errors). */
  setup(extra?: Partial<AgentOptions>): Promise<{ mock: MockProviderServer; agent: Agent }>;
  /** Only the mock; the case creates its own agent with `create`. */
  startMock(): Promise<MockProviderServer>;
  create(credential: Record<string, unknown>, extra?: Partial<AgentOptions>): Agent;
  readonly errors: AgentErrorEvent[];
  /** session.open count of the current agent. */
  opened(): number;
  /** Every log line the adapter wrote in this case. */
  readonly logs: string[];
}

/** Registers the per-case hooks for `target`; call once inside its describe block. */
export function useConformance(target: ConformanceTarget): ConformanceContext {
  let mock: MockProviderServer | undefined;
  let agent: Agent | undefined;
  let opened = 0;
  const errors: AgentErrorEvent[] = [];
  const logs: string[] = [];
  const rejections: unknown[] = [];
  const keys: string[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason);
  };
  const logger = pino(
    { level: 'trace' },
    new Writable({
      write(chunk: Buffer, _enc, done) {
        logs.push(chunk.toString('utf8'));
        done();
      },
    }),
  );

  beforeEach(() => {
    process.on('unhandledRejection', onRejection);
  });

  afterEach(async () => {
    const violations = mock?.violations.slice() ?? [];
    await agent?.close();
    await mock?.close();
    // Let any rejection of the torn-down session surface before looking.
    await new Promise((r) => setTimeout(r, 20));
    process.off('unhandledRejection', onRejection);
    const leaked = keys.filter((k) => logs.some((line) => line.includes(k)));
    const unhandled = rejections.map(String);
    agent = undefined;
    mock = undefined;
    opened = 0;
    errors.length = 0;
    logs.length = 0;
    rejections.length = 0;
    keys.length = 0;
    expect(violations).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(leaked).toEqual([]);
  });

  const ctx: ConformanceContext = {
    errors,
    logs,
    opened: () => opened,
    async startMock() {
      mock = await target.startMock();
      return mock;
    },
    create(credential, extra = {}) {
      const parsed: Record<string, unknown> = target.definition.credentialSchema.parse(credential);
      if (typeof parsed.apiKey === 'string') keys.push(parsed.apiKey);
      agent = target.definition.create(
        parsed,
        {
          instructions: 'You are a test agent.',
          inputFormat: target.inputFormat,
          outputFormat: target.outputFormat,
          tools: [
            {
              name: 'lookup_order',
              description: 'Look up an order',
              parameters: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
            },
          ],
          logger,
          ...extra,
        },
        {},
      );
      agent.on('error', (e) => errors.push(e));
      agent.on('session.open', () => opened++);
      return agent;
    },
    async setup(extra = {}) {
      const m = await ctx.startMock();
      const a = ctx.create(target.credential(m.url), extra);
      await a.start();
      return { mock: m, agent: a };
    },
  };
  return ctx;
}
