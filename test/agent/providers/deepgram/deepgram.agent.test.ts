/**
 * Deepgram adapter behaviour beyond the conformance suite, against test/support/deepgram-mock.ts: the Settings
 * mapping, KeepAlive while no audio flows, Error as a fatal provider error, the mock's idle timeout and input
 * validation, conversation history on start and after a reconnect, and the GET /v1/providers entry.
 */
import { once } from 'node:events';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { AgentOptions } from '../../../../src/agent/agent.js';
import { createDefaultRegistry } from '../../../../src/agent/default-registry.js';
import type { AgentErrorEvent } from '../../../../src/agent/events.js';
import { DeepgramAgent, type DeepgramCredential } from '../../../../src/agent/providers/deepgram/index.js';
import { startDeepgramMock, type DeepgramMockServer } from '../../../support/deepgram-mock.js';

const PCMU = { encoding: 'pcmu', sampleRateHz: 8000 } as const;

describe('deepgram adapter', () => {
  let mock: DeepgramMockServer | undefined;
  let agent: DeepgramAgent | undefined;
  const errors: AgentErrorEvent[] = [];

  async function start(
    extra: Partial<AgentOptions> = {},
    credential: Partial<DeepgramCredential> = {},
    keepAliveMs?: number,
    mockOptions: Parameters<typeof startDeepgramMock>[0] = {},
  ): Promise<{ mock: DeepgramMockServer; agent: DeepgramAgent }> {
    mock = await startDeepgramMock(mockOptions);
    agent = new DeepgramAgent(
      { apiKey: 'dg-test', url: mock.url, ...credential },
      { inputFormat: PCMU, outputFormat: PCMU, logger: pino({ level: 'silent' }), ...extra },
      {},
      keepAliveMs === undefined ? {} : { keepAliveMs },
    );
    agent.on('error', (e) => errors.push(e));
    await agent.start();
    return { mock, agent };
  }

  afterEach(async () => {
    await agent?.close();
    await mock?.close();
    const violations = mock?.violations.slice() ?? [];
    agent = undefined;
    mock = undefined;
    errors.length = 0;
    expect(violations).toEqual([]);
  });

  it('maps profile model/voice/instructions/temperature/tools and credential fields onto Settings', async () => {
    const { mock } = await start(
      {
        model: 'claude-3-5-haiku-latest',
        voice: 'aura-2-luna-en',
        instructions: 'Be brief.',
        temperature: 0.4,
        tools: [{ name: 'end_call', description: 'Hang up', parameters: { type: 'object', properties: {} } }],
      },
      { thinkProvider: 'anthropic', listenModel: 'nova-2-phonecall', language: 'de' },
    );
    expect(mock.settings).toEqual({
      type: 'Settings',
      audio: {
        input: { encoding: 'mulaw', sample_rate: 8000 },
        output: { encoding: 'mulaw', sample_rate: 8000, container: 'none' },
      },
      agent: {
        listen: { provider: { type: 'deepgram', model: 'nova-2-phonecall', language: 'de' } },
        think: {
          provider: { type: 'anthropic', model: 'claude-3-5-haiku-latest', temperature: 0.4 },
          prompt: 'Be brief.',
          functions: [
            { name: 'end_call', description: 'Hang up', parameters: { type: 'object', properties: {} } },
          ],
        },
        speak: { provider: { type: 'deepgram', model: 'aura-2-luna-en' } },
      },
    });
  });

  it('sends KeepAlive as a text frame only while no audio flows', async () => {
    const { mock, agent } = await start({}, {}, 100);
    const keepAlives = (): number => mock.received.filter((r) => r.type === 'KeepAlive').length;
    // 600 ms of audio in 20 ms frames, pushed at 20 ms intervals: the socket is never quiet for 100 ms.
    for (let i = 0; i < 30; i++) {
      agent.pushAudio(Buffer.alloc(160, 0xff));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(keepAlives()).toBe(0);
    await mock.waitForMessage('KeepAlive', () => true, 2000);
    await new Promise((r) => setTimeout(r, 450));
    // ≥ 2 more in 450 ms at a 100 ms period (checked every 25 ms): quiet stretches stay ≤ 125 ms.
    expect(keepAlives()).toBeGreaterThanOrEqual(3);
  });

  it('Error is fatal: a provider error event with its code, then the session closes', async () => {
    const { mock, agent } = await start();
    const closed = new Promise((resolve) => agent.once('session.close', resolve));
    mock.sendFatalError('INTERNAL_SERVER_ERROR');
    await closed;
    expect(errors).toEqual([
      expect.objectContaining({
        code: 'AGENT_PROVIDER_ERROR',
        fatal: true,
        retryable: true,
        providerCode: 'INTERNAL_SERVER_ERROR',
      }),
    ]);
  });

  it('the mock closes an idle session with CLIENT_MESSAGE_TIMEOUT (no audio, KeepAlive off)', async () => {
    const { agent } = await start({}, {}, 60_000, { idleTimeoutMs: 300 });
    const closed = new Promise((resolve) => agent.once('session.close', resolve));
    await closed;
    expect(errors[0]).toMatchObject({ fatal: true, providerCode: 'CLIENT_MESSAGE_TIMEOUT' });
  });

  it('with KeepAlive on, the same idle session stays up past the timeout', async () => {
    await start({}, {}, 100, { idleTimeoutMs: 300 });
    await new Promise((r) => setTimeout(r, 900));
    expect(errors).toEqual([]);
  });

  it('seeds options.history, and after a dropped socket re-sends the turns seen so far', async () => {
    const { mock, agent } = await start({
      history: [
        { role: 'user', text: 'My order is 42.' },
        { role: 'assistant', text: 'Thanks, one moment.' },
      ],
    });
    expect(mock.settings?.agent.context?.messages).toEqual([
      { type: 'History', role: 'user', content: 'My order is 42.' },
      { type: 'History', role: 'assistant', content: 'Thanks, one moment.' },
    ]);
    mock.enqueueTurn({ replyAudioPcm16: new Int16Array(800), replyText: 'It shipped.' });
    const turn = once(agent, 'assistant.turn.end');
    await agent.sendText('Where is it?');
    await turn;
    mock.dropConnection();
    await mock.waitForMessage(
      'Settings',
      () => mock.received.filter((r) => r.type === 'Settings').length > 1,
      10_000,
    );
    expect(mock.settings?.agent.context?.messages.map((m) => m.content)).toEqual([
      'My order is 42.',
      'Thanks, one moment.',
      'Where is it?',
      'It shipped.',
    ]);
    expect(errors.map((e) => [e.code, e.fatal])).toEqual([['AGENT_CONNECTION_LOST', false]]);
  });

  it('the mock rejects audio before Settings and non-JSON text with Error and a close', async () => {
    const own = await startDeepgramMock();
    for (const bad of [Buffer.alloc(160, 0xff), 'not json']) {
      const ws = new WebSocket(own.url, { headers: { Authorization: 'Token dg-test' } });
      const messages: Array<{ type: string; code?: string }> = [];
      ws.on('message', (d: Buffer, isBinary: boolean) => {
        if (!isBinary) messages.push(JSON.parse(d.toString('utf8')) as { type: string });
      });
      await once(ws, 'open');
      await new Promise((r) => setTimeout(r, 20));
      ws.send(bad, { binary: typeof bad !== 'string' });
      await once(ws, 'close');
      expect(messages.map((m) => m.type)).toEqual(['Welcome', 'Error']);
      expect(messages[1]?.code).toBe(
        typeof bad === 'string' ? 'UNPARSABLE_CLIENT_MESSAGE' : 'SETTINGS_REQUIRED',
      );
    }
    expect(own.violations).toHaveLength(2);
    await own.close();
  });

  it('is listed in GET /v1/providers with its credential fields, the key secret', () => {
    const dg = createDefaultRegistry()
      .providers()
      .find((p) => p.slug === 'deepgram');
    expect(dg?.credentialFields).toEqual([
      { name: 'apiKey', required: true, secret: true },
      { name: 'url', required: false, secret: false },
      { name: 'thinkProvider', required: false, secret: false },
      { name: 'listenModel', required: false, secret: false },
      { name: 'language', required: false, secret: false },
    ]);
  });
});
