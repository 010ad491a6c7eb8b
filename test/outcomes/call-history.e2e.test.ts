/**
 * Issue 16 acceptance: every call leaves a CDR and a transcript in the call history, over both stores (the
 * file store and real Redis at 127.0.0.1:6379, keys under a unique prefix). A real SIP call (softphone, PCMU)
 * to the production server with the OpenAI Realtime mock: the caller asks a question, the agent's long
 * answer is cut by a barge-in, the agent presses a key (send_dtmf), the caller hangs up. Then the history
 * over HTTP: the CDR, the transcript (and transcript.json in the recording), paging through 25 more records
 * with since/until and the cursor, tenant isolation with tenant keys, bad parameters and retention.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BargeInDecision } from '../../src/call/barge-in.js';
import type { CallDetailRecord, CallRecord } from '../../src/outcomes/index.js';
import { fakeCallRecord } from '../support/fake-cdrs.js';
import type { Softphone } from '../../src/softphone/softphone.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { eventually } from '../support/eventually.js';
import { clearRedisPrefix } from '../support/redis-keys.js';
import { startTestServer, type TestServer } from '../support/server.js';
import {
  closePhone,
  fixturePcm,
  liveCall,
  report,
  runBargeInCall,
  silentTurn,
  startPhone,
  type BargeInMeasurement,
} from '../e2e/call-harness.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const FRAME_MS = 20;
const DAY_MS = 86_400_000;
const PRICES = {
  currency: 'USD',
  providers: {
    openai: { '*': { per_minute: 0.06, input_tokens_per_million: 5, output_tokens_per_million: 20 } },
  },
};

describe.each([
  { store: 'file', portMin: 45300 },
  { store: 'redis', portMin: 45400 },
])('call history on the $store store', ({ store, portMin }) => {
  const prefix = `sbtest:cdr:${randomBytes(4).toString('hex')}:`;
  let mock: OpenAIMockServer;
  let srv: TestServer;
  let phone: Softphone;
  let m: BargeInMeasurement;
  let callId: string;
  let from: string;
  let decisions: BargeInDecision[];
  let acmeKey: string;
  let globexKey: string;
  let pricesFile: string;
  let liveSeen: { state: string; turns: { role: string; text: string }[] } | undefined;

  beforeAll(async () => {
    mock = await startOpenAIMock({ mode: 'ga' });
    pricesFile = join(tmpdir(), `prices-${randomBytes(4).toString('hex')}.json`);
    await writeFile(pricesFile, JSON.stringify(PRICES));
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: {
        'acme.yaml': [
          'tenant: acme',
          'numbers: ["*"]',
          'agent:',
          '  provider: openai',
          '  barge_in: { enabled: true }',
          '  tools: { send_dtmf: {} }',
          '  record: true',
        ].join('\n'),
        'globex.yaml': ['tenant: globex', 'numbers: ["200"]', 'agent:', '  provider: echo'].join('\n'),
      },
      env: {
        PRICES_FILE: pricesFile,
        ...(store === 'redis' ? { REDIS_URL, MASTER_KEY: randomBytes(32).toString('base64') } : {}),
      },
      ...(store === 'redis' ? { redisKeyPrefix: prefix } : {}),
    });
    await srv.server.store.putCredential('acme', 'openai', { apiKey: 'sk-test', url: mock.url });
    phone = await startPhone(portMin);
    acmeKey = (await srv.api('POST', '/v1/tenants/acme/keys')).json.token;
    globexKey = (await srv.api('POST', '/v1/tenants/globex/keys')).json.token;

    // The billing question is two turns for the mock's VAD: a silent reply, then the long answer the caller
    // interrupts; the interrupt's first turn gets a send_dtmf call, the rest silent replies.
    for (const t of ['I have a question', 'about my last bill', 'stop, press one', 'thanks'])
      mock.enqueueCallerTranscript(t);
    mock.enqueueTurn(silentTurn);
    mock.enqueueTurn({
      replyAudioPcm16: fixturePcm('agent-long-answer.wav'),
      replyText: 'Sure. Your last bill',
    });
    mock.enqueueTurn({
      replyAudioPcm16: new Int16Array(0),
      toolCall: { name: 'send_dtmf', args: { digits: '1' } },
    });
    for (let i = 0; i < 4; i++) mock.enqueueTurn(silentTurn);
    decisions = [];
    const run = runBargeInCall(srv, phone, mock);
    const live = await liveCall(srv);
    callId = live.id;
    from = live.from;
    live.session.on('barge-in', (d) => decisions.push(d));
    // While the call runs, its transcript so far (the last answer seen before the end).
    let polling = true;
    const poll = (async () => {
      while (polling) {
        const r = await srv.api('GET', `/v1/calls/${callId}/transcript`);
        if (r.status === 200 && r.json.state === 'live') liveSeen = r.json;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    })();
    try {
      m = await run;
    } finally {
      // A failed call must not leave the poll running against a server the afterAll closes.
      polling = false;
      await poll.catch(() => undefined);
    }
  }, 90_000);

  afterAll(async () => {
    await closePhone(phone);
    await srv?.close();
    await mock?.close();
    await rm(pricesFile, { force: true });
    if (store === 'redis') await clearRedisPrefix(REDIS_URL, prefix);
  });

  it('GET /v1/calls/:id returns the ended call as its CDR', async () => {
    // The record is written as the call ends (after its BYE): a moment later.
    const { status, json } = await eventually(async () => {
      const r = await srv.api('GET', `/v1/calls/${callId}`);
      expect(r.status).toBe(200);
      return r;
    });
    const cdr = json as CallDetailRecord & { state: string };
    // Media time of the call as the caller counted it: one tick per 20 ms from the 200 OK to its BYE.
    const callerMs = m.result.received.length / (m.result.sampleRateHz / 1000);
    const interrupted = decisions.filter((d) => d.action === 'interrupted');
    const usage = cdr.usage[0];
    report(`cdr ${store}`, {
      durationMs: cdr.durationMs,
      callerMediaMs: callerMs,
      bargeIns: cdr.bargeIns,
      latencies: cdr.turnLatenciesMs,
      rtp: cdr.rtp,
      callerPacketsSent: m.result.packetsSent,
      callerPacketsReceived: m.result.packetsReceived,
      usage,
      cost: cdr.cost,
    });
    expect(status).toBe(200);
    expect(cdr).toMatchObject({
      state: 'ended',
      id: callId,
      tenant: 'acme',
      route: 'acme.yaml',
      direction: 'inbound',
      from,
      to: '100',
      codec: 'PCMU',
      endReason: 'caller-bye',
      provider: 'openai',
      recorded: true,
    });
    expect(from).not.toBe('');
    // The CDR's answer-to-BYE against the caller's own media clock: within 300 ms (ticks start at the
    // softphone's ACK and stop at its BYE; both sides' timers and the loopback add a few frames).
    expect(Math.abs(cdr.durationMs - callerMs)).toBeLessThanOrEqual(300);
    expect(Date.parse(cdr.endedAt) - Date.parse(cdr.answeredAt)).toBe(cdr.durationMs);
    expect(Date.parse(cdr.startedAt)).toBeLessThanOrEqual(Date.parse(cdr.answeredAt));
    expect(interrupted.length).toBeGreaterThanOrEqual(1);
    expect(cdr.bargeIns).toBe(interrupted.length);
    expect(cdr.bargeInEvents[0]?.heardMs).toBe(m.playedMs);
    expect(cdr.tools).toHaveLength(1);
    expect(cdr.tools[0]).toMatchObject({ name: 'send_dtmf', ok: true, result: { ok: true, sent: '1' } });
    expect(cdr.transfers).toEqual([]);
    expect(cdr.agents).toHaveLength(1);
    // One latency per caller turn answered with audio (the long answer): positive, under the 2 s stall bound.
    expect(cdr.turnLatenciesMs.length).toBeGreaterThanOrEqual(1);
    for (const l of cdr.turnLatenciesMs) expect(l).toBeGreaterThan(0);
    // RTP: the server received what the softphone sent (±2 packets in flight at the BYE), sent what it heard.
    expect(Math.abs(cdr.rtp.packetsReceived - m.result.packetsSent)).toBeLessThanOrEqual(2);
    expect(Math.abs(cdr.rtp.packetsSent - m.result.packetsReceived)).toBeLessThanOrEqual(2);
    expect(cdr.rtp.lost).toBe(0);
    // Usage as the mock reports it per response.done: 10 input and 20 output tokens each.
    expect(usage?.reports).toBeGreaterThanOrEqual(3);
    expect(usage?.inputTokens).toBe(10 * (usage?.reports ?? 0));
    expect(usage?.outputTokens).toBe(20 * (usage?.reports ?? 0));
    expect(usage?.inputAudioTokens).toBe(6 * (usage?.reports ?? 0));
    const expectedCost =
      (0.06 * cdr.durationMs) / 60_000 +
      ((usage?.inputTokens ?? 0) * 5 + (usage?.outputTokens ?? 0) * 20) / 1e6;
    expect(cdr.cost?.currency).toBe('USD');
    expect(cdr.cost?.total).toBeCloseTo(expectedCost, 5);
  });

  it('the transcript has both sides in order, timed on the call clock, with the interruption mark', async () => {
    const { json } = await srv.api('GET', `/v1/calls/${callId}/transcript`);
    const turns = json.turns as {
      role: string;
      text: string;
      startMs: number;
      endMs: number;
      interrupted?: boolean;
      heardMs?: number;
    }[];
    report(`transcript ${store}`, { turns });
    const roles = turns.map((t) => `${t.role}:${t.text}`);
    expect(roles.slice(0, 3)).toEqual([
      'caller:I have a question',
      'caller:about my last bill',
      'agent:Sure. Your last bill',
    ]);
    expect(roles.slice(3)).toContain('caller:stop, press one');
    for (let i = 1; i < turns.length; i++)
      expect(turns[i]!.startMs).toBeGreaterThanOrEqual(turns[i - 1]!.startMs);
    for (const t of turns) {
      expect(t.startMs).toBeGreaterThanOrEqual(0);
      expect(t.endMs).toBeGreaterThanOrEqual(t.startMs);
    }
    const agent = turns[2]!;
    expect(agent.interrupted).toBe(true);
    expect(agent.heardMs).toBe(m.playedMs);
    // Timed by the frames sent: it started when the caller's first reply packet arrived (replyStartTick on
    // the caller's clock, ±100 ms) and lasted what the caller heard (±2 frames).
    expect(Math.abs(agent.startMs - m.replyStartTick * FRAME_MS)).toBeLessThanOrEqual(100);
    expect(Math.abs(agent.endMs - agent.startMs - (m.playedMs ?? 0))).toBeLessThanOrEqual(2 * FRAME_MS);
    // The caller's interruption started before the reply stopped.
    const interruption = turns.find((t) => t.text === 'stop, press one')!;
    expect(interruption.startMs).toBeLessThan(agent.endMs);
    expect(interruption.startMs).toBeGreaterThan(agent.startMs);
    // The same transcript is in the recording.
    const file = join(srv.recordingsDir, 'acme', callId, 'transcript.json');
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(turns);
  });

  it('pages through the history newest first, with since/until and the cursor', async () => {
    const base = Date.now() - 3_600_000;
    // 25 records: 20 for acme, 5 for globex, three pairs sharing an end time (ties told apart by id).
    const fakes: CallRecord[] = [];
    for (let i = 0; i < 25; i++) {
      const endedMs = base + Math.floor(i / 2) * (i % 3 === 0 ? 1000 : 1) * 60_000;
      fakes.push(
        fakeCallRecord(`fake-${String(i).padStart(2, '0')}`, i % 5 === 4 ? 'globex' : 'acme', endedMs),
      );
    }
    for (const f of fakes) await srv.server.history.put(f);
    const all = async (query: string, token?: string): Promise<string[]> => {
      const ids: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 50; page++) {
        const q = `/v1/calls?state=ended&limit=7${query}${cursor === undefined ? '' : `&cursor=${cursor}`}`;
        const r = await srv.api('GET', q, undefined, token);
        expect(r.status).toBe(200);
        expect(r.json.calls.length).toBeLessThanOrEqual(7);
        ids.push(...(r.json.calls as CallDetailRecord[]).map((c) => c.id));
        cursor = r.json.nextCursor;
        if (cursor === undefined) return ids;
      }
      throw new Error('paging did not end');
    };
    const expected = [...fakes.map((f) => f.cdr), (await srv.server.history.get(callId))!.cdr]
      .map((c) => ({ id: c.id, tenant: c.tenant, ms: Date.parse(c.endedAt) }))
      .sort((a, b) => b.ms - a.ms || (a.id < b.id ? 1 : -1));
    const everything = await all('');
    expect(everything).toEqual(expected.map((e) => e.id));
    expect(new Set(everything).size).toBe(26);
    // A window: since inclusive, until exclusive.
    const since = new Date(base + 2 * 60_000).toISOString();
    const until = new Date(base + 6 * 60_000).toISOString();
    const windowed = await all(`&since=${since}&until=${until}`);
    expect(windowed).toEqual(
      expected.filter((e) => e.ms >= Date.parse(since) && e.ms < Date.parse(until)).map((e) => e.id),
    );
    expect(windowed.length).toBeGreaterThan(0);
    // The admin filters by tenant; a tenant key sees its own only, whatever it asks.
    const acme = expected.filter((e) => e.tenant === 'acme').map((e) => e.id);
    expect(await all('&tenant=acme')).toEqual(acme);
    expect(await all('', acmeKey)).toEqual(acme);
    expect(await all('', globexKey)).toEqual(expected.filter((e) => e.tenant === 'globex').map((e) => e.id));
  });

  it('gives the transcript so far while the call is live', () => {
    expect(liveSeen?.state).toBe('live');
    expect(liveSeen?.turns[0]).toMatchObject({ role: 'caller', text: 'I have a question' });
    expect(liveSeen?.turns.length).toBeGreaterThanOrEqual(3);
  });

  it('keeps tenants apart over HTTP', async () => {
    expect((await srv.api('GET', `/v1/calls/${callId}`, undefined, acmeKey)).status).toBe(200);
    expect((await srv.api('GET', `/v1/calls/${callId}/transcript`, undefined, acmeKey)).status).toBe(200);
    const other = await srv.api('GET', `/v1/calls/${callId}`, undefined, globexKey);
    expect(other.status).toBe(404);
    expect(JSON.stringify(other.json)).not.toContain('acme');
    expect((await srv.api('GET', `/v1/calls/${callId}/transcript`, undefined, globexKey)).status).toBe(404);
    expect((await srv.api('GET', '/v1/calls?state=ended&tenant=acme', undefined, globexKey)).status).toBe(
      404,
    );
  });

  it('answers bad paging parameters with 400 and the zod issue', async () => {
    for (const q of [
      'limit=0',
      'limit=101',
      'limit=abc',
      'since=yesterday',
      'cursor=not-a-cursor',
      'state=gone',
      'colour=blue',
      `since=${new Date().toISOString()}&until=${new Date(Date.now() - 1000).toISOString()}`,
    ]) {
      const r = await srv.api('GET', `/v1/calls?state=ended&${q}`.replace('state=ended&state=', 'state='));
      expect(r.status, q).toBe(400);
      expect(r.json.error?.details ?? r.json.details ?? r.json, q).toBeDefined();
    }
  });

  it('prunes records older than the retention', async () => {
    const old = Date.now() - 40 * DAY_MS;
    await srv.server.history.put(fakeCallRecord('old-1', 'acme', old));
    await srv.server.history.put(fakeCallRecord('old-2', 'acme', old + 1000));
    await srv.server.history.put(fakeCallRecord('recent', 'acme', Date.now() - 29 * DAY_MS));
    expect((await srv.api('GET', '/v1/calls/old-1')).status).toBe(200);
    const pruned = await srv.server.history.prune(Date.now() - 30 * DAY_MS);
    expect(pruned).toBe(2);
    expect((await srv.api('GET', '/v1/calls/old-1')).status).toBe(404);
    expect((await srv.api('GET', '/v1/calls/old-2')).status).toBe(404);
    expect((await srv.api('GET', '/v1/calls/recent')).status).toBe(200);
    const page = await srv.api(
      'GET',
      `/v1/calls?state=ended&limit=100&until=${new Date(old + 5000).toISOString()}`,
    );
    expect(page.json.calls).toEqual([]);
    expect((await srv.api('GET', `/v1/calls/${callId}`)).status).toBe(200);
  });
});
