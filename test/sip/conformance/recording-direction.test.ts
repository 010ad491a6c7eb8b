/**
 * Conformance: a recorded call's metadata names who placed it (issue 10): an inbound call from sipp's
 * built-in uac is `direction: "inbound"` in call.json, an outbound call of CallControl.dial (what
 * `POST /v1/calls` runs) to sipp's built-in uas is `direction: "outbound"`. Production server, echo agent
 * with `record: true`. Ports: sipp on 127.0.0.70, 49200–49201 (media 49250–49251).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeSipp, runSipp, startSipp } from '../../support/sipp.js';
import {
  endedCalls,
  eventually,
  expectNothingLeaked,
  logsWith,
  startConformanceServer,
  type ServerUnderTest,
} from './harness.js';

const PEER = '127.0.0.70';
const RECORDED_DIALPLAN =
  'tenant: recdir\nnumbers: ["*"]\nagent: { provider: echo, record: true, tools: { end_call: {} } }\n';

interface CallJson {
  readonly callId: string;
  readonly direction: string;
  readonly endedAt: string | null;
}

describe('SIP conformance: recording metadata names the call direction (production server)', () => {
  let sut: ServerUnderTest;

  beforeAll(async () => {
    sut = await startConformanceServer({ dialplans: { 'recdir.yaml': RECORDED_DIALPLAN } });
  });
  afterAll(async () => {
    await sut?.close();
  });
  afterEach(async () => {
    await expectNothingLeaked(sut);
  });

  /** call.json of a finished call, once the recorder has closed it (endedAt set). */
  async function callJson(callId: string): Promise<CallJson> {
    const path = join(sut.srv.recordingsDir, 'recdir', callId, 'call.json');
    let meta: CallJson | undefined;
    await eventually(async () => {
      meta = JSON.parse(await readFile(path, 'utf8')) as CallJson;
      expect(meta.endedAt).not.toBeNull();
    });
    return meta!;
  }

  it('an inbound call is recorded as inbound', async () => {
    const before = endedCalls(sut).length;
    const r = await runSipp({
      scenario: { builtin: 'uac' },
      target: sut.target,
      localIp: PEER,
      localPort: 49200,
      mediaPort: 49250,
      service: 'agent',
      durationMs: 1000,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await eventually(() => expect(endedCalls(sut).length).toBe(before + 1));
    const started = logsWith(sut, 'call started').at(-1)!;
    expect(started).toMatchObject({ direction: 'inbound' });
    const meta = await callJson(String(started.callId));
    expect(meta).toMatchObject({ callId: started.callId, direction: 'inbound' });
  });

  it('an outbound call (CallControl.dial) is recorded as outbound', async () => {
    const before = endedCalls(sut).length;
    const peer = startSipp({
      scenario: { builtin: 'uas' },
      localIp: PEER,
      localPort: 49201,
      mediaPort: 49251,
      timeoutMs: 15_000,
    });
    // Let sipp bind its socket before we send to it.
    await new Promise((r) => setTimeout(r, 400));
    const { id } = await sut.srv.server.calls.dial({
      tenant: 'recdir',
      to: `sip:bot@${PEER}:49201`,
      trusted: true,
    });
    expect(logsWith(sut, 'call started').at(-1)).toMatchObject({ callId: id, direction: 'outbound' });
    expect(await sut.srv.server.calls.hangup(id)).toBe(true);
    const r = await peer.result;
    expect(r.exitCode, describeSipp(r)).toBe(0);
    await eventually(() => expect(endedCalls(sut).length).toBe(before + 1));
    const meta = await callJson(id);
    expect(meta).toMatchObject({ callId: id, direction: 'outbound' });
  });
});
