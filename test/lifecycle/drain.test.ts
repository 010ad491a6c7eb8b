/**
 * Graceful drain (issue 12), against the production server as a process (`node dist/src/cli.js serve`):
 * SIGTERM stops taking calls (INVITE and OPTIONS 503 + Retry-After, /readyz 503, the Redis instance record
 * `draining`) while the calls in progress finish with their audio, then the process exits 0; DRAIN_TIMEOUT_S
 * ends a call that will not finish with the profile's fallback prompt and a BYE; a second SIGTERM ends every
 * call at once with a BYE; POST /v1/admin/drain is the admin's only.
 *
 * Callers are sipp (signalling, pcap audio sent from [media_port+10]) with an RtpCapture bound on that port,
 * so every packet the server sends is seen by a socket of the test, decoded without the server's code.
 * Addresses: servers on 127.0.0.90/.92/.94, sipp on 127.0.0.91/.93; ports 49300–49399.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { soundMs, withSilence } from '../support/audio-match.js';
import { readPcm16Wav } from '../support/baresip.js';
import { eventually } from '../support/eventually.js';
import { pcmaRtpDatagrams, pcapCallerScenario, RtpCapture, alawDecode } from '../support/rtp-peer.js';
import { writePcapUdp } from '../support/pcap.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { describeSipp, runSipp, startSipp, type SippResult } from '../support/sipp.js';
import { speechFrames } from '../support/victim-rtp.js';

const AUDIO = (name: string): string =>
  fileURLToPath(new URL(`../fixtures/audio/${name}.wav`, import.meta.url));
const SCENARIO = (name: string): string => fileURLToPath(new URL(`./scenarios/${name}.xml`, import.meta.url));
const SPEECH = readPcm16Wav(readFileSync(AUDIO('caller-billing-question'))).samples; // 8 kHz, 4.65 s
const PROMPT_PATH = AUDIO('agent-goodbye'); // 24 kHz, 3.4 s
const PROMPT = readPcm16Wav(readFileSync(PROMPT_PATH));
const SPEECH_RMS = 300;

const plan = (agent: string): Record<string, string> => ({
  'demo.yaml': `tenant: demo\nnumbers: ["*"]\nagent: ${agent}\n`,
});

/** 20 ms frames with speech-level sound among `packets` (A-law decoded here, not by the server). */
function speechFramesOf(packets: readonly { payload: Buffer; payloadType: number }[]): number {
  let frames = 0;
  for (const p of packets) {
    if (p.payloadType !== 8) continue;
    const pcm = new Int16Array(p.payload.length);
    alawDecode(p.payload, pcm, 0);
    frames += speechFrames(pcm, SPEECH_RMS);
  }
  return frames;
}

/** The server's "call ended" log records. */
function ended(server: ServerProcess): Array<{ reason?: unknown }> {
  return server.logsWithMsg('call ended');
}

async function calls(server: ServerProcess): Promise<number> {
  const res = await server.api('GET', '/v1/calls');
  return (res.json.calls as unknown[]).length;
}

/**
 * A caller on 127.0.0.93 that never hangs up (silence as its microphone) and waits up to 25 s for the
 * server's BYE, with a capture of everything the server sends it (on `mediaPort + 10`).
 */
async function startLongCall(
  dir: string,
  target: string,
  localPort: number,
  mediaPort: number,
): Promise<{ capture: RtpCapture; result: Promise<SippResult> }> {
  const pcap = join(dir, `long-${localPort}.pcap`);
  writePcapUdp(pcap, pcmaRtpDatagrams(new Int16Array(20 * 8000), 20));
  const scenario = join(dir, `long-${localPort}.xml`);
  const template = await readFile(SCENARIO('pcap-wait-bye'), 'utf8');
  await writeFile(scenario, template.replaceAll('__PCAP__', pcap).replaceAll('__WAIT_BYE_MS__', '25000'));
  const capture = await RtpCapture.open('127.0.0.93', mediaPort + 10);
  const sipp = startSipp({
    scenario,
    target,
    localIp: '127.0.0.93',
    localPort,
    mediaPort,
    service: '100',
    timeoutMs: 40_000,
  });
  return { capture, result: sipp.result };
}

/** Resolves with the exit, or undefined when the process is still running after `ms`. */
async function exitWithin(server: ServerProcess, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    server.exited,
    new Promise<undefined>((r) => (timer = setTimeout(r, ms, undefined))),
  ]);
  clearTimeout(timer);
  return result;
}

describe('graceful drain (issue 12)', () => {
  let server: ServerProcess | undefined;
  let dir: string | undefined;
  const captures: RtpCapture[] = [];
  afterEach(async () => {
    await server?.close(4000);
    server = undefined;
    for (const c of captures.splice(0)) await c.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it(
    'SIGTERM with 4 calls up: each finishes with its audio until its own BYE, new calls (SIP and API) and ' +
      'OPTIONS get 503, /readyz 503, the instance is draining in Redis, and the process exits 0 after the last call',
    { timeout: 90_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'sb-drain-'));
      const prefix = `drain-test-${process.pid}-${Date.now()}:`;
      server = await startServerProcess({
        sipHost: '127.0.0.90',
        sipPort: 49300,
        dialplans: plan('{ provider: echo }'),
        redisUrl: 'redis://127.0.0.1:6379',
        redisKeyPrefix: prefix,
        env: { MASTER_KEY: randomBytes(32).toString('base64') },
        logLevel: 'info',
      });
      const srv = server;
      // The caller speaks, then stays silent while the echo agent repeats the turn, then hangs up itself.
      const mic = withSilence(SPEECH, 8000, 0, 4000);
      const N = 4;
      const running: Array<Promise<SippResult>> = [];
      for (let i = 0; i < N; i++) {
        const mediaPort = 49310 + 20 * i;
        const scenario = await pcapCallerScenario(dir, `caller-${i}`, {
          speech: mic,
          packetMs: 20,
          ptimeMs: 20,
          callMs: 12_000,
        });
        captures.push(await RtpCapture.open('127.0.0.91', mediaPort + 10));
        running.push(
          startSipp({
            scenario,
            target: `127.0.0.90:49300`,
            localIp: '127.0.0.91',
            localPort: 49301 + i,
            mediaPort,
            service: '100',
            timeoutMs: 40_000,
          }).result,
        );
      }
      await eventually(async () => expect(await calls(srv)).toBe(N), 15_000);
      // The drain starts while every caller is still speaking (its turn lasts 4.65 s).
      expect(srv.signal('SIGTERM')).toBe(true);
      const atSignal = captures.map((c) => c.packets.length);

      await eventually(async () => {
        const drain = await srv.api('GET', '/v1/admin/drain');
        expect(drain.status).toBe(200);
        expect(drain.json).toMatchObject({ state: 'draining', trigger: 'SIGTERM', callsRemaining: N });
      }, 5000);
      const dial = await srv.api('POST', '/v1/calls', { tenant: 'demo', to: '+15550001111' });
      expect(dial.status).toBe(503);
      expect(dial.json.error.code).toBe('HTTP_DRAINING');
      expect(dial.headers.get('retry-after')).toBe('5');
      const ready = await srv.api('GET', '/readyz', undefined, null);
      expect(ready.status).toBe(503);
      expect(ready.json.checks.serving).toBe(false);

      const late = await runSipp({
        scenario: SCENARIO('invite-503'),
        target: '127.0.0.90:49300',
        localIp: '127.0.0.91',
        localPort: 49305,
        mediaPort: 49390,
        service: '100',
      });
      expect(late.exitCode, describeSipp(late)).toBe(0);
      expect(late.messages).toMatch(/Retry-After: *5/);
      const options = await runSipp({
        scenario: SCENARIO('options-503'),
        target: '127.0.0.90:49300',
        localIp: '127.0.0.91',
        localPort: 49306,
        service: 'ping',
      });
      expect(options.exitCode, describeSipp(options)).toBe(0);

      const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        await eventually(async () => {
          const keys = await redis.keys(`${prefix}instance:*`);
          expect(keys).toHaveLength(1);
          expect(JSON.parse((await redis.get(keys[0]!)) ?? '{}')).toMatchObject({ status: 'draining' });
        }, 5000);
        // Still draining: the process waits for the calls.
        expect(srv.exit).toBeUndefined();

        const results = await Promise.all(running);
        for (const r of results) expect(r.exitCode, describeSipp(r)).toBe(0);
        const exit = await exitWithin(srv, 15_000);
        expect(exit, `still running; logs:\n${srv.logs().slice(-20).join('\n')}`).toEqual({
          code: 0,
          signal: null,
        });
        // Clean exit: the instance left the registry.
        expect(await redis.keys(`${prefix}instance:*`)).toEqual([]);
      } finally {
        redis.disconnect();
      }

      // Every call was ended by its caller, none by the drain.
      expect(ended(srv).map((e) => e.reason)).toEqual(Array(N).fill('caller-bye'));
      // Each caller heard its turn echoed, all of it after the SIGTERM (the echo starts at the turn's end).
      const spoken = speechFrames(SPEECH, SPEECH_RMS);
      const figures = captures.map((c, i) => {
        const after = speechFramesOf(c.packets.slice(atSignal[i]));
        return { beforeSignal: atSignal[i], heardAfterSignal: after, total: c.packets.length };
      });
      console.info(`[drain] spoken ${spoken} speech frames; per call ${JSON.stringify(figures)}`);
      for (const f of figures) expect(f.heardAfterSignal).toBeGreaterThan(spoken * 0.8);
    },
  );

  it(
    'DRAIN_TIMEOUT_S=2 with a call that does not end: the caller hears the fallback prompt, gets a BYE, and ' +
      'the process exits 0',
    { timeout: 60_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'sb-drain-'));
      server = await startServerProcess({
        sipHost: '127.0.0.92',
        sipPort: 49300,
        dialplans: plan(`{ provider: echo, fallback: { audio: "${PROMPT_PATH}" } }`),
        env: { DRAIN_TIMEOUT_S: '2' },
        logLevel: 'info',
      });
      const srv = server;
      const { capture, result: call } = await startLongCall(dir, '127.0.0.92:49300', 49301, 49310);
      captures.push(capture);
      await eventually(async () => expect(await calls(srv)).toBe(1), 15_000);
      const heardBefore = speechFramesOf(capture.packets);
      const atSignal = capture.packets.length;
      srv.signal('SIGTERM');
      // The signal is delivered asynchronously: poll until the drain shows (bounded).
      await eventually(async () => {
        const drain = await srv.api('GET', '/v1/admin/drain');
        expect(drain.json.state).toBe('draining');
        expect(Date.parse(drain.json.deadlineAt) - Date.parse(drain.json.startedAt)).toBe(2000);
      }, 3000);

      const result = await call;
      expect(result.exitCode, describeSipp(result)).toBe(0); // it received the server's BYE
      expect(await exitWithin(srv, 15_000)).toEqual({ code: 0, signal: null });
      expect(ended(srv).map((e) => e.reason)).toEqual(['shutdown']);
      // The caller said nothing, so nothing came back before the drain; after it, the whole prompt (±20 %).
      const promptFrames = soundMs(PROMPT.samples, PROMPT.sampleRateHz, SPEECH_RMS) / 20;
      const heardAfter = speechFramesOf(capture.packets.slice(atSignal));
      console.info(
        `[drain-timeout] speech frames heard before SIGTERM ${heardBefore}, after ${heardAfter}; prompt ${promptFrames}`,
      );
      expect(heardBefore).toBe(0);
      expect(heardAfter).toBeGreaterThan(promptFrames * 0.8);
      expect(heardAfter).toBeLessThan(promptFrames * 1.2);
    },
  );

  it('a second SIGTERM ends the calls at once with a BYE and exits', { timeout: 60_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-drain-'));
    server = await startServerProcess({
      sipHost: '127.0.0.94',
      sipPort: 49300,
      dialplans: plan('{ provider: echo }'),
      logLevel: 'info',
    });
    const srv = server;
    const { capture, result: call } = await startLongCall(dir, '127.0.0.94:49300', 49302, 49350);
    captures.push(capture);
    await eventually(async () => expect(await calls(srv)).toBe(1), 15_000);
    srv.signal('SIGTERM');
    await eventually(async () => {
      expect((await srv.api('GET', '/v1/admin/drain')).json).toMatchObject({
        state: 'draining',
        callsRemaining: 1,
      });
    }, 5000);
    // DRAIN_TIMEOUT_S is the default hour: only the second signal can end this call now.
    expect(await exitWithin(srv, 1000)).toBeUndefined();
    srv.signal('SIGTERM');
    const result = await call;
    expect(result.exitCode, describeSipp(result)).toBe(0); // the BYE reached the caller
    expect(await exitWithin(srv, 10_000)).toEqual({ code: 0, signal: null });
    expect(ended(srv).map((e) => e.reason)).toEqual(['shutdown']);
  });

  it('POST /v1/admin/drain: a tenant key gets 403, the admin 202 and the idle process exits 0', async () => {
    server = await startServerProcess({
      sipHost: '127.0.0.90',
      sipPort: 49399,
      dialplans: plan('{ provider: echo }'),
      logLevel: 'info',
    });
    const srv = server;
    const key = await srv.api('POST', '/v1/tenants/demo/keys');
    expect(key.status).toBe(201);
    const tenant = key.json.token as string;
    expect((await srv.api('POST', '/v1/admin/drain', undefined, tenant)).status).toBe(403);
    expect((await srv.api('GET', '/v1/admin/drain', undefined, tenant)).status).toBe(403);
    expect((await srv.api('POST', '/v1/admin/drain', undefined, null)).status).toBe(401);
    expect((await srv.api('GET', '/v1/admin/drain')).json).toMatchObject({
      state: 'serving',
      callsRemaining: 0,
    });
    expect(srv.exit).toBeUndefined();
    const res = await srv.api('POST', '/v1/admin/drain');
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ state: expect.stringMatching(/^(draining|stopped)$/), trigger: 'api' });
    expect(await exitWithin(srv, 10_000)).toEqual({ code: 0, signal: null });
  });
});
