/**
 * `recording.ready` (issue 16): a recorded echo call (`record: true`) sends it once the recording is
 * finalised — call.json with the ending is on disk when the receiver gets the event.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Softphone } from '../../src/softphone/softphone.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { callIdOf, verifySignature, WebhookReceiver } from '../support/webhook-receiver.js';

const SECRET = 'whsec-recording-0123456789';

describe('recording.ready webhook', () => {
  let srv: TestServer;
  let phone: Softphone;
  let receiver: WebhookReceiver;
  const onDisk: string[] = [];
  beforeAll(async () => {
    srv = await startTestServer({
      env: { WEBHOOK_ALLOW_PRIVATE: 'true' },
      dialplans: {
        'demo.yaml':
          'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, record: true, tools: { end_call: {} } }\n',
      },
    });
    // Read call.json the moment the event arrives (before answering), so the check is "finalised when sent".
    receiver = await WebhookReceiver.start({
      host: '127.0.1.40',
      answer: (r) => {
        if (r.body.type === 'recording.ready') {
          const dir = join(srv.recordingsDir, 'demo', r.body.data.call_id as string);
          void readFile(join(dir, 'call.json'), 'utf8').then(
            (text) => onDisk.push(text),
            (err: Error) => onDisk.push(`missing: ${err.message}`),
          );
        }
        return 200;
      },
    });
    phone = new Softphone({
      logger: pino({ level: 'silent' }),
      host: '127.0.1.42',
      rtpPortMin: 47600,
      rtpPortMax: 47799,
    });
    await phone.start();
  });
  afterAll(async () => {
    await phone.close();
    await srv.close();
    await receiver.close();
  });

  it('arrives signed after the call, naming the call and its files, with call.json already written', async () => {
    const key = (await srv.api('POST', '/v1/tenants/demo/keys')).json.token as string;
    const put = await srv.api(
      'PUT',
      '/v1/tenants/demo/webhooks/rec',
      { url: receiver.url, secret: SECRET, events: ['recording.ready', 'call.ended'] },
      key,
    );
    expect(put.status).toBe(201);
    const result = await phone.call(srv.uri('100'), { dtmf: '#', dtmfDelayMs: 300, durationMs: 8000 });
    expect(result.endedBy).toBe('remote');
    await receiver.until((r) => r.length === 2);
    const ready = receiver.of('recording.ready');
    const ended = receiver.of('call.ended');
    expect(ready).toHaveLength(1);
    expect(ended).toHaveLength(1);
    expect(verifySignature(SECRET, ready[0]!.headers['switchboard-signature'] as string, ready[0]!.raw)).toBe(
      true,
    );
    // call.ended carries the CDR of this recorded call.
    const callId = callIdOf(ended[0]!);
    expect(callId).toMatch(/\S/);
    expect(ended[0]!.body.data.cdr).toMatchObject({ id: callId, recorded: true, endReason: 'end_call' });
    expect(ready[0]!.body.data).toEqual({
      call_id: callId,
      tenant: 'demo',
      files: ['call.json', 'audio.wav', 'events.jsonl'],
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(onDisk).toHaveLength(1);
    // call.json is written twice: at the start (no ending yet) and finalised at close with the ending.
    expect(JSON.parse(onDisk[0]!)).toMatchObject({
      callId,
      endingReason: 'end_call',
    });
    expect(JSON.parse(onDisk[0]!).endedAt).not.toBeNull();
  });
});
