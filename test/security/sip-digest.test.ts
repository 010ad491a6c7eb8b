/**
 * Issue 11, inbound digest auth per dialplan, against the production server (startTestServer) with sipp as
 * the caller (its own digest code, not ours). Dialplan `auth` on 100 (realm "switchboard-test") and 101
 * (nonce_ttl_s 2); 200 has none. The `sip-inbound` credential is written through the control API by the admin.
 * What an unauthenticated INVITE may cost is counted with spies on the running server's RTP port pool and
 * agent registry: nothing, for no answer, a wrong password or a forged nonce; one port and one agent for the
 * authenticated call, whose audio is echoed back (VictimRtp: PCMU written from G.711, not the server's codec).
 * A second server with a tight INVITE rate (1/s, burst 6) shows a password guesser held by the rate limit:
 * only the guesses the limiter lets through cost a credential read.
 * Addresses 127.0.0.40–44, ports 49000–49099 (SDP ports at signalling port + 2).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPcm16Wav } from '../support/baresip.js';
import { describeSipp, runSipp, type SippOptions, type SippResult } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { VictimRtp, speechFrames } from '../support/victim-rtp.js';

const scenario = (name: string): string => fileURLToPath(new URL(`./scenarios/${name}`, import.meta.url));
const VICTIM_SCENARIO = fileURLToPath(new URL('./sip-victim-call.xml', import.meta.url));
const SPEECH = readPcm16Wav(
  readFileSync(fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url))),
);
const USER = 'pbx-trunk-1';
const PASSWORD = 'Tr0mbone-Octopus-42';
const REALM = 'switchboard-test';

const DIALPLANS = {
  'acme.yaml': [
    'tenant: acme',
    'numbers: ["100"]',
    `auth: { credential: sip-inbound, realm: ${REALM} }`,
    'agent: { provider: echo }',
    '',
  ].join('\n'),
  'beta.yaml': [
    'tenant: beta',
    'numbers: ["101"]',
    'auth: { nonce_ttl_s: 2 }',
    'agent: { provider: echo }',
    '',
  ].join('\n'),
  'open.yaml': 'tenant: open\nnumbers: ["200"]\nagent: { provider: echo }\n',
};

/** Responses sipp received with this status (its -trace_msg log marks each "message received"). */
function received(r: SippResult, status: number): string[] {
  return r.messages
    .split(/-{20,}[^\n]*\n/)
    .filter((m) => /message received/.test(m) && new RegExp(`^SIP/2\\.0 ${status} `, 'm').test(m));
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

describe('SIP digest auth on a dialplan (issue 11)', () => {
  let srv: TestServer;
  let allocations = 0;
  let agents = 0;

  beforeAll(async () => {
    srv = await startTestServer({ dialplans: DIALPLANS, logLevel: 'debug' });
    // Spies on the running server's own objects: every RTP port lease and every agent goes through these.
    const pool = srv.server.rtpPorts as unknown as { allocate: (...a: unknown[]) => Promise<unknown> };
    const allocate = pool.allocate.bind(pool);
    pool.allocate = (...a) => {
      allocations++;
      return allocate(...a);
    };
    const registry = srv.server.registry as unknown as { create: (...a: unknown[]) => unknown };
    const create = registry.create.bind(registry);
    registry.create = (...a) => {
      agents++;
      return create(...a);
    };
    const put = await srv.api('PUT', '/v1/tenants/acme/credentials/sip-inbound', {
      username: USER,
      password: PASSWORD,
    });
    expect(put.status).toBe(204);
    const beta = await srv.api('PUT', '/v1/tenants/beta/credentials/sip-inbound', {
      username: USER,
      password: PASSWORD,
    });
    expect(beta.status).toBe(204);
  });
  afterAll(async () => {
    await srv?.close();
  });

  /** sipp's answer credentials; its digest uri defaults to host:port only, so name the number (-auth_uri). */
  const authArgs = (number: string, password: string): string[] => [
    '-au',
    USER,
    '-ap',
    password,
    '-auth_uri',
    `${number}@127.0.0.1:${srv.sipPort}`,
  ];
  /** One sipp caller from `localIp:localPort`, its SDP on localPort + 2, calling `service`. */
  const sipp = (
    file: string,
    at: { readonly localIp: string; readonly localPort: number; readonly service: string },
    o: Partial<SippOptions> = {},
  ): Promise<SippResult> =>
    runSipp({
      scenario: file.startsWith('/') ? file : scenario(file),
      target: `127.0.0.1:${srv.sipPort}`,
      timeoutMs: 30_000,
      ...at,
      ...o,
      vars: { rtp_port: String(at.localPort + 2), ...o.vars },
    });

  it('the credential is admin-written only; a tenant key reads it fully masked, the admin without the password', async () => {
    const key = await srv.api('POST', '/v1/tenants/acme/keys');
    expect(key.status).toBe(201);
    const token = key.json.token as string;
    const write = await srv.api(
      'PUT',
      '/v1/tenants/acme/credentials/sip-inbound',
      { username: 'x', password: 'tenant-chosen-password' },
      token,
    );
    expect(write.status).toBe(403);
    const asTenant = await srv.api('GET', '/v1/tenants/acme/credentials/sip-inbound', undefined, token);
    expect(asTenant.status).toBe(200);
    expect(asTenant.json.fields.username).toMatch(/^\*{4}/);
    expect(asTenant.json.fields.password).toMatch(/^\*{4}/);
    const asAdmin = await srv.api('GET', '/v1/tenants/acme/credentials/sip-inbound');
    expect(asAdmin.json.fields).toEqual({ username: USER, password: `****${PASSWORD.slice(-4)}` });
    const weak = await srv.api('PUT', '/v1/tenants/acme/credentials/sip-inbound', {
      username: 'a',
      password: 'short',
    });
    expect(weak.status).toBe(422);
  });

  it('no credentials: 401 with an MD5 qop=auth challenge, ACK absorbed, no port and no agent', async () => {
    const before = { allocations, agents };
    const r = await sipp('digest-none.xml', { localIp: '127.0.0.40', localPort: 49000, service: '100' });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const challenges = received(r, 401);
    // One 401 only: with the ACK unmatched the server would retransmit it (Timer G, 500 ms then 1 s).
    expect(challenges, describeSipp(r)).toHaveLength(1);
    expect(challenges[0]).toMatch(
      new RegExp(
        `^WWW-Authenticate: Digest realm="${REALM}", nonce="[0-9a-f]{56}", algorithm=MD5, qop="auth"\\s*$`,
        'm',
      ),
    );
    expect({ allocations, agents }).toEqual(before);
    expect(srv.server.rtpPorts.inUse).toBe(0);
  });

  it(
    'right credentials: the retried INVITE is answered and the caller hears its echo',
    { timeout: 60_000 },
    async () => {
      const before = { allocations, agents };
      const rtp = await VictimRtp.bind('127.0.0.41', 49012); // the SDP port: localPort + 2
      try {
        const call = sipp(
          'digest-call.xml',
          { localIp: '127.0.0.41', localPort: 49010, service: '100' },
          { durationMs: 12_000, extraArgs: authArgs('100', PASSWORD) },
        );
        let port: number | undefined;
        for (let i = 0; i < 400 && port === undefined; i++) {
          port = srv.server.calls.liveCalls().find((c) => c.from === 'auth-caller')?.media.localPort;
          if (port === undefined) await new Promise((r) => setTimeout(r, 25));
        }
        expect(port, 'the authenticated call was never established').toBeDefined();
        // The echo agent replays an utterance once it has ended: 5 s of silence leave room for all of it.
        await rtp.play({ address: '127.0.0.1', port: port! }, SPEECH.samples, 5000);
        const r = await call;
        expect(r.exitCode, describeSipp(r)).toBe(0);
        expect(received(r, 401)).toHaveLength(1);
        const sent = speechFrames(SPEECH.samples);
        console.info(
          `[sip-digest] authenticated call: ${rtp.speechFrames} speech frames echoed of ${sent} sent`,
        );
        // Media time: speech frames counted on arrival; 80 % allows for VAD edges and jitter-buffer start-up.
        expect(rtp.speechFrames).toBeGreaterThan(sent * 0.8);
        expect({ allocations: allocations - before.allocations, agents: agents - before.agents }).toEqual({
          allocations: 1,
          agents: 1,
        });
      } finally {
        rtp.close();
      }
    },
  );

  it(
    'over TCP too: challenge and answer on one connection, the call answered',
    { timeout: 60_000 },
    async () => {
      const r = await sipp(
        'digest-call.xml',
        { localIp: '127.0.0.42', localPort: 49070, service: '100' },
        { transport: 'tcp', durationMs: 500, extraArgs: authArgs('100', PASSWORD) },
      );
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(received(r, 401)).toHaveLength(1);
      expect(received(r, 200).length).toBeGreaterThanOrEqual(2); // the INVITE's and the BYE's
    },
  );

  it('wrong password: 403 after the challenge, nothing allocated', async () => {
    const before = { allocations, agents };
    const r = await sipp(
      'digest-wrong.xml',
      { localIp: '127.0.0.42', localPort: 49020, service: '100' },
      { extraArgs: authArgs('100', `${PASSWORD}x`) },
    );
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(received(r, 403)).toHaveLength(1);
    expect({ allocations, agents }).toEqual(before);
    expect(srv.server.rtpPorts.inUse).toBe(0);
  });

  it(
    'an expired nonce answered correctly gets 401 stale=true, and the answer to the fresh nonce is accepted',
    { timeout: 60_000 },
    async () => {
      const r = await sipp(
        'digest-stale.xml',
        { localIp: '127.0.0.43', localPort: 49030, service: '101' },
        { durationMs: 500, extraArgs: authArgs('101', PASSWORD) },
      );
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const challenges = received(r, 401);
      expect(challenges).toHaveLength(2);
      expect(challenges[0]).not.toMatch(/stale/);
      // The default realm is the tenant name.
      expect(challenges[1]).toMatch(
        /^WWW-Authenticate: Digest realm="beta", nonce="[0-9a-f]{56}".*stale=true/m,
      );
      expect(received(r, 200).length).toBeGreaterThanOrEqual(1);
    },
  );

  it('a forged nonce with a response computed over it gets a fresh 401 (not stale), nothing allocated', async () => {
    const before = { allocations, agents };
    // Shaped like ours (time + random + MAC) but signed with nobody's key; the response is right for it.
    const nonce = `${Math.floor(Date.now() / 1000).toString(16)}${'ab'.repeat(24)}`;
    const cnonce = '0a4f113b';
    const uri = `sip:100@127.0.0.1:${srv.sipPort}`;
    const ha1 = md5(`${USER}:${REALM}:${PASSWORD}`);
    const response = md5(`${ha1}:${nonce}:00000001:${cnonce}:auth:${md5(`INVITE:${uri}`)}`);
    const r = await sipp(
      'digest-forged.xml',
      { localIp: '127.0.0.44', localPort: 49040, service: '100' },
      { vars: { nonce, response, cnonce, user: USER, realm: REALM } },
    );
    expect(r.exitCode, describeSipp(r)).toBe(0);
    expect(r.messages).toContain(`nonce="${nonce}"`);
    const challenges = received(r, 401);
    expect(challenges).toHaveLength(1);
    expect(challenges[0]).not.toMatch(/stale/);
    expect({ allocations, agents }).toEqual(before);
  });

  it(
    'a dialplan without auth is unaffected: no challenge, the call is answered',
    { timeout: 60_000 },
    async () => {
      const r = await sipp(
        VICTIM_SCENARIO,
        { localIp: '127.0.0.40', localPort: 49050, service: '200' },
        { durationMs: 500 },
      );
      expect(r.exitCode, describeSipp(r)).toBe(0);
      expect(received(r, 401)).toHaveLength(0);
    },
  );

  it('the password never reaches a log line', () => {
    const logs = srv.logs.join('');
    expect(logs).toContain('call refused by digest auth');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toContain(md5(`${USER}:${REALM}:${PASSWORD}`));
  });
});

describe('SIP digest auth: a password guesser is held by the INVITE rate limit before any check', () => {
  const RATE_PER_S = 1;
  const BURST = 6;
  let srv: TestServer;
  let reads = 0;

  beforeAll(async () => {
    srv = await startTestServer({
      dialplans: { 'acme.yaml': DIALPLANS['acme.yaml'] },
      env: { SIP_INVITE_RATE: String(RATE_PER_S), SIP_INVITE_BURST: String(BURST) },
      credentials: [
        { tenant: 'acme', provider: 'sip-inbound', fields: { username: USER, password: PASSWORD } },
      ],
      logLevel: 'warn',
    });
    // Every password check reads the credential: count them on the server's own store.
    const store = srv.server.store as unknown as { getCredential: (...a: unknown[]) => Promise<unknown> };
    const get = store.getCredential.bind(store);
    store.getCredential = (...a) => {
      if (a[1] === 'sip-inbound') reads++;
      return get(...a);
    };
  });
  afterAll(async () => {
    await srv?.close();
  });

  it(
    '20 guessing calls from one address: most are refused 503 unread, every guess checked is a 403',
    { timeout: 60_000 },
    async () => {
      const calls = 20; // two INVITEs each: the challenge and the guess
      const started = performance.now();
      const r = await runSipp({
        scenario: scenario('digest-guess.xml'),
        target: `127.0.0.1:${srv.sipPort}`,
        localIp: '127.0.0.44',
        localPort: 49060,
        service: '100',
        calls,
        vars: { rtp_port: '49062' },
        timeoutMs: 40_000,
        extraArgs: [
          '-r',
          '20',
          '-l',
          '20',
          '-au',
          USER,
          '-ap',
          'guess-guess-guess',
          '-auth_uri',
          `100@127.0.0.1:${srv.sipPort}`,
        ],
      });
      const elapsedS = (performance.now() - started) / 1000;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const forbidden = received(r, 403).length;
      const limited = received(r, 503).length;
      console.info(
        `[sip-digest] guesser: ${calls} calls in ${elapsedS.toFixed(1)} s: ${forbidden} guesses checked (403), ` +
          `${limited} INVITEs refused 503, ${reads} credential reads`,
      );
      // Each checked guess cost exactly one credential read; a refused INVITE cost none.
      expect(reads).toBe(forbidden);
      expect(forbidden + limited).toBeGreaterThanOrEqual(calls);
      // Tokens: the burst, then RATE_PER_S per second however slow the machine (two tokens per checked guess).
      expect(forbidden).toBeLessThanOrEqual(Math.floor((BURST + RATE_PER_S * elapsedS) / 2) + 1);
      expect(limited).toBeGreaterThan(0);
    },
  );
});
