/**
 * Issue 11, POST /v1/calls: `to`/`from` cannot inject SIP headers or a second request, tenants cannot make
 * the server INVITE an arbitrary host:port or an unpermitted number, and an honest `from` number gives a
 * From the callee's BYE can be matched against, so the call ends when the callee hangs up.
 * The victim (a UDP+TCP listener counting INVITEs, and a sipp UAS) is on 127.0.0.3; the server on 127.0.0.1.
 * Ports on 127.0.0.3: 43810 (INVITE counter), 43811 (sipp UAS, media 43861), 43819 (closed TCP port).
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { describeSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const VICTIM = '127.0.0.3';
const COUNTER_PORT = 43810;
const UAS_PORT = 43811;
const CLOSED_PORT = 43819;

const DIALPLANS = {
  'acme.yaml': [
    'tenant: acme',
    'numbers: ["100"]',
    'outbound: { allow: ["+1555*"], max_concurrent_calls: 1, calls_per_minute: 30 }',
    'agent: { provider: echo }',
    '',
  ].join('\n'),
  'meter.yaml': [
    'tenant: meter',
    'numbers: ["200"]',
    'outbound: { allow: ["*"], max_concurrent_calls: 5, calls_per_minute: 2 }',
    'agent: { provider: echo }',
    '',
  ].join('\n'),
};

/**
 * A callee that answers, lets the call run two seconds, then hangs up itself and expects our 200 to its BYE
 * (RFC 3261 §15.1.2). The BYE's To is the caller's From from the INVITE: if our From were not an address,
 * our own parser would refuse the BYE with 400 and sipp would fail on the unexpected response.
 */
const UAS_BYE_XML = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas-sends-bye">
  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" check_it="true" assign_to="remote_from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" check_it="true" assign_to="local_to"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" check_it="true" assign_to="remote_contact"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK"/>
  <pause milliseconds="2000"/>
  <send>
    <![CDATA[
      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_to];tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      [last_Call-ID:]
      CSeq: 1 BYE
      Max-Forwards: 70
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
`;

/** Counts every SIP request line that reaches VICTIM:COUNTER_PORT over UDP or TCP. */
class InviteCounter {
  readonly requests: string[] = [];
  #udp: Socket | undefined;
  #tcp: Server | undefined;

  async start(): Promise<void> {
    const udp = createSocket('udp4');
    udp.on('message', (m, rinfo) => {
      const text = m.toString('latin1');
      const lines = text.split('\r\n');
      this.requests.push(lines[0] ?? '');
      // Answer INVITEs 486 (RFC 3261 §8.2.6 copies Via/From/To/Call-ID/CSeq), so a dial ends at once.
      if (!text.startsWith('INVITE ')) return;
      const copy = lines.filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
      const reply = [
        'SIP/2.0 486 Busy Here',
        ...copy.map((l) => (/^To:/i.test(l) ? `${l};tag=busy1` : l)),
        'Content-Length: 0',
        '',
        '',
      ];
      udp.send(reply.join('\r\n'), rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => udp.bind(COUNTER_PORT, VICTIM, r));
    this.#udp = udp;
    const tcp = createServer((s) => {
      s.on('data', (d) => {
        for (const line of d.toString('latin1').split('\r\n'))
          if (/ SIP\/2\.0$/.test(line)) this.requests.push(line);
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => tcp.listen(COUNTER_PORT, VICTIM, r));
    this.#tcp = tcp;
  }

  get invites(): number {
    return this.requests.filter((l) => l.startsWith('INVITE ')).length;
  }

  async close(): Promise<void> {
    this.#udp?.close();
    await new Promise<void>((r) => (this.#tcp === undefined ? r() : this.#tcp.close(() => r())));
  }
}

describe('POST /v1/calls cannot be abused', () => {
  let srv: TestServer;
  let counter: InviteCounter;
  let tmp: string;
  let acmeToken: string;
  let meterToken: string;

  beforeAll(async () => {
    srv = await startTestServer({ dialplans: DIALPLANS });
    counter = new InviteCounter();
    await counter.start();
    tmp = await mkdtemp(join(tmpdir(), 'sb-outbound-sec-'));
    acmeToken = String((await srv.api('POST', '/v1/tenants/acme/keys')).json.token);
    meterToken = String((await srv.api('POST', '/v1/tenants/meter/keys')).json.token);
    // The operator's trunk for acme points at the counter: anything sent "through the trunk" is seen there.
    const put = await srv.api('PUT', '/v1/tenants/acme/credentials/sip-trunk', {
      uri: `sip:${VICTIM}:${COUNTER_PORT}`,
    });
    expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
  });
  afterAll(async () => {
    await counter?.close();
    await srv?.close();
    await rm(tmp, { recursive: true, force: true });
  });

  it('refuses CR/LF and header or parameter smuggling in to/from with 400 and the zod issue; no INVITE beyond the honest one leaves', async () => {
    // Positive control: an honest call through the trunk does reach the counter (which answers 486).
    const honest = await srv.api('POST', '/v1/calls', { tenant: 'acme', to: '+15550123' }, acmeToken);
    expect(honest.status, JSON.stringify(honest.json)).toBe(502);
    expect(honest.json.error.code).toBe('SIP_486');
    expect(counter.invites).toBe(1);
    const direct = `sip:bot@${VICTIM}:${COUNTER_PORT}`;
    const attempts: Array<{ body: Record<string, string>; token: string; field: string }> = [
      {
        body: { to: `${direct}\r\nP-Asserted-Identity: <sip:ceo@bank.example>` },
        token: srv.adminToken,
        field: 'to',
      },
      {
        body: { to: `${direct};transport=tcp>\r\n\r\nINVITE sip:x@127.0.0.1 SIP/2.0` },
        token: srv.adminToken,
        field: 'to',
      },
      {
        body: { to: direct, from: 'alice\r\nP-Asserted-Identity: <sip:ceo@bank.example>' },
        token: srv.adminToken,
        field: 'from',
      },
      { body: { to: '+15550123\r\nX-Evil: 1' }, token: acmeToken, field: 'to' },
      {
        body: { to: '+15550123', from: '+15550100\nVia: SIP/2.0/UDP evil' },
        token: acmeToken,
        field: 'from',
      },
      {
        body: { to: `${direct}?P-Asserted-Identity=sip:ceo@bank.example` },
        token: srv.adminToken,
        field: 'to',
      },
      { body: { to: `sip:bot@${VICTIM};maddr=127.0.0.1` }, token: srv.adminToken, field: 'to' },
      { body: { to: `sip:bot@evil.example>;x=<sip:a@b` }, token: srv.adminToken, field: 'to' },
    ];
    for (const a of attempts) {
      const r = await srv.api('POST', '/v1/calls', { tenant: 'acme', ...a.body }, a.token);
      expect(r.status, JSON.stringify(a.body)).toBe(400);
      expect(r.json.error.code).toBe('HTTP_BAD_REQUEST');
      expect(r.json.error.issues?.[0]?.path, JSON.stringify(r.json)).toEqual([a.field]);
      if (/[\r\n]/.test(JSON.stringify(a.body))) expect(r.json.error.issues[0].message).toMatch(/CR, LF/);
    }
    // Give a stray INVITE time to arrive: UDP over loopback is immediate, but be generous.
    await new Promise((r) => setTimeout(r, 300));
    expect(counter.invites).toBe(1);
  });

  it('answers 403 to a tenant key giving a full SIP URI or an unpermitted number; no INVITE leaves', async () => {
    for (const body of [
      { to: `sip:bot@${VICTIM}:${COUNTER_PORT}` },
      { to: `sips:bot@${VICTIM}:${COUNTER_PORT}` },
      { to: '+15550123', from: `sip:ceo@bank.example` },
      { to: '+4930123456' },
      { to: '900555123' },
    ]) {
      const r = await srv.api('POST', '/v1/calls', { tenant: 'acme', ...body }, acmeToken);
      expect(r.status, JSON.stringify(body)).toBe(403);
      expect(r.json.error.code).toBe('HTTP_FORBIDDEN');
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(counter.invites).toBe(1);
  });

  it(
    'an honest from "+15550100" becomes a SIP address, and the callee\'s BYE ends the call',
    { timeout: 30_000 },
    async () => {
      const scenario = join(tmp, 'uas-sends-bye.xml');
      await writeFile(scenario, UAS_BYE_XML);
      // The trunk for this call is the sipp UAS (the operator writes it; the tenant only dials a number).
      await srv.api('PUT', '/v1/tenants/acme/credentials/sip-trunk', { uri: `sip:${VICTIM}:${UAS_PORT}` });
      const uas = startSipp({
        scenario,
        localIp: VICTIM,
        localPort: UAS_PORT,
        mediaPort: UAS_PORT + 50,
        timeoutMs: 20_000,
      });
      await new Promise((r) => setTimeout(r, 400));
      const dial = await srv.api(
        'POST',
        '/v1/calls',
        { tenant: 'acme', to: '+1 555 0199', from: '+15550100' },
        acmeToken,
      );
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      // max_concurrent_calls: 1 — a second call while this one is up is refused before any INVITE.
      const second = await srv.api('POST', '/v1/calls', { tenant: 'acme', to: '+15550198' }, acmeToken);
      expect(second.status, JSON.stringify(second.json)).toBe(429);
      expect(second.json.error.message).toMatch(/already in progress/);
      const r = await uas.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(r.messages).toMatch(/^INVITE sip:\+15550199@127\.0\.0\.3:43811 SIP\/2\.0/m);
      expect(r.messages).toMatch(/^From: <sip:\+15550100@127\.0\.0\.1>;tag=/m);
      // sipp received our 200 to its BYE (the scenario's last step); the call leaves the live list.
      await eventually(async () => {
        const list = await srv.api('GET', '/v1/calls', undefined, acmeToken);
        expect(list.json.calls).toEqual([]);
      });
      await srv.api('PUT', '/v1/tenants/acme/credentials/sip-trunk', {
        uri: `sip:${VICTIM}:${COUNTER_PORT}`,
      });
    },
  );

  it(
    'limits a tenant to its calls per minute (429 with Retry-After) and refuses before any INVITE',
    { timeout: 30_000 },
    async () => {
      await srv.api('PUT', '/v1/tenants/meter/credentials/sip-trunk', {
        uri: `sip:${VICTIM}:${CLOSED_PORT};transport=tcp`,
      });
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${srv.baseUrl}/v1/calls`, {
          method: 'POST',
          headers: { authorization: `Bearer ${meterToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ tenant: 'meter', to: `+1555010${i}` }),
        });
        statuses.push(res.status);
        if (res.status === 429) retryAfter = res.headers.get('retry-after');
        await res.text();
      }
      // Two attempts reach the (closed) trunk and fail with the SIP error; the next ones are refused.
      expect(statuses).toEqual([502, 502, 429, 429]);
      expect(retryAfter).toBe('60');
    },
  );
});
