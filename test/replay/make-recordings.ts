/**
 * Produces test/recordings/: four short calls through the real server (embedded SIP, RTP, CallSession,
 * the OpenAI adapter) against the protocol-faithful OpenAI mock with scripted turns, recorded by the
 * server's CallRecorder. Run: MAKE_RECORDINGS=1 node_modules/.bin/vitest run test/replay/make-recordings.test.ts
 */
import { cp, mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { readWavFile } from '../../src/media/wav.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { startOpenAIMock } from '../support/openai-mock.js';
import type { MockTurn } from '../support/mock-provider.js';
import { startTestServer } from '../support/server.js';

export const RECORDINGS_DIR = fileURLToPath(new URL('../recordings/', import.meta.url));
const fixture = (name: string): Int16Array =>
  readWavFile(fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url))).samples;

/** A fixture cut to [fromMs, toMs) (a phrase without the long pauses the mock's 300 ms VAD splits at). */
export type Clip = readonly [name: string, fromMs: number, toMs: number];

/** Caller audio at 8 kHz: fixture clips and gaps of silence (ms). */
export function callerAudio(parts: ReadonlyArray<Clip | number>): Int16Array {
  const chunks = parts.map((p) =>
    typeof p === 'number' ? new Int16Array((p * 8000) / 1000) : fixture(p[0]).subarray(p[1] * 8, p[2] * 8),
  );
  const out = new Int16Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Agent reply audio at 24 kHz, cut to `ms`. */
const reply = (name: string, ms: number): Int16Array => fixture(name).subarray(0, (ms * 24000) / 1000);

export interface Scenario {
  readonly name: string;
  readonly profile: string;
  readonly caller: ReadonlyArray<Clip | number>;
  readonly turns: readonly MockTurn[];
  /** The caller hangs up after this long; undefined: wait for the server to end the call. */
  readonly hangupAfterMs?: number;
}

export const BILLING: Clip = ['caller-billing-question.wav', 0, 2750];
export const INTERRUPT: Clip = ['caller-interrupt.wav', 0, 1700];

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'billing-answered',
    profile: '{ provider: openai, record: true, tools: { end_call: {} } }',
    caller: [300, BILLING, 3500],
    turns: [
      {
        replyAudioPcm16: reply('agent-long-answer.wav', 2500),
        replyText: 'Sure. Your last bill included a one time activation fee.',
      },
    ],
    hangupAfterMs: 6500,
  },
  {
    name: 'interruption',
    profile: '{ provider: openai, record: true, tools: { end_call: {} } }',
    caller: [300, BILLING, 1800, INTERRUPT, 2500],
    turns: [
      {
        replyAudioPcm16: reply('agent-long-answer.wav', 9000),
        replyText: 'Sure. Your last bill included a one time activation fee of twenty dollars, and more.',
      },
      { replyAudioPcm16: reply('agent-goodbye.wav', 1500), replyText: 'You are welcome.' },
    ],
    hangupAfterMs: 9000,
  },
  {
    name: 'transfer',
    profile:
      '{ provider: openai, record: true, tools: { transfer_call: { targets: { billing: "sip:billing@127.0.0.1:5999" } } } }',
    caller: [300, ['caller-transfer-request.wav', 0, 3250], 3500],
    turns: [
      {
        toolCall: { name: 'transfer_call', args: { destination: 'billing' } },
        replyAudioPcm16: reply('agent-transfer-confirm.wav', 2000),
        replyText: 'Okay, I am transferring you to our billing team now.',
      },
    ],
    hangupAfterMs: 7000,
  },
  {
    name: 'goodbye-hangup',
    profile: '{ provider: openai, record: true, tools: { end_call: {} } }',
    caller: [300, ['caller-goodbye.wav', 1900, 3587], 6000],
    turns: [
      {
        toolCall: { name: 'end_call', args: { reason: 'caller said goodbye' } },
        replyAudioPcm16: reply('agent-goodbye.wav', 2500),
        replyText: 'You are welcome. Have a great day. Goodbye.',
      },
    ],
  },
];

export async function waitForClosedRecording(dir: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const calls = await readdir(dir).catch(() => [] as string[]);
    for (const c of calls) {
      const meta = await readFile(join(dir, c, 'call.json'), 'utf8').catch(() => '');
      if (meta !== '' && (JSON.parse(meta) as { endedAt: string | null }).endedAt !== null)
        return join(dir, c);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no closed recording in ${dir}`);
}

/** Records every scenario (or those named) into `outDir/<name>/`. */
export async function makeRecordings(outDir = RECORDINGS_DIR, only?: readonly string[]): Promise<string[]> {
  const made: string[] = [];
  const logger = pino({ level: 'silent' });
  for (const s of SCENARIOS.filter((x) => only === undefined || only.includes(x.name))) {
    const mock = await startOpenAIMock({ speedFactor: 10, chunkMs: 100 });
    const srv = await startTestServer({
      dialplans: { 'acme.yaml': `tenant: acme\nnumbers: ["*"]\nagent: ${s.profile}\n` },
      credentials: [{ tenant: 'acme', provider: 'openai', fields: { apiKey: 'sk-test', url: mock.url } }],
      logLevel: 'warn',
    });
    const phone = new Softphone({ logger, rtpPortMin: 45000, rtpPortMax: 45199 });
    await phone.start();
    try {
      for (const t of s.turns) mock.enqueueTurn(t);
      await phone.call(srv.uri('100'), {
        playPcm8k: callerAudio(s.caller),
        codecs: ['PCMU'],
        durationMs: s.hangupAfterMs ?? 20_000,
      });
      // Recordings are stored per tenant: RECORDINGS_DIR/<tenant>/<callId>/.
      const recorded = await waitForClosedRecording(join(srv.recordingsDir, 'acme'));
      const target = join(outDir, s.name);
      await rm(target, { recursive: true, force: true });
      await mkdir(target, { recursive: true });
      for (const f of ['call.json', 'audio.wav', 'events.jsonl'])
        await cp(join(recorded, f), join(target, f));
      made.push(target);
    } finally {
      await phone.close();
      await srv.close();
      await mock.close();
    }
  }
  return made;
}
