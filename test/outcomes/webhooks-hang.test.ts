/**
 * A receiver that never answers must not delay a call (issue 16): the same echo call (# after 300 ms, the
 * echo agent asks end_call, the server sends BYE) without webhooks and with every event subscribed by a
 * hanging receiver. The BYE's timing is measured in media time: RTP packets the caller sent before the
 * server's BYE arrived (20 ms each), tolerance 25 packets (500 ms).
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Softphone } from '../../src/softphone/softphone.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { callIdOf, WebhookReceiver } from '../support/webhook-receiver.js';

const TOLERANCE_PACKETS = 25;

describe('a hanging webhook receiver (issue 16)', () => {
  let srv: TestServer;
  let phone: Softphone;
  let hanging: WebhookReceiver;
  beforeAll(async () => {
    hanging = await WebhookReceiver.start({ host: '127.0.1.47', answer: () => 'hang' });
    srv = await startTestServer({
      env: { WEBHOOK_ALLOW_PRIVATE: 'true' },
      dialplans: {
        'demo.yaml': 'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, tools: { end_call: {} } }\n',
      },
    });
    phone = new Softphone({
      logger: pino({ level: 'silent' }),
      host: '127.0.1.48',
      rtpPortMin: 47400,
      rtpPortMax: 47599,
    });
    await phone.start();
  });
  afterAll(async () => {
    await phone.close();
    await srv.close();
    await hanging.close();
  });

  it('never delays the call: BYE at the same media time as without webhooks', async () => {
    const call = (): ReturnType<Softphone['call']> =>
      phone.call(srv.uri('100'), { dtmf: '#', dtmfDelayMs: 300, durationMs: 8000 });
    const baseline = await call();
    expect(baseline.endedBy).toBe('remote');

    const key = (await srv.api('POST', '/v1/tenants/demo/keys')).json.token as string;
    const events = ['call.started', 'call.answered', 'call.ended', 'tool.called'];
    const put = await srv.api(
      'PUT',
      '/v1/tenants/demo/webhooks/slow',
      { url: hanging.url, secret: 'whsec-hanging-0123456789', events },
      key,
    );
    expect(put.status).toBe(201);
    const withHang = await call();
    expect(withHang.endedBy).toBe('remote');
    // The receiver really held the call's deliveries open while the call went on and ended.
    await hanging.until((r) => r.length === 4, 5000);
    const ids = new Set(hanging.received.map((r) => callIdOf(r)));
    expect(ids.size).toBe(1);
    const deliveries = await srv.api('GET', '/v1/tenants/demo/webhooks/slow/deliveries', undefined, key);
    expect(deliveries.json.deliveries.map((d: { status: string }) => d.status)).toEqual([
      'pending',
      'pending',
      'pending',
      'pending',
    ]);
    console.log(
      `caller RTP packets until the server's BYE: ${baseline.packetsSent} without webhooks, ${withHang.packetsSent} with a hanging receiver`,
    );
    expect(Math.abs(withHang.packetsSent - baseline.packetsSent)).toBeLessThanOrEqual(TOLERANCE_PACKETS);
    // A second call while the first call's deliveries still hang: not delayed either.
    const again = await call();
    expect(again.endedBy).toBe('remote');
    expect(Math.abs(again.packetsSent - baseline.packetsSent)).toBeLessThanOrEqual(TOLERANCE_PACKETS);
    await hanging.until((r) => r.length === 8, 5000);
  }, 60_000);
});
