/**
 * AgentOptions.history (issues 14/15): a session that continues a call (rotation, failover) starts with the
 * conversation so far, in the form each protocol accepts, before any audio or response — asserted on what
 * the protocol-faithful mocks received (their zod schemas reject malformed frames as violations).
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ConversationTurn } from '../../src/agent/agent.js';
import { echoProvider } from '../../src/agent/providers/echo/index.js';
import { geminiProvider } from '../../src/agent/providers/gemini/index.js';
import { qwenOmniProvider } from '../../src/agent/providers/qwen-omni/index.js';
import { startGeminiMock } from '../support/gemini-mock.js';
import { startQwenMock } from '../support/qwen-mock.js';
import { harness } from './providers/openai/helpers.js';

const logger = pino({ level: 'silent' });
const HISTORY: ConversationTurn[] = [
  { role: 'user', text: 'My order 42 has not arrived.' },
  { role: 'assistant', text: 'Let me check order 42 for you.' },
  { role: 'user', text: 'It was due on Monday.' },
];
const PCM16K = { encoding: 'pcm16', sampleRateHz: 16000 } as const;
const PCM24K = { encoding: 'pcm16', sampleRateHz: 24000 } as const;

describe('AgentOptions.history', () => {
  for (const mode of ['ga', 'beta'] as const) {
    it(`OpenAI ${mode}: one message item per turn, right after session.update, before any audio`, async () => {
      const h = await harness({ mock: { mode }, agent: { history: HISTORY } });
      try {
        h.agent.pushAudio(Buffer.alloc(160, 0xff));
        await h.mock.waitForMessage('input_audio_buffer.append');
        const types = h.mock.received.map((r) => r.type);
        expect(types.slice(0, 4)).toEqual([
          'session.update',
          'conversation.item.create',
          'conversation.item.create',
          'conversation.item.create',
        ]);
        const assistantType = mode === 'ga' ? 'output_text' : 'text';
        expect(h.sent('conversation.item.create').map((m) => m.item)).toEqual([
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: HISTORY[0]!.text }] },
          { type: 'message', role: 'assistant', content: [{ type: assistantType, text: HISTORY[1]!.text }] },
          { type: 'message', role: 'user', content: [{ type: 'input_text', text: HISTORY[2]!.text }] },
        ]);
        // Seeding is not a turn: nobody asked for a response.
        expect(h.sent('response.create')).toHaveLength(0);
        expect(h.mock.violations).toEqual([]);
      } finally {
        await h.close();
      }
    });
  }

  it('OpenAI: no history, no items', async () => {
    const h = await harness();
    try {
      expect(h.sent('conversation.item.create')).toHaveLength(0);
    } finally {
      await h.close();
    }
  });

  it('Gemini: one clientContent of user/model turns after setupComplete, turnComplete false', async () => {
    const mock = await startGeminiMock();
    const agent = geminiProvider.create(
      geminiProvider.credentialSchema.parse({ apiKey: 'gemini-test', url: mock.url }),
      { inputFormat: PCM16K, outputFormat: PCM24K, logger, history: HISTORY },
      {},
    );
    try {
      await agent.start();
      agent.pushAudio(new Int16Array(320));
      await mock.waitForMessage('realtimeInput');
      expect(mock.received.map((r) => r.type).slice(0, 3)).toEqual([
        'setup',
        'clientContent',
        'realtimeInput',
      ]);
      const m = (await mock.waitForMessage('clientContent')) as { clientContent: unknown };
      expect(m.clientContent).toEqual({
        turns: [
          { role: 'user', parts: [{ text: HISTORY[0]!.text }] },
          { role: 'model', parts: [{ text: HISTORY[1]!.text }] },
          { role: 'user', parts: [{ text: HISTORY[2]!.text }] },
        ],
        turnComplete: false,
      });
      expect(mock.violations).toEqual([]);
    } finally {
      await agent.close();
      await mock.close();
    }
  });

  it('Qwen-Omni: the turns go into the session instructions (no documented message item)', async () => {
    const mock = await startQwenMock();
    const agent = qwenOmniProvider.create(
      qwenOmniProvider.credentialSchema.parse({ apiKey: 'qwen-test', url: mock.url }),
      { inputFormat: PCM16K, outputFormat: PCM24K, logger, instructions: 'Be brief.', history: HISTORY },
      {},
    );
    try {
      await agent.start();
      const update = (await mock.waitForMessage('session.update')) as { session: { instructions: string } };
      expect(update.session.instructions).toBe(
        'Be brief.\n\nThis call continues a conversation already in progress; do not greet the caller again.\n' +
          'Conversation so far:\nCaller: My order 42 has not arrived.\nYou: Let me check order 42 for you.\n' +
          'Caller: It was due on Monday.',
      );
      expect(mock.received.some((r) => r.type === 'conversation.item.create')).toBe(false);
      expect(mock.violations).toEqual([]);
    } finally {
      await agent.close();
      await mock.close();
    }
  });

  it('echo ignores it', async () => {
    const fmt = { encoding: 'pcm16', sampleRateHz: 8000 } as const;
    const agent = echoProvider.create(
      {},
      { inputFormat: fmt, outputFormat: fmt, logger, history: HISTORY },
      {},
    );
    await agent.start();
    await agent.close();
  });
});
