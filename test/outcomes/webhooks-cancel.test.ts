/**
 * An INVITE accepted and then CANCELled before the answer still reports its end (issue 16): sipp (an
 * independent peer, on 127.0.1.45) sends INVITE, waits for 180 and CANCELs while the agent's provider
 * connection is held back 2.5 s (DelayProxy in front of the OpenAI mock); the webhook gets call.started and a
 * call.ended in the summary shape (there is no CDR of a call never answered) with end_reason `cancelled`, no
 * answer time and duration 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DelayProxy } from '../support/delay-proxy.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { describeSipp, runSipp } from '../support/sipp.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';

const SCENARIOS = new URL('../sip/conformance/scenarios/', import.meta.url).pathname;

describe('call.ended for a cancelled INVITE', () => {
  let mock: OpenAIMockServer;
  let proxy: DelayProxy;
  let srv: TestServer;
  let hooks: WebhookReceiver;
  beforeAll(async () => {
    mock = await startOpenAIMock({ mode: 'ga' });
    proxy = await DelayProxy.start(Number(new URL(mock.url).port), 2500);
    const url = new URL(mock.url);
    url.port = String(proxy.port);
    hooks = await WebhookReceiver.start({ host: '127.0.1.40' });
    srv = await startTestServer({
      env: { WEBHOOK_ALLOW_PRIVATE: 'true' },
      dialplans: { 'slow.yaml': 'tenant: slow\nnumbers: ["slow"]\nagent: { provider: openai }\n' },
      credentials: [
        { tenant: 'slow', provider: 'openai', fields: { apiKey: 'sk-test', url: url.toString() } },
      ],
    });
    const put = {
      url: hooks.url,
      secret: 'whsec-cancel-0123456789',
      events: ['call.started', 'call.answered', 'call.ended'],
    };
    expect((await srv.api('PUT', '/v1/tenants/slow/webhooks/main', put)).status).toBe(201);
  });
  afterAll(async () => {
    await srv?.close();
    await proxy?.close();
    await mock?.close();
    await hooks?.close();
  });

  it('sends call.started, then call.ended {end_reason: cancelled}, and no call.answered', async () => {
    const r = await runSipp({
      scenario: `${SCENARIOS}cancel-ringing.xml`,
      target: `127.0.0.1:${srv.sipPort}`,
      localIp: '127.0.1.45',
      service: 'slow',
      localPort: 43700,
      mediaPort: 43710,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await hooks.until((x) => x.length === 2);
    await new Promise((res) => setTimeout(res, 500));
    expect(hooks.received.map((x) => x.body.type).sort()).toEqual(['call.ended', 'call.started']);
    const started = hooks.of('call.started')[0]!.body.data;
    // No answer, no CDR: the summary shape (README "Webhooks"), not the call record.
    const ended = hooks.of('call.ended')[0]!.body.data;
    expect(Object.keys(ended).sort()).toEqual(
      [
        'answered_at',
        'barge_ins',
        'call_id',
        'direction',
        'duration_ms',
        'end_reason',
        'ended_at',
        'from',
        'model',
        'provider',
        'started_at',
        'tenant',
        'to',
        'tools',
        'transfer',
      ].sort(),
    );
    expect(ended).toMatchObject({
      call_id: started.call_id,
      tenant: 'slow',
      from: started.from,
      to: 'slow',
      end_reason: 'cancelled',
      started_at: started.started_at,
      answered_at: null,
      duration_ms: 0,
      provider: 'openai',
      tools: [],
      barge_ins: 0,
      transfer: null,
    });
    expect(Date.parse(ended.ended_at)).toBeGreaterThanOrEqual(Date.parse(ended.started_at));
    // Nor is it in the call history (only answered calls get a CDR).
    expect((await srv.api('GET', `/v1/calls/${started.call_id}`)).status).toBe(404);
  });
});
