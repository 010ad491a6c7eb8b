/**
 * Conformance (STYLE.md §13), session and audio: every adapter in test/support/conformance-targets.ts against
 * its own protocol-faithful mock on 127.0.0.1 port 0.
 */
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { chooseAgentFormats } from '../../../src/call/audio-bridge.js';
import { bytesPerMs, conformanceTargets, nextEvent, pushAudio, replyPcm, useConformance } from './harness.js';

describe.each(conformanceTargets)('conformance: $slug — session and audio', (target) => {
  const c = useConformance(target);

  it('start() opens and configures the session', async () => {
    const { mock } = await c.setup();
    expect(c.opened()).toBe(1);
    await mock.waitForMessage(target.setupMessage);
    expect(c.errors).toEqual([]);
    // The no-key-in-logs check after each case reads these lines: the adapter does log at trace level.
    expect(c.logs.length).toBeGreaterThan(0);
  });

  it('caller speech → user.speech.started → reply audio in the output format → turn end', async () => {
    const { mock, agent } = await c.setup();
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 1000), replyText: 'Hello there.' });
    let audioBytes = 0;
    agent.on('assistant.audio', (e) => {
      audioBytes += e.audio.length;
      expect(e.itemId).toBeTruthy();
      expect(e.responseId).toBeTruthy();
    });
    const started = nextEvent(agent, 'user.speech.started');
    const ended = nextEvent(agent, 'assistant.turn.end');
    pushAudio(agent, target.inputFormat, 600, true);
    pushAudio(agent, target.inputFormat, 1200, false);
    await started;
    const [turnEnd] = await ended;
    expect(turnEnd.status).toBe('completed');
    expect(audioBytes).toBe(1000 * bytesPerMs(target.outputFormat));
    expect(mock.audioReceivedMs()).toBeGreaterThanOrEqual(1000);
  });

  it('a G.711 call passes through without transcoding exactly when the provider takes G.711', () => {
    const caps = target.definition.capabilities;
    const codec = {
      name: target.inputFormat.encoding === 'pcma' ? ('PCMA' as const) : ('PCMU' as const),
      sampleRateHz: 8000,
    };
    const chosen = chooseAgentFormats(codec, caps);
    const g711 = (f: { encoding: string }): boolean => f.encoding === 'pcmu' || f.encoding === 'pcma';
    expect(g711(chosen.input) && g711(chosen.output)).toBe(target.g711Passthrough);
  });

  it('greet() makes the model speak first', async () => {
    const { mock, agent } = await c.setup({ greeting: 'Greet the caller.' });
    mock.enqueueTurn({ replyAudioPcm16: replyPcm(mock, 200) });
    const audio = nextEvent(agent, 'assistant.audio');
    await agent.greet();
    await audio;
    await nextEvent(agent, 'assistant.turn.end');
  });

  it('close() is idempotent and later calls fail with AGENT_CLOSED', async () => {
    const { agent } = await c.setup();
    const closed = once(agent, 'session.close');
    await agent.close();
    await agent.close();
    await closed;
    expect(() => agent.pushAudio(Buffer.alloc(160))).toThrow(
      expect.objectContaining({ code: 'AGENT_CLOSED' }),
    );
    await expect(agent.sendText('x')).rejects.toMatchObject({ code: 'AGENT_CLOSED' });
  });

  it.runIf(target.badCredential !== undefined)(
    'a rejected key fails start() with AGENT_AUTH_FAILED',
    async () => {
      const mock = await c.startMock();
      const agent = c.create(target.badCredential!(mock.url));
      await expect(agent.start()).rejects.toMatchObject({ code: 'AGENT_AUTH_FAILED' });
    },
  );
});
