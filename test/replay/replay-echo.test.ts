/**
 * Replaying a recording made with the local `echo` agent, the one a newcomer can make without a provider key
 * (issue 19): the production server records a softphone call (speech, the echo's answer, then `#`, which
 * makes the echo agent end the call), and both replay modes reproduce it — the echo agent answering again,
 * the recorded DTMF sent again — instead of failing or sitting through the idle timeout. A `--fast` replay
 * that matches leaves no temporary recording behind.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadRecording } from '../../src/agent/providers/replay/index.js';
import { recordedDtmf, replayFast } from '../../src/replay/fast.js';
import { formatOutcome, outcomeOfRecording } from '../../src/replay/outcome.js';
import { replayOverSip } from '../../src/replay/sip.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { startTestServer, type TestServer } from '../support/server.js';

const logger = pino({ level: 'silent' });
const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url));

async function findRecording(dir: string): Promise<string> {
  for (const tenant of await readdir(dir)) {
    for (const call of await readdir(join(dir, tenant))) return join(dir, tenant, call);
  }
  throw new Error(`no recording in ${dir}`);
}

/** Temp directories of fast replays that hold a recording of `callId`'s replay. */
async function leftovers(callId: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(tmpdir())).filter((n) => n.startsWith('sb-replay-'))) {
    const sub = await readdir(join(tmpdir(), name), { recursive: true }).catch(() => []);
    for (const f of sub.filter((p) => String(p).endsWith('call.json'))) {
      const meta = await readFile(join(tmpdir(), name, String(f)), 'utf8').catch(() => '');
      if (meta.includes(`replay-${callId}`)) out.push(join(tmpdir(), name));
    }
  }
  return out;
}

describe('replay of an echo-agent recording with DTMF', { timeout: 90_000 }, () => {
  let srv: TestServer;
  let dir: string;
  let recordings: string;
  beforeAll(async () => {
    recordings = await mkdtemp(join(tmpdir(), 'sb-echo-rec-'));
    srv = await startTestServer({
      recordingsDir: recordings,
      dialplans: {
        'demo.yaml':
          'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, record: true, tools: { end_call: {} } }\n',
      },
    });
    const phone = new Softphone({ logger, rtpPortMin: 46200, rtpPortMax: 46299 });
    await phone.start();
    try {
      // The caller speaks ~4.6 s, the echo answers after its silence window; `#` at 11 s ends the call.
      const result = await phone.call(srv.uri('100'), {
        playPath: fixture('caller-billing-question.wav'),
        dtmf: '#',
        dtmfDelayMs: 11_000,
        durationMs: 20_000,
      });
      expect(result.endedBy).toBe('remote');
    } finally {
      await phone.close();
    }
    await srv.close();
    dir = await findRecording(recordings);
  }, 60_000);
  afterAll(async () => {
    await srv?.close();
    await rm(recordings, { recursive: true, force: true });
  });

  it('the recording holds the digit and an echo answer, and ends with the agent hanging up', async () => {
    const rec = await loadRecording(dir);
    expect(rec.meta.provider).toBe('echo');
    expect(recordedDtmf(rec).map((d) => d.digit)).toEqual(['#']);
    const outcome = outcomeOfRecording(rec);
    expect(outcome.ending, formatOutcome(outcome)).not.toBe('caller-bye');
    expect(outcome.agentAudioMs.reduce((a, b) => a + b, 0)).toBeGreaterThan(1000);
  });

  it('--fast: matches, and leaves no temporary recording', async () => {
    const rec = await loadRecording(dir);
    const r = await replayFast(dir, { logger });
    expect(r.diff, `${r.diff.join('\n')}\n${formatOutcome(r.expected)}\n${formatOutcome(r.actual)}`).toEqual(
      [],
    );
    expect(r.actual.ending).toBe(r.expected.ending);
    expect(r.replayRecording).toBe('');
    expect(await leftovers(rec.meta.callId)).toEqual([]);
  });

  it('over SIP: matches (the digit is sent again, so the agent ends the call as it did)', async () => {
    const r = await replayOverSip(dir, { logger });
    expect(r.diff, `${r.diff.join('\n')}\n${formatOutcome(r.expected)}\n${formatOutcome(r.actual)}`).toEqual(
      [],
    );
    expect(r.actual.ending).toBe(r.expected.ending);
  });
});
