/**
 * Issue 5 acceptance for transfer_call with real SIP peers and the OpenAI mock: REFER to an allow-listed
 * target (sipp as the transferee, answering 202 + NOTIFY sipfrag 200), refusal of a target not on the list,
 * and a bridge transfer to a second peer (baresip auto-answer) with audio both ways.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallSession } from '../../src/call/session.js';
import { PromptPlayer } from '../../src/call/prompt.js';
import { createCodec } from '../../src/media/codecs/index.js';
import { writeWavFile } from '../../src/media/wav.js';
import { activeMs, readPcm16Wav, runBaresip } from '../support/baresip.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { describeSipp, SCENARIO_DIR, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { WebhookReceiver } from '../support/webhook-receiver.js';
import {
  closePhone,
  fixture,
  fixturePcm,
  liveCall,
  recordingDbfs,
  report,
  silentTurn,
  startPhone,
  TickRecorder,
  waitCallsEnded,
} from './call-harness.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sb-call-transfer-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function functionOutputs(mock: OpenAIMockServer): string[] {
  return mock.received
    .filter((r) => r.type === 'conversation.item.create')
    .map((r) => (r.message as { item: { type: string; output?: string } }).item)
    .filter((i) => i.type === 'function_call_output')
    .map((i) => i.output ?? '');
}

describe('transfer_call by REFER (sipp caller)', () => {
  let mock: OpenAIMockServer;
  let srv: TestServer;
  let hooks: WebhookReceiver;
  beforeAll(async () => {
    mock = await startOpenAIMock({ mode: 'ga' });
    hooks = await WebhookReceiver.start({ host: '127.0.1.40' });
    srv = await startTestServer({
      logLevel: 'info',
      env: { WEBHOOK_ALLOW_PRIVATE: 'true' },
      dialplans: {
        'acme.yaml': [
          'tenant: acme',
          'numbers: ["*"]',
          'agent:',
          '  provider: openai',
          '  tools:',
          '    transfer_call: { method: refer, targets: { billing: "sip:billing@127.0.0.1:5999" } }',
        ].join('\n'),
      },
      credentials: [{ tenant: 'acme', provider: 'openai', fields: { apiKey: 'sk-test', url: mock.url } }],
    });
  });
  afterAll(async () => {
    await srv.close();
    await mock.close();
    await hooks.close();
  });

  it('refuses an unknown target, then REFERs to the allow-listed one after the sentence', async () => {
    const events = ['call.transferred', 'call.ended'];
    const put = { url: hooks.url, secret: 'whsec-transfer-0123456789', events };
    expect((await srv.api('PUT', '/v1/tenants/acme/webhooks/main', put)).status).toBe(201);
    // The caller's speech as raw µ-law for sipp's rtp_stream (PT 0).
    const pcm = new PromptPlayer().pcm(fixture('caller-transfer-request.wav'), 8000);
    const ulaw = Buffer.alloc(pcm.length);
    createCodec('PCMU', 0).encode(pcm, ulaw);
    const audioPath = join(tmp, 'caller-transfer-request.ulaw');
    await writeFile(audioPath, ulaw);
    const scenario = join(tmp, 'e2e-refer-caller.xml');
    const xml = await readFile(join(SCENARIO_DIR, 'e2e-refer-caller.xml'), 'utf8');
    await writeFile(scenario, xml.replaceAll('__CALLER_AUDIO__', audioPath));

    // First the model names a target that is not on the list; then it says the sentence and transfers.
    mock.enqueueTurn({ ...silentTurn, toolCall: { name: 'transfer_call', args: { destination: 'sales' } } });
    mock.enqueueTurn({
      replyAudioPcm16: fixturePcm('agent-transfer-confirm.wav'),
      replyText: 'Okay, I am transferring you.',
      toolCall: { name: 'transfer_call', args: { destination: 'billing' } },
    });
    const sipp = startSipp({
      scenario,
      target: `127.0.0.1:${srv.sipPort}`,
      localIp: '127.0.0.2',
      localPort: 16000 + randomInt(0, 2000),
      mediaPort: 2 * (12000 + randomInt(0, 1500)),
      service: '100',
      timeoutMs: 30_000,
    });
    const session: CallSession | undefined = await liveCall(srv, 5000).then(
      (c) => c.session,
      async () => {
        const r = await sipp.result;
        throw new Error(`no call: ${describeSipp(r)}\n${srv.logs.slice(-10).join('')}`);
      },
    );
    const result = await sipp.result;
    expect(result.exitCode, describeSipp(result)).toBe(0);
    expect(session.endReason).toBe('transferred');

    const outputs = functionOutputs(mock);
    report('transfer refer', { outputs, tools: session.toolOutcomes.map((t) => [t.name, t.ok]) });
    expect(outputs[0]).toMatch(/unknown transfer destination; allowed: billing/);
    const [refused, referred] = session.toolOutcomes;
    expect(refused).toMatchObject({ name: 'transfer_call', ok: false });
    expect(referred).toMatchObject({
      name: 'transfer_call',
      ok: true,
      result: { via: 'refer', status: 200 },
    });
    // The whole confirmation played before the REFER: nothing was truncated.
    expect(mock.truncations).toHaveLength(0);
    expect(mock.violations).toEqual([]);
    // Issue 16: the transfer and the ending reach the tenant's webhook.
    await hooks.until((r) => r.length === 2);
    expect(hooks.of('call.transferred')[0]?.body.data).toMatchObject({ target: 'billing', via: 'refer' });
    // call.ended is the call record: the CDR (its transfer and both tool outcomes) and the transcript.
    const transferred = hooks.of('call.transferred')[0]!.body.data;
    const { cdr, transcript } = hooks.of('call.ended')[0]!.body.data;
    expect(cdr).toMatchObject({
      id: transferred.call_id,
      tenant: 'acme',
      from: transferred.from,
      to: '100',
      endReason: 'transferred',
      provider: 'openai',
      transfers: [{ target: 'billing', method: 'refer', ok: true, via: 'refer' }],
    });
    expect(cdr.tools).toMatchObject([
      { name: 'transfer_call', ok: false, args: { destination: 'sales' } },
      { name: 'transfer_call', ok: true, args: { destination: 'billing' }, result: { via: 'refer' } },
    ]);
    expect(cdr.durationMs).toBe(Date.parse(cdr.endedAt) - Date.parse(cdr.answeredAt));
    report('transfer refer call.ended', { durationMs: cdr.durationMs, transcript });
    // Both sides, in order: the mock's transcription of the caller, then the confirmation it played.
    expect(transcript).toMatchObject([
      { role: 'caller', text: 'mock caller words' },
      { role: 'agent', text: 'Okay, I am transferring you.' },
    ]);
    expect(transcript[1].startMs).toBeGreaterThanOrEqual(transcript[0].endMs);
  });
});

/** Sends `quit` over baresip's ctrl_tcp (netstring JSON), so the run ends without waiting for -t. */
function quitBaresip(port: number): Promise<void> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1', () => {
      const body = JSON.stringify({ command: 'quit', token: 'q' });
      sock.write(`${body.length}:${body},`);
      // baresip keeps the control connection open until it exits: do not wait for it.
      setTimeout(() => {
        sock.destroy();
        resolve();
      }, 300);
    });
    sock.on('error', () => resolve());
  });
}

describe('transfer_call by bridge (softphone caller, baresip target)', () => {
  let mock: OpenAIMockServer;
  let srv: TestServer;
  const bareSipPort = 17000 + randomInt(0, 2000);
  const ctrlPort = 19000 + randomInt(0, 1000);
  beforeAll(async () => {
    mock = await startOpenAIMock({ mode: 'ga' });
    srv = await startTestServer({
      logLevel: 'info',
      dialplans: {
        'acme.yaml': [
          'tenant: acme',
          'numbers: ["*"]',
          'agent:',
          '  provider: openai',
          '  tools:',
          `    transfer_call: { method: bridge, targets: { human: "sip:bot@127.0.0.1:${bareSipPort}" } }`,
        ].join('\n'),
      },
      credentials: [{ tenant: 'acme', provider: 'openai', fields: { apiKey: 'sk-test', url: mock.url } }],
    });
  });
  afterAll(async () => {
    await srv.close();
    await mock.close();
  });

  it('dials the target, relays audio both ways and ends both legs when the target hangs up', async () => {
    // The person answering says the account-number sentence, waits 3 s, and hangs up (aufile end).
    const human = join(tmp, 'human.wav');
    const said = fixturePcm('caller-account-number.wav');
    const samples = new Int16Array(said.length + 3 * 8000);
    samples.set(said);
    writeWavFile(human, { sampleRateHz: 8000, channels: 1, samples });
    const rtpBase = 2 * (13000 + randomInt(0, 1000));
    const baresip = runBaresip(
      {
        // On 127.0.0.3 baresip advertises that address in SDP but sends RTP from 127.0.0.1 (its RTP socket is
        // not bound to the interface), which the leg's SDP-address latching rightly drops; on 127.0.0.1 they agree.
        sipHost: '127.0.0.1',
        sipPort: bareSipPort,
        ctrlPort,
        sourceWav: human,
        rtpPorts: [rtpBase, rtpBase + 40],
      },
      [],
      40,
    );
    await new Promise((r) => setTimeout(r, 800)); // baresip binds its SIP port

    mock.enqueueTurn(silentTurn); // the billing question's first sentence
    mock.enqueueTurn({
      replyAudioPcm16: fixturePcm('agent-transfer-confirm.wav'),
      toolCall: { name: 'transfer_call', args: { destination: 'human' } },
    });
    const phone = await startPhone(45600);
    const rec = new TickRecorder();
    const prompts = new PromptPlayer();
    let bridgedTick = -1;
    let session: CallSession | undefined;
    try {
      const resultP = phone.call(srv.uri('100'), {
        durationMs: 25_000,
        onEstablished: (leg) => {
          rec.attach(leg);
          for (const f of prompts.frames(fixture('caller-billing-question.wav'), leg.codec, leg.ptimeMs))
            leg.playout.enqueue(f, 'billing', 'billing');
        },
      });
      session = (await liveCall(srv)).session;
      session.on('tool.outcome', (o) => {
        if (o.name !== 'transfer_call' || !o.ok) return;
        bridgedTick = rec.now;
        // Now the caller talks to the person: this must reach baresip.
        for (const f of prompts.frames(fixture('caller-interrupt.wav'), rec.leg.codec, rec.leg.ptimeMs))
          rec.leg.playout.enqueue(f, 'after-bridge', 'after-bridge');
      });
      const result = await resultP;
      await waitCallsEnded(srv);
      await quitBaresip(ctrlPort);
      const run = await baresip;
      const heard = run.heardWav === undefined ? undefined : readPcm16Wav(run.heardWav);
      const heardActiveMs = heard === undefined ? 0 : activeMs(heard);
      const fromHumanDbfs = recordingDbfs(result, bridgedTick + 5, bridgedTick + 5 + 150);
      report('transfer bridge', {
        bridgedTick,
        endedBy: result.endedBy,
        endReason: session.endReason,
        heardActiveMs,
        heardMs: heard?.durationMs,
        fromHumanDbfs,
        packetsAfterBridge: rec.packetsBetween(bridgedTick, rec.arrivals.length),
        packetsBeforeBridge: rec.packetsBetween(0, bridgedTick),
        baresipExit: run.exitCode,
        baresipSentActiveMs: run.sentWav === undefined ? -1 : activeMs(readPcm16Wav(run.sentWav)),
      });
      expect(bridgedTick).toBeGreaterThan(0);
      expect(session.toolOutcomes.at(-1)).toMatchObject({ ok: true, result: { via: 'bridge' } });
      // Caller → person: the caller-interrupt sentence (~2.7 s of speech) reached baresip.
      expect(heardActiveMs).toBeGreaterThan(1500);
      // Person → caller: the account-number sentence reached the softphone.
      expect(fromHumanDbfs).toBeGreaterThan(-35);
      expect(rec.packetsBetween(bridgedTick, rec.arrivals.length)).toBeGreaterThan(150);
      // baresip hung up at the end of its file: the bridge ended the caller's leg with a BYE.
      expect(result.endedBy).toBe('remote');
      expect(session.endReason).toBe('transferred');
      expect(mock.violations).toEqual([]);
    } finally {
      await quitBaresip(ctrlPort);
      await closePhone(phone);
    }
  }, 60_000);
});
