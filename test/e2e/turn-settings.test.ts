/**
 * Issue 14, turn settings per profile, through the production wiring (startServer, dialplan files, sipp
 * calling over SIP on loopback): each profile's `turn:` reaches its provider's mock in the session setup
 * message, mapped onto that provider's own fields (OpenAI GA and beta, Azure, Gemini, Qwen-Omni, Deepgram),
 * with the interruption flags (create_response/interrupt_response) untouched; a setting a provider cannot
 * honour is a load error naming the field and the provider (GET /v1/dialplans errors); GET /v1/providers
 * lists per provider the turn settings it supports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDeepgramMock, type DeepgramMockServer } from '../support/deepgram-mock.js';
import { ephemeralPort } from '../support/free-port.js';
import { startGeminiMock } from '../support/gemini-mock.js';
import type { MockProviderServer } from '../support/mock-provider.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { startQwenMock } from '../support/qwen-mock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp } from '../support/sipp.js';

const plan = (tenant: string, number: string, agent: string): string =>
  `tenant: ${tenant}\nnumbers: ["${number}"]\nagent:\n${agent
    .trim()
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}\n`;

/** Profiles that load: one per provider/dialect, each using what that provider can honour. */
const GOOD = {
  'openai.yaml': plan(
    'oa',
    '301',
    `provider: openai
turn:
  vad: semantic_vad
  eagerness: high
  noise_reduction: far_field
  transcription: { enabled: true, language: de, model: gpt-4o-transcribe }`,
  ),
  'openai-beta.yaml': plan(
    'oab',
    '302',
    `provider: openai
barge_in: { enabled: false }
turn:
  threshold: 0.7
  silence_ms: 650
  prefix_padding_ms: 250
  noise_reduction: near_field
  transcription: { enabled: true, language: fr }`,
  ),
  'azure.yaml': plan(
    'az',
    '303',
    `provider: azure-openai
turn:
  noise_reduction: "off"
  transcription: { enabled: false }`,
  ),
  'gemini.yaml': plan(
    'gm',
    '304',
    `provider: gemini
turn:
  threshold: 0.8
  silence_ms: 700
  prefix_padding_ms: 120
  transcription: { enabled: true, language: en-US }`,
  ),
  'qwen.yaml': plan(
    'qw',
    '305',
    `provider: qwen-omni
turn:
  threshold: 0.3
  silence_ms: 900
  prefix_padding_ms: 200
  transcription: { enabled: true, model: qwen3-asr-flash-realtime }`,
  ),
  'deepgram.yaml': plan(
    'dg',
    '306',
    `provider: deepgram
turn:
  transcription: { enabled: true, language: de, model: nova-2 }`,
  ),
};

/** Profiles a provider cannot honour (or invalid on their own), with the load error each must give. */
const BAD: Record<string, { agent: string; error: string }> = {
  'x-gemini-semantic.yaml': {
    agent: 'provider: gemini\nturn: { vad: semantic_vad }',
    error: 'agent.turn.vad: semantic_vad is not supported by provider "gemini"',
  },
  'x-qwen-silence.yaml': {
    agent: 'provider: qwen-omni\nturn: { silence_ms: 100 }',
    error:
      'agent.turn.silence_ms: silence_ms 100 (accepted: 200..6000) is not supported by provider "qwen-omni"',
  },
  'x-qwen-noise.yaml': {
    agent: 'provider: qwen-omni\nturn: { noise_reduction: far_field }',
    error: 'agent.turn.noise_reduction: noise_reduction far_field is not supported by provider "qwen-omni"',
  },
  'x-gemini-asr-model.yaml': {
    agent: 'provider: gemini\nturn: { transcription: { enabled: true, model: chirp } }',
    error: 'agent.turn.transcription.model: a transcription model is not supported by provider "gemini"',
  },
  'x-deepgram-asr-off.yaml': {
    agent: 'provider: deepgram\nturn: { transcription: { enabled: false } }',
    error:
      'agent.turn.transcription.enabled: turning transcription off is not supported by provider "deepgram"',
  },
  'x-deepgram-threshold.yaml': {
    agent: 'provider: deepgram\nturn: { threshold: 0.5 }',
    error: 'agent.turn.threshold: threshold is not supported by provider "deepgram"',
  },
  'x-failover-semantic.yaml': {
    agent: 'provider: openai\nfailover: [{ provider: gemini }]\nturn: { vad: semantic_vad, eagerness: low }',
    error: 'agent.turn.vad: semantic_vad is not supported by provider "gemini" (agent.failover.0.provider)',
  },
  'x-eagerness-server.yaml': {
    agent: 'provider: openai\nturn: { eagerness: low }',
    error: 'agent.turn.eagerness: eagerness needs vad: semantic_vad',
  },
  'x-semantic-threshold.yaml': {
    agent: 'provider: openai\nturn: { vad: semantic_vad, threshold: 0.5 }',
    error: 'agent.turn.threshold: threshold needs vad: server_vad',
  },
  'x-threshold-range.yaml': {
    agent: 'provider: openai\nturn: { threshold: 1.5 }',
    error: 'agent.turn.threshold: Too big: expected number to be <=1',
  },
  'x-unknown-field.yaml': {
    agent: 'provider: openai\nturn: { vad_type: server_vad }',
    error: 'agent.turn: Unrecognized key: "vad_type"',
  },
};

describe('turn settings per profile (issue 14)', () => {
  let srv: TestServer;
  let openai: OpenAIMockServer;
  let beta: OpenAIMockServer;
  let azure: OpenAIMockServer;
  let gemini: MockProviderServer;
  let qwen: MockProviderServer;
  let deepgram: DeepgramMockServer;
  const mocks = (): MockProviderServer[] => [openai, beta, azure, gemini, qwen, deepgram];

  beforeAll(async () => {
    [openai, beta, azure, gemini, qwen, deepgram] = await Promise.all([
      startOpenAIMock({ mode: 'ga' }),
      startOpenAIMock({ mode: 'beta' }),
      startOpenAIMock({ mode: 'azure' }),
      startGeminiMock(),
      startQwenMock(),
      startDeepgramMock(),
    ]);
    const bad = Object.fromEntries(
      Object.entries(BAD).map(([file, b], i) => [file, plan(`bad${i}`, `39${i}`, b.agent)]),
    );
    srv = await startTestServer({
      logLevel: 'warn',
      dialplans: { ...GOOD, ...bad },
      credentials: [
        { tenant: 'oa', provider: 'openai', fields: { apiKey: 'sk-test', url: openai.url } },
        { tenant: 'oab', provider: 'openai', fields: { apiKey: 'sk-test', url: beta.url, beta: true } },
        {
          tenant: 'az',
          provider: 'azure-openai',
          fields: {
            apiKey: 'az-test',
            endpoint: 'https://example.openai.azure.com',
            deployment: 'gpt-realtime',
            transcriptionDeployment: 'whisper-dep',
            url: azure.url,
          },
        },
        { tenant: 'gm', provider: 'gemini', fields: { apiKey: 'gemini-test', url: gemini.url } },
        { tenant: 'qw', provider: 'qwen-omni', fields: { apiKey: 'qwen-test', url: qwen.url } },
        {
          tenant: 'dg',
          provider: 'deepgram',
          fields: { apiKey: 'dg-test', url: deepgram.url, language: 'en', listenModel: 'nova-3' },
        },
      ],
    });
  });
  afterAll(async () => {
    await srv.close();
    for (const m of mocks()) await m.close();
  });

  /** One short call to `number` with sipp's built-in uac (PCMU), so the profile's agent session is set up. */
  async function call(number: string): Promise<void> {
    const r = await runSipp({
      scenario: { builtin: 'uac' },
      target: `127.0.0.1:${srv.sipPort}`,
      localIp: '127.0.0.1',
      localPort: await ephemeralPort('127.0.0.1'),
      mediaPort: await ephemeralPort('127.0.0.1'),
      service: number,
      durationMs: 500,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
  }

  it('refuses at load every setting a provider cannot honour, naming the field and the provider', async () => {
    const res = await srv.api('GET', '/v1/dialplans');
    expect(res.status).toBe(200);
    const errors = res.json.errors as { file: string; message: string }[];
    expect(errors).toEqual(
      Object.entries(BAD)
        .map(([file, b]) => ({ file, message: `${file}: ${b.error}` }))
        .sort((a, b) => a.file.localeCompare(b.file)),
    );
    // Every good profile loaded.
    const loaded = (res.json.dialplans as { tenant: string }[]).map((d) => d.tenant).sort();
    expect(loaded).toEqual(['az', 'dg', 'gm', 'oa', 'oab', 'qw']);
  });

  it('OpenAI GA: semantic_vad with eagerness, far_field, transcription language and model', async () => {
    await call('301');
    const update = (await openai.waitForMessage('session.update')) as {
      session: { audio: { input: Record<string, unknown> } };
    };
    const input = update.session.audio.input;
    expect(input['turn_detection']).toEqual({
      type: 'semantic_vad',
      eagerness: 'high',
      // barge_in mode server (the default where the provider allows it): neither flag, as before.
      create_response: false,
      interrupt_response: false,
    });
    expect(input['noise_reduction']).toEqual({ type: 'far_field' });
    expect(input['transcription']).toEqual({ model: 'gpt-4o-transcribe', language: 'de' });
  });

  it('OpenAI beta: server_vad threshold/silence/prefix, near_field, transcription language on the credential model', async () => {
    await call('302');
    const update = (await beta.waitForMessage('session.update')) as { session: Record<string, unknown> };
    expect(update.session['turn_detection']).toEqual({
      type: 'server_vad',
      threshold: 0.7,
      prefix_padding_ms: 250,
      silence_duration_ms: 650,
      // barge_in.enabled false: the server answers but never interrupts.
      create_response: true,
      interrupt_response: false,
    });
    expect(update.session['input_audio_noise_reduction']).toEqual({ type: 'near_field' });
    expect(update.session['input_audio_transcription']).toEqual({
      model: 'gpt-4o-mini-transcribe',
      language: 'fr',
    });
  });

  it('Azure: noise reduction off is null, transcription off overrides the credential deployment', async () => {
    await call('303');
    const update = (await azure.waitForMessage('session.update')) as {
      session: { audio: { input: Record<string, unknown> } };
    };
    const input = update.session.audio.input;
    expect(input['noise_reduction']).toBeNull();
    expect('transcription' in input).toBe(false);
    expect(input['turn_detection']).toEqual({
      type: 'server_vad',
      create_response: false,
      interrupt_response: false,
    });
  });

  it('Gemini: automaticActivityDetection and the transcription language', async () => {
    await call('304');
    const { setup } = (await gemini.waitForMessage('setup')) as { setup: Record<string, any> };
    expect(setup['realtimeInputConfig'].automaticActivityDetection).toEqual({
      disabled: false,
      // threshold 0.8 ≥ 0.6: harder to trigger, i.e. low start sensitivity.
      startOfSpeechSensitivity: 'START_SENSITIVITY_LOW',
      silenceDurationMs: 700,
      prefixPaddingMs: 120,
    });
    expect(setup['inputAudioTranscription']).toEqual({ languageCodes: ['en-US'] });
  });

  it('Qwen-Omni: turn_detection server_vad and the transcription model', async () => {
    await call('305');
    const update = (await qwen.waitForMessage('session.update')) as { session: Record<string, unknown> };
    expect(update.session['turn_detection']).toEqual({
      type: 'server_vad',
      threshold: 0.3,
      prefix_padding_ms: 200,
      silence_duration_ms: 900,
    });
    expect(update.session['input_audio_transcription']).toEqual({ model: 'qwen3-asr-flash-realtime' });
  });

  it('Deepgram: the listen stage takes the transcription language and model over the credential', async () => {
    await call('306');
    await deepgram.waitForMessage('Settings');
    expect(deepgram.settings?.agent.listen).toEqual({
      provider: { type: 'deepgram', model: 'nova-2', language: 'de' },
    });
  });

  it('every mock saw only valid client messages', () => {
    for (const m of mocks()) expect(m.violations, m.slug).toEqual([]);
  });

  it('GET /v1/providers lists the turn settings each provider supports', async () => {
    const res = await srv.api('GET', '/v1/providers');
    expect(res.status).toBe(200);
    const turn = Object.fromEntries(
      (res.json.providers as { slug: string; turn?: unknown }[]).map((p) => [p.slug, p.turn]),
    );
    expect(turn['openai']).toEqual({
      vad: ['server_vad', 'semantic_vad'],
      eagerness: true,
      threshold: true,
      silenceMs: { min: 0, max: 10_000 },
      prefixPaddingMs: true,
      noiseReduction: ['near_field', 'far_field'],
      transcription: { on: true, off: true, language: true, model: true },
    });
    expect(turn['azure-openai']).toEqual(turn['openai']);
    expect(turn['gemini']).toMatchObject({
      vad: ['server_vad'],
      eagerness: false,
      noiseReduction: [],
      transcription: { on: true, off: true, language: true, model: false },
    });
    expect(turn['qwen-omni']).toMatchObject({
      vad: ['server_vad', 'semantic_vad'],
      silenceMs: { min: 200, max: 6000 },
      transcription: { on: true, off: true, language: false, model: true },
    });
    expect(turn['deepgram']).toEqual({
      vad: ['server_vad'],
      eagerness: false,
      threshold: false,
      prefixPaddingMs: false,
      noiseReduction: [],
      transcription: { on: true, off: false, language: true, model: true },
    });
  });
});
