/**
 * A sipp caller for turn-taking tests (issue 14): it plays a pcap of caller audio (PCMA, 20 ms) and stays
 * on the call; a socket of the test owns the m= port and records every packet the server sends; the server's
 * media clock is counted on the live call's leg (one 'tick' per ptime), so moments of the server (a webhook
 * arriving, a provider message) are placed in media time.
 */
import { randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePcapUdp, type PcapDatagram } from './pcap.js';
import { RtpCapture, pcapCallerScenario } from './rtp-peer.js';
import { startSipp, type SippProcess } from './sipp.js';
import type { TestServer } from './server.js';
import { waitForLiveCall } from './live-call.js';
import type { LiveCall } from '../../src/call/call-ports.js';

/** The server's media clock on one call: ticks counted, and which ticks sent a frame. */
export class ServerClock {
  ticks = 0;
  readonly sentTicks: number[] = [];

  constructor(call: LiveCall) {
    call.media.on('tick', (_caller, sent) => {
      if (sent !== undefined) this.sentTicks.push(this.ticks);
      this.ticks++;
    });
  }

  /** The first tick ≥ `from` at which the server sent a frame, or -1. */
  firstSentFrom(from: number): number {
    return this.sentTicks.find((t) => t >= from) ?? -1;
  }
}

export interface SippCaller {
  readonly capture: RtpCapture;
  readonly sipp: SippProcess;
  readonly call: LiveCall;
  readonly clock: ServerClock;
  close(waitMs?: number): Promise<void>;
}

/**
 * Calls `user` on the server from `ip` (the test's loopback block) with `speech` (8 kHz) played from the
 * start and `callMs` on the call before sipp's BYE (unless the server hangs up first). `datagrams`
 * replaces the PCMA stream (e.g. comfort-noise packets).
 */
export async function sippCaller(
  srv: TestServer,
  dir: string,
  o: {
    readonly name: string;
    readonly ip: string;
    readonly speech: Int16Array;
    readonly callMs: number;
    readonly user?: string;
    /** Replaces the PCMA packets of `speech` (e.g. with comfort-noise packets); pcap time is send time. */
    readonly datagrams?: PcapDatagram[];
    /** sipp waits this long after the ACK before its first RTP packet. */
    readonly rtpDelayMs?: number;
  },
): Promise<SippCaller> {
  const mediaPort = 46000 + 20 * randomInt(0, 200);
  const scenario = await pcapCallerScenario(dir, o.name, {
    speech: o.speech,
    packetMs: 20,
    ptimeMs: 20,
    callMs: o.callMs,
  });
  if (o.datagrams !== undefined) writePcapUdp(join(dir, `${o.name}.pcap`), o.datagrams);
  if (o.rtpDelayMs !== undefined) {
    const xml = await readFile(scenario, 'utf8');
    const play = '<nop><action><exec play_pcap_audio=';
    if (!xml.includes(play)) throw new Error('scenario has no play_pcap_audio');
    await writeFile(scenario, xml.replace(play, `<pause milliseconds="${o.rtpDelayMs}"/>${play}`));
  }
  const capture = await RtpCapture.open(o.ip, mediaPort + 10);
  const sipp = startSipp({
    scenario,
    target: `127.0.0.1:${srv.sipPort}`,
    localIp: o.ip,
    localPort: 15000 + randomInt(0, 5000),
    mediaIp: o.ip,
    mediaPort,
    service: o.user ?? '100',
    timeoutMs: o.callMs + 20_000,
  });
  const call = await waitForLiveCall(srv, (c) => c.direction === 'inbound', 10_000);
  const clock = new ServerClock(call);
  return {
    capture,
    sipp,
    call,
    clock,
    /** Waits for sipp's own BYE (at most `waitMs`, then kills it) and closes the capture. */
    async close(waitMs = o.callMs + 5000) {
      let timer: NodeJS.Timeout | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          sipp.kill();
          resolve();
        }, waitMs);
      });
      await Promise.race([sipp.result.then(() => undefined), killed]);
      clearTimeout(timer);
      await sipp.result.catch(() => undefined);
      await capture.close();
    },
  };
}
