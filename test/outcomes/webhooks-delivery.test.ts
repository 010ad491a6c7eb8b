/**
 * Event webhooks through the production server (startServer) and real calls: a softphone calls the echo
 * agent (which greets with a text and a beep) and presses # (the echo agent asks end_call), so each call
 * emits call.started, call.answered, tool.called and call.ended — the last with the call's record (CDR and
 * transcript), the same one the call history serves. Two real HTTP receivers on loopback (this suite's
 * block 127.0.1.40–49): one answers 200, one answers 500 twice per event and then 200.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Softphone, type CallResult } from '../../src/softphone/softphone.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { callIdOf, verifySignature, WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-delivery-test-0123456789';
const FLAKY_SECRET = 'whsec-flaky-test-9876543210';
const EVENTS = ['call.started', 'call.answered', 'call.transferred', 'call.ended', 'tool.called'];
const CALLS = 5;
const GREETING = 'Hello from the echo line.';
/** The CDR's answer-to-end against the caller's media clock (its received-audio ticks, 20 ms each). */
const DURATION_TOLERANCE_MS = 300;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

describe('event webhook delivery (issue 16)', () => {
  let srv: TestServer;
  let phone: Softphone;
  let ok: WebhookReceiver;
  let flaky: WebhookReceiver;
  const seen = new Map<string, number>();
  const results: CallResult[] = [];

  beforeAll(async () => {
    ok = await WebhookReceiver.start({ host: '127.0.1.40' });
    flaky = await WebhookReceiver.start({
      host: '127.0.1.41',
      answer: (r) => {
        const n = (seen.get(r.body.id) ?? 0) + 1;
        seen.set(r.body.id, n);
        return n <= 2 ? 500 : 200;
      },
    });
    srv = await startTestServer({
      env: { WEBHOOK_ALLOW_PRIVATE: 'true' },
      dialplans: {
        'demo.yaml': `tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, greeting: "${GREETING}", tools: { end_call: {} } }\n`,
      },
    });
    const key = (await srv.api('POST', '/v1/tenants/demo/keys')).json.token as string;
    const put = async (name: string, url: string, secret: string): Promise<void> => {
      const res = await srv.api(
        'PUT',
        `/v1/tenants/demo/webhooks/${name}`,
        { url, secret, events: EVENTS },
        key,
      );
      expect(res.status).toBe(201);
    };
    await put('main', ok.url, SECRET);
    await put('flaky', flaky.url, FLAKY_SECRET);
    phone = new Softphone({
      logger: pino({ level: 'silent' }),
      host: '127.0.1.42',
      rtpPortMin: 47000,
      rtpPortMax: 47199,
    });
    await phone.start();
    for (let i = 0; i < CALLS; i++) {
      const result = await phone.call(srv.uri('100'), { dtmf: '#', dtmfDelayMs: 300, durationMs: 8000 });
      expect(result.endedBy).toBe('remote');
      results.push(result);
    }
    await ok.until((r) => r.length === 4 * CALLS);
  }, 90_000);

  afterAll(async () => {
    await phone?.close();
    await srv?.close();
    await ok?.close();
    await flaky?.close();
  });

  it('signs every delivery with the documented HMAC and sends the documented body', () => {
    expect(ok.received.length).toBe(4 * CALLS);
    const now = Date.now() / 1000;
    for (const r of ok.received) {
      expect(r.headers['content-type']).toBe('application/json');
      const header = r.headers['switchboard-signature'] as string;
      expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
      expect(verifySignature(SECRET, header, r.raw)).toBe(true);
      // The test's check can fail: another secret or one changed byte does not verify.
      expect(verifySignature(FLAKY_SECRET, header, r.raw)).toBe(false);
      expect(verifySignature(SECRET, header, r.raw.replace('"demo"', '"dem0"'))).toBe(false);
      expect(Math.abs(Number(/^t=(\d+)/.exec(header)?.[1]) - now)).toBeLessThan(120);
      expect(Object.keys(r.body).sort()).toEqual(['created_at', 'data', 'id', 'tenant', 'type']);
      expect(r.body.tenant).toBe('demo');
      expect(r.body.id).toMatch(/^evt_[0-9a-f-]{36}$/);
    }
    expect(new Set(ok.received.map((r) => r.body.id)).size).toBe(ok.received.length);
  });

  it('reports each call in order: started, answered, tool.called (end_call), ended', () => {
    const byCall = new Map<string, Array<{ type: string; at: number }>>();
    for (const r of ok.received) {
      const id = callIdOf(r)!;
      byCall.set(id, [...(byCall.get(id) ?? []), { type: r.body.type, at: Date.parse(r.body.created_at) }]);
    }
    expect(byCall.size).toBe(CALLS);
    const order = ['call.started', 'call.answered', 'tool.called', 'call.ended'];
    for (const events of byCall.values()) {
      // Deliveries are independent (arrival order is not guaranteed); the events' own times are ordered.
      const sorted = [...events].sort((a, b) => order.indexOf(a.type) - order.indexOf(b.type));
      expect(sorted.map((e) => e.type)).toEqual(order);
      for (let i = 1; i < sorted.length; i++) expect(sorted[i]!.at).toBeGreaterThanOrEqual(sorted[i - 1]!.at);
    }
    const tool = ok.of('tool.called')[0]?.body.data;
    expect(tool).toMatchObject({ tool: 'end_call', ok: true, tenant: 'demo', provider: 'echo' });
  });

  it('call.ended carries the call record: the CDR and the transcript, as the call history has them', async () => {
    const ended = ok
      .of('call.ended')
      .map((r) => r.body.data)
      .sort((a, b) => Date.parse(a.cdr.startedAt) - Date.parse(b.cdr.startedAt));
    expect(ended).toHaveLength(CALLS);
    const key = (await srv.api('POST', '/v1/tenants/demo/keys')).json.token as string;
    for (const [i, data] of ended.entries()) {
      expect(Object.keys(data).sort()).toEqual(['cdr', 'transcript']);
      const { cdr, transcript } = data;
      const started = ok.of('call.started').find((r) => r.body.data.call_id === cdr.id)?.body.data;
      expect(started).toBeDefined();
      expect(cdr).toMatchObject({
        version: 1,
        tenant: 'demo',
        route: 'demo.yaml',
        direction: 'inbound',
        from: started.from,
        to: '100',
        provider: 'echo',
        endReason: 'end_call',
        transfers: [],
        bargeIns: 0,
        recorded: false,
      });
      // The tool that ended the call is in the record (its outcome comes just after the session's end).
      expect(cdr.tools).toHaveLength(1);
      expect(cdr.tools[0]).toMatchObject({ name: 'end_call', ok: true });
      expect(Date.parse(cdr.startedAt)).toBeLessThanOrEqual(Date.parse(cdr.answeredAt));
      expect(Date.parse(cdr.endedAt) - Date.parse(cdr.answeredAt)).toBe(cdr.durationMs);
      // The caller's media clock: one frame per 20 ms tick from its ACK to the BYE (time-aligned).
      const callerMs = results[i]!.received.length / (results[i]!.sampleRateHz / 1000);
      console.log(`call ${i + 1}: CDR durationMs ${cdr.durationMs}, caller media ${callerMs} ms`);
      expect(Math.abs(cdr.durationMs - callerMs)).toBeLessThanOrEqual(DURATION_TOLERANCE_MS);
      expect(cdr.rtp.packetsSent).toBeGreaterThan(0);
      // The echo agent's greeting is the transcript's one turn, timed by its beep's RTP frames.
      expect(transcript).toHaveLength(1);
      expect(transcript[0]).toMatchObject({ role: 'agent', text: GREETING });
      expect(transcript[0].endMs).toBeGreaterThan(transcript[0].startMs);
      // The same record the call history serves.
      const stored = await srv.api('GET', `/v1/calls/${cdr.id}`, undefined, key);
      expect(stored.status).toBe(200);
      expect(stored.json).toMatchObject(cdr);
      const turns = await srv.api('GET', `/v1/calls/${cdr.id}/transcript`, undefined, key);
      expect(turns.json.turns).toEqual(transcript);
    }
  });

  it('prints delivery latency on loopback (event created → receiver got it)', () => {
    const latencies = ok.received
      .map((r) => r.receivedAtMs - Date.parse(r.body.created_at))
      .sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    console.log(
      `webhook delivery latency over ${latencies.length} events: p50 ${p50} ms, p95 ${p95} ms, max ${latencies.at(-1)} ms`,
    );
    expect(latencies.every((ms) => ms >= 0)).toBe(true);
  });

  it('retries a receiver that answers 500 twice: exactly one accepted delivery per event, 3 attempts', async () => {
    await flaky.until((r) => r.length === 3 * 4 * CALLS, 30_000);
    const ids = new Set(flaky.received.map((r) => r.body.id));
    expect(ids.size).toBe(4 * CALLS);
    for (const id of ids) {
      const attempts = flaky.received.filter((r) => r.body.id === id);
      expect(attempts.length).toBe(3);
      // The same body every time, signed afresh; backoff 1 s then 2 s (lower bounds only).
      expect(new Set(attempts.map((a) => a.raw)).size).toBe(1);
      for (const a of attempts)
        expect(verifySignature(FLAKY_SECRET, a.headers['switchboard-signature'] as string, a.raw)).toBe(true);
      expect(attempts[1]!.receivedAtMs - attempts[0]!.receivedAtMs).toBeGreaterThanOrEqual(900);
      expect(attempts[2]!.receivedAtMs - attempts[1]!.receivedAtMs).toBeGreaterThanOrEqual(1900);
    }
    // Nothing more arrives once every event was accepted (the 200 ended each delivery).
    await new Promise((r) => setTimeout(r, 1500));
    expect(flaky.received.length).toBe(3 * 4 * CALLS);
    const key = (await srv.api('POST', '/v1/tenants/demo/keys')).json.token as string;
    const res = await srv.api('GET', '/v1/tenants/demo/webhooks/flaky/deliveries?limit=100', undefined, key);
    expect(res.status).toBe(200);
    expect(res.json.deliveries.length).toBe(4 * CALLS);
    for (const d of res.json.deliveries) {
      expect(d).toMatchObject({ status: 'delivered', attempts: 3, last_status_code: 200, last_error: null });
      expect(Date.parse(d.delivered_at)).toBeGreaterThan(Date.parse(d.created_at));
    }
    const main = await srv.api('GET', '/v1/tenants/demo/webhooks/main/deliveries', undefined, key);
    expect(main.json.deliveries.every((d: { attempts: number }) => d.attempts === 1)).toBe(true);
  });

  it('never logs a webhook secret', () => {
    const logs = srv.logs.join('');
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(FLAKY_SECRET);
  });
});
