/** Shared setup for the OpenAI adapter tests: an adapter against the local OpenAI mock. */
import { alaw, mulaw } from 'alawmulaw';
import { pino } from 'pino';
import type { Agent, AgentOptions } from '../../../../src/agent/agent.js';
import type { AgentErrorEvent, AgentEvents, AudioFormat } from '../../../../src/agent/events.js';
import { azureOpenaiProvider } from '../../../../src/agent/providers/azure-openai/index.js';
import { openaiProvider } from '../../../../src/agent/providers/openai/index.js';
import {
  startOpenAIMock,
  type OpenAIMockOptions,
  type OpenAIMockServer,
} from '../../../support/openai-mock.js';

export const PCMU: AudioFormat = { encoding: 'pcmu', sampleRateHz: 8000 };
export const PCMA: AudioFormat = { encoding: 'pcma', sampleRateHz: 8000 };
export const PCM24: AudioFormat = { encoding: 'pcm16', sampleRateHz: 24000 };

export interface Harness {
  readonly mock: OpenAIMockServer;
  readonly agent: Agent;
  readonly errors: AgentErrorEvent[];
  readonly tap: { direction: 'in' | 'out'; message: any }[];
  /** Client messages of `type` the mock received. */
  sent(type: string): any[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly mock?: OpenAIMockOptions;
  readonly credential?: Record<string, unknown>;
  readonly agent?: Partial<AgentOptions>;
  readonly start?: boolean;
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const mock = await startOpenAIMock(opts.mock);
  const tap: Harness['tap'] = [];
  const options: AgentOptions = {
    instructions: 'You are a test agent.',
    inputFormat: PCMU,
    outputFormat: PCMU,
    logger: pino({ level: 'silent' }),
    wireTap: (direction, message) => tap.push({ direction, message }),
    ...opts.agent,
  };
  const azure = opts.mock?.mode === 'azure' || opts.mock?.mode === 'azure-preview';
  const agent = azure
    ? azureOpenaiProvider.create(
        azureOpenaiProvider.credentialSchema.parse({
          apiKey: 'az-test',
          endpoint: 'https://example.openai.azure.com',
          deployment: 'my-realtime',
          url: mock.url,
          ...opts.credential,
        }),
        options,
        {},
      )
    : openaiProvider.create(
        openaiProvider.credentialSchema.parse({
          apiKey: 'sk-test',
          url: mock.url,
          beta: opts.mock?.mode === 'beta',
          ...opts.credential,
        }),
        options,
        {},
      );
  const errors: AgentErrorEvent[] = [];
  agent.on('error', (e) => errors.push(e));
  if (opts.start !== false) await agent.start();
  return {
    mock,
    agent,
    errors,
    tap,
    sent: (type) => mock.received.filter((r) => r.type === type).map((r) => r.message),
    close: async () => {
      await agent.close();
      await mock.close();
    },
  };
}

export function nextEvent<K extends keyof AgentEvents>(
  agent: Agent,
  name: K,
  predicate: (...args: AgentEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<AgentEvents[K][0]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      agent.off(name, listener as never);
      reject(new Error(`timed out waiting for ${String(name)}`));
    }, timeoutMs);
    const listener = (...args: AgentEvents[K]): void => {
      if (!predicate(...args)) return;
      clearTimeout(timer);
      agent.off(name, listener as never);
      resolve(args[0]);
    };
    agent.on(name, listener as never);
  });
}

export function tone(sampleRateHz: number, durationMs: number, amplitude = 12000, hz = 440): Int16Array {
  const pcm = new Int16Array(Math.round((sampleRateHz * durationMs) / 1000));
  for (let i = 0; i < pcm.length; i++)
    pcm[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRateHz));
  return pcm;
}

export function encode(format: AudioFormat, pcm: Int16Array): Buffer {
  if (format.encoding === 'pcmu') return Buffer.from(mulaw.encode(pcm));
  if (format.encoding === 'pcma') return Buffer.from(alaw.encode(pcm));
  return Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
}

/** Push `durationMs` of speech (tone) or silence in 20 ms frames. */
export function pushAudio(agent: Agent, format: AudioFormat, durationMs: number, loud: boolean): void {
  const frame = encode(format, tone(format.sampleRateHz, 20, loud ? 12000 : 0));
  for (let t = 0; t < durationMs; t += 20) agent.pushAudio(frame);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
