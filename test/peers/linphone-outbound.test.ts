/**
 * The production server calls linphone (issue 10): `POST /v1/calls` with a full SIP URI (admin token),
 * linphonec auto-answers (`-a`), and audio is checked both ways — linphone hears the greeting and then the
 * echo of what it said; the server's recording shows linphone's speech as received and the echo as sent.
 * The call ends with `DELETE /v1/calls/:id`: the server's BYE reaches linphone.
 * RFC 3262 as UAC: with `100rel_support_level=2` liblinphone answers our `Supported: 100rel` INVITE with a
 * reliable 180 (RSeq, Require: 100rel), which the server PRACKs with the matching RAck. (As a caller,
 * liblinphone only lists 100rel in Supported, never Require, so the UAS side is witnessed by sipp in
 * test/sip/conformance/reliable-provisional.test.ts.)
 * Addresses: linphone 127.0.0.21, SIP 45030, RTP 45032; the 100rel linphone 127.0.0.143, SIP 54300, RTP 54302.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWavFile } from '../../src/media/wav.js';
import { soundMs, withSilence } from '../support/audio-match.js';
import {
  endedCalls,
  expectFaithful,
  locate,
  micFile,
  replyHeard,
  serverRecording,
} from '../support/call-audio.js';
import { eventually } from '../support/eventually.js';
import { Linphone, loggedSipMessages } from '../support/linphone.js';
import { startTestServer, type TestServer } from '../support/server.js';

const HOST = '127.0.0.21';
const SIP_PORT = 45030;
const REL100_HOST = '127.0.0.143';
const RATE = 8000;
const speech = readWavFile(
  fileURLToPath(new URL('../fixtures/audio/caller-account-number.wav', import.meta.url)),
).samples;

describe('the server calls linphone (POST /v1/calls)', () => {
  let srv: TestServer;
  let phone: Linphone | undefined;
  let tmp: string;

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'sb-linphone-out-'));
    srv = await startTestServer({
      dialplans: {
        'demo.yaml':
          'tenant: demo\nnumbers: ["100"]\nagent: { provider: echo, greeting: "Hello, this is Switchboard.", record: true }\n',
      },
    });
  });
  afterAll(async () => {
    await phone?.stop();
    await srv?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it(
    'is answered, greets, hears the callee and echoes it; DELETE sends BYE',
    { timeout: 60_000 },
    async () => {
      // The callee starts talking 2 s after answering, once the greeting (sent after its first RTP) is over.
      phone = await Linphone.start({
        sipHost: HOST,
        sipPort: SIP_PORT,
        rtpPort: 45032,
        codecs: ['PCMU'],
        autoAnswer: true,
        playWav: await micFile(tmp, 'mic-callee', withSilence(speech, RATE, 2000, 15_000), RATE),
      });
      const p = phone;
      const mark = p.mark();
      const dial = await srv.api('POST', '/v1/calls', {
        tenant: 'demo',
        to: `sip:linphone@${HOST}:${SIP_PORT}`,
      });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      const id = String(dial.json.id);
      await p.answered(10_000, mark);
      const call = await srv.api('GET', `/v1/calls/${id}`);
      expect(call.json).toMatchObject({ direction: 'outbound', provider: 'echo' });

      const rec = await serverRecording(srv);
      expect(rec.id).toBe(id);
      // Wait for the echo of the callee's words (beyond the greeting) to be sent and heard.
      const heard = await replyHeard(
        rec,
        async () => (await p.heard()).samples,
        RATE,
        0.8 * soundMs(speech, RATE),
      );
      const hangupMark = p.mark();
      expect((await srv.api('DELETE', `/v1/calls/${id}`)).status).toBe(204);
      // linphonec's words for the far end's BYE.
      await p.ended(10_000, hangupMark);
      await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('api-hangup'));

      const { caller, agent } = rec.read();
      const said = locate(speech, caller, RATE);
      const answered = locate(speech, agent, RATE);
      const echo = locate(speech, heard, RATE);
      const figures = JSON.stringify({ said, answered, echo });
      // Callee → server: linphone's speech arrived intact.
      expectFaithful(said.windows, figures);
      // Server → callee: the echo was sent, after the callee had finished, and linphone heard it intact.
      expectFaithful(answered.windows, figures);
      expectFaithful(echo.windows, figures);
      expect(answered.offsetMs, figures).toBeGreaterThan(said.offsetMs + (speech.length * 1000) / RATE);
      // The greeting came first: sound on the agent channel before the callee spoke, and in what linphone
      // heard before the echo.
      expect(
        soundMs(agent.subarray(0, Math.round((said.offsetMs * RATE) / 1000)), RATE),
        figures,
      ).toBeGreaterThan(100);
      expect(
        soundMs(heard.subarray(0, Math.round((echo.offsetMs * RATE) / 1000)), RATE),
        figures,
      ).toBeGreaterThan(100);
      // linphone's own log of the dialog.
      const sip = await p.sipLog();
      expect(sip).toMatch(new RegExp(`^INVITE sip:linphone@${HOST.replaceAll('.', '\\.')}:${SIP_PORT}`, 'm'));
      // The BYE goes to linphone's Contact, the dialog's remote target (RFC 3261 §12.1.2).
      const contact = new RegExp(
        `^Contact: <(sip:[^>]*${HOST.replaceAll('.', '\\.')}:${SIP_PORT}[^>]*)>`,
        'm',
      ).exec(sip)?.[1];
      expect(contact, sip.slice(-3000)).toBeDefined();
      expect(sip.includes(`\nBYE ${contact} SIP/2.0`), sip.slice(-3000)).toBe(true);
    },
  );

  it(
    'RFC 3262: linphone answers with a reliable 180, the server PRACKs it (RAck = RSeq + CSeq), audio echoed',
    { timeout: 60_000 },
    async () => {
      await phone?.stop();
      phone = await Linphone.start({
        sipHost: REL100_HOST,
        sipPort: 54300,
        rtpPort: 54302,
        codecs: ['PCMU'],
        rel100: 'required',
        autoAnswer: true,
        playWav: await micFile(tmp, 'mic-100rel', withSilence(speech, RATE, 2000, 15_000), RATE),
      });
      const p = phone;
      const mark = p.mark();
      const dial = await srv.api('POST', '/v1/calls', {
        tenant: 'demo',
        to: `sip:linphone@${REL100_HOST}:54300`,
      });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      await p.answered(10_000, mark);
      const rec = await serverRecording(srv);
      const heard = await replyHeard(
        rec,
        async () => (await p.heard()).samples,
        RATE,
        0.8 * soundMs(speech, RATE),
      );
      expect((await srv.api('DELETE', `/v1/calls/${String(dial.json.id)}`)).status).toBe(204);
      await eventually(() => expect(endedCalls(srv).at(-1)?.reason).toBe('api-hangup'));

      const sip = loggedSipMessages(await p.sipLog());
      const trace = sip.map((m) => `${m.direction} ${m.startLine}`).join('\n');
      const invite = sip.find((m) => m.direction === 'received' && m.startLine.startsWith('INVITE '));
      expect(invite?.text, trace).toMatch(/^Supported:.*\b100rel\b/im);
      const cseq = /^CSeq: *(\d+) INVITE/im.exec(invite?.text ?? '')?.[1];
      const ringing = sip.find((m) => m.direction === 'sent' && m.startLine.startsWith('SIP/2.0 180'));
      expect(ringing?.text, trace).toMatch(/^Require: *100rel/im);
      const rseq = /^RSeq: *(\d+)/im.exec(ringing?.text ?? '')?.[1];
      expect(rseq, trace).toBeDefined();
      // One PRACK from us for that provisional (liblinphone answers a PRACK that crossed its 200 with 501).
      const pracks = sip.filter((m) => m.direction === 'received' && m.startLine.startsWith('PRACK '));
      expect(pracks, trace).toHaveLength(1);
      expect(pracks[0]!.text).toMatch(new RegExp(`^RAck: *${rseq} ${cseq} INVITE\\s*$`, 'im'));

      const { caller, agent } = rec.read();
      const said = locate(speech, caller, RATE);
      const answered = locate(speech, agent, RATE);
      const echo = locate(speech, heard, RATE);
      const figures = JSON.stringify({ rseq, said, answered, echo });
      console.log('[measure] linphone 100rel', {
        rseq,
        minWindowScore: [said, answered, echo].map((w) => w.windows.minScore),
      });
      for (const w of [said, answered, echo]) expectFaithful(w.windows, figures);
    },
  );
});
