import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmsDbfs } from '../../src/media/dsp/level.js';
import { Softphone } from '../../src/softphone/softphone.js';
import { startTestServer, type TestServer } from '../support/server.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/audio/${name}`, import.meta.url));

describe('a call to the echo agent (default dialplan shape)', () => {
  let srv: TestServer;
  let phone: Softphone;
  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: {
        'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
      },
    });
    phone = new Softphone({ logger: pino({ level: 'silent' }), rtpPortMin: 44000, rtpPortMax: 44199 });
    await phone.start();
  });
  afterAll(async () => {
    await phone.close();
    await srv.close();
  });

  it('hears the caller and plays the utterance back after the turn ends', async () => {
    const result = await phone.call(srv.uri('100'), {
      playPath: fixture('caller-billing-question.wav'),
      durationMs: 11_000,
    });
    expect(result.codec).toBe('PCMU');
    const rate = result.sampleRateHz;
    const ms = (t: number): number => Math.round((t * rate) / 1000);
    // The caller speaks for ~4.6 s; the echo starts after the VAD's silence window and lasts as long.
    expect(rmsDbfs(result.received, ms(1000), ms(4000))).toBeLessThan(-60);
    const echoed = rmsDbfs(result.received, ms(5500), ms(9500));
    expect(echoed).toBeGreaterThan(-35);
    expect(result.endedBy).toBe('local');
  });

  it('exposes call and media-clock metrics', async () => {
    const res = await fetch(`${srv.baseUrl}/metrics`, {
      headers: { authorization: `Bearer ${srv.adminToken}` },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    // Every series carries the instance label (issue 12), after the metric's own labels.
    const ticks = /switchboard_media_ticks\{kind="run",instance="[^"]+"\} (\d+)/.exec(text);
    expect(Number(ticks?.[1])).toBeGreaterThan(100);
    expect(text).toMatch(/switchboard_media_tick_lateness_ms\{quantile="0\.99",instance="[^"]+"\} [\d.]+/);
    expect(text).toMatch(/switchboard_calls_total\{reason="[a-z-]+",instance="[^"]+"\} 1/);
  });

  it('hangs up when the caller presses # (echo asks end_call)', async () => {
    const result = await phone.call(srv.uri('100'), { dtmf: '#', dtmfDelayMs: 300, durationMs: 8000 });
    expect(result.endedBy).toBe('remote');
  });

  it('answers 404 for numbers no dialplan routes', async () => {
    const other = await startTestServer({
      dialplans: { 'a.yaml': 'tenant: a\nnumbers: ["200"]\nagent: { provider: echo }\n' },
    });
    try {
      await expect(phone.call(other.uri('999'), { durationMs: 1000 })).rejects.toMatchObject({ status: 404 });
    } finally {
      await other.close();
    }
  });
});
