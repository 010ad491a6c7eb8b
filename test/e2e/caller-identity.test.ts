/**
 * Caller identity and headers (issue 13) through the production wiring: a sipp caller sends a forwarded
 * call's P-Asserted-Identity, Remote-Party-ID, Diversion, History-Info, Privacy and X- headers; the OpenAI
 * mock receives instructions rendered with them (configured headers only, values cleaned and capped), and
 * call.json keeps them. Outbound, the trunk's from_user/from_name/pai settings set From and
 * P-Asserted-Identity, checked in the INVITE a sipp UAS received; a trunk field with CR/LF is refused.
 * Loopback block 127.0.0.130–139, ports 53000–53999 (sipp 53070/53080, media +100).
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { expectNoSecretsIn } from '../support/secrets.js';
import { startOpenAIMock, type OpenAIMockServer } from '../support/openai-mock.js';
import { describeSipp, runSipp, startSipp } from '../support/sipp.js';
import { startTestServer, type TestServer } from '../support/server.js';

const INSTRUCTIONS = [
  'from={{caller.number}} name={{caller.name}}',
  'asserted={{caller.asserted.number}} aname={{caller.asserted.name}} pai={{caller.pai.uri}}',
  'rpid={{caller.rpid.number}} screen={{caller.rpid.screen}} privacy={{caller.privacy}}',
  'div={{diversion.number}} reason={{diversion.reason}} orig={{diversion.original.number}} n={{diversion.count}}',
  'hist={{history.original.number}} last={{history.last.number}} why={{history.reason}} k={{history.count}}',
  'account=[{{sip.headers.X-Account-Id}}] long=[{{ sip.headers.x-long }}]',
  'other=[{{sip.headers.X-Not-Configured|none}}] missing=[{{caller.nothing|n/a}}] tenant={{tenant}}',
].join('\n');

const TRUNK_PASSWORD = `trunk-${randomBytes(8).toString('hex')}`;
const DIALPLAN = {
  'ident.yaml': [
    'tenant: ident',
    'numbers: ["100"]',
    'headers: [X-Account-Id, X-Long]',
    'outbound: { allow: ["*"] }',
    'agent:',
    '  provider: openai',
    '  record: true',
    `  instructions: ${JSON.stringify(INSTRUCTIONS)}`,
  ].join('\n'),
};

describe('caller identity and headers', () => {
  let mock: OpenAIMockServer;
  let srv: TestServer;

  beforeAll(async () => {
    mock = await startOpenAIMock({ mode: 'ga', apiKey: 'sk-ident-test' });
    srv = await startTestServer({ dialplans: DIALPLAN, logLevel: 'info' });
    await srv.server.store.putCredential('ident', 'openai', { apiKey: 'sk-ident-test', url: mock.url });
  }, 30_000);
  afterAll(async () => {
    await srv?.close();
    await mock?.close();
  });

  it('gives the agent and the recording the INVITE identity headers', { timeout: 60_000 }, async () => {
    const r = await runSipp({
      scenario: 'uac-identity.xml',
      target: `127.0.0.1:${srv.sipPort}`,
      localIp: '127.0.0.137',
      localPort: 53070,
      mediaPort: 53170,
      service: '100',
      timeoutMs: 30_000,
    });
    expect(r.exitCode, describeSipp(r)).toBe(0);
    const update = (await mock.waitForMessage('session.update', undefined, 10_000)) as {
      session: { instructions?: string };
    };
    const lines = (update.session.instructions ?? '').split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'from=2125550100 name=Front Desk',
      // RFC 3325: the tel: identity is the canonical number; the name comes from the entry that has one.
      'asserted=+14155550123 aname=Alice Example pai=tel:+14155550123',
      'rpid=+14155550124 screen=yes privacy=none',
      // RFC 5806: the top Diversion is the most recent redirect, the bottom one the original called number.
      'div=+18005550199 reason=no-answer orig=+18005550100 n=2',
      'hist=+18005550100 last=+18005550199 why=SIP;cause=302 k=3',
    ]);
    // The TAB is removed, the braces stay text (one rendering pass); X-Long is capped at 128 characters.
    expect(lines[5]).toBe(`account=[ACME-42{{tenant}}] long=[${'L'.repeat(128)}]`);
    // A header the dialplan did not list never reaches the agent.
    expect(lines[6]).toBe('other=[none] missing=[n/a] tenant=ident');
    expect(update.session.instructions).not.toContain('secret-ish');

    const dir = join(srv.recordingsDir, 'ident');
    const [callId] = await eventually(async () => {
      const ids = await readdir(dir);
      expect(ids).toHaveLength(1);
      const meta = JSON.parse(await readFile(join(dir, ids[0] ?? '', 'call.json'), 'utf8')) as {
        endedAt: string | null;
      };
      expect(meta.endedAt).not.toBeNull();
    }, 15_000).then(() => readdir(dir));
    const meta = JSON.parse(await readFile(join(dir, callId ?? '', 'call.json'), 'utf8')) as {
      variables: Record<string, string>;
    };
    expect(meta.variables).toMatchObject({
      'caller.number': '2125550100',
      'caller.pai.number': '+14155550123',
      'caller.rpid.party': 'calling',
      'diversion.reason': 'no-answer',
      'history.original.number': '+18005550100',
      'sip.headers.X-Account-Id': 'ACME-42{{tenant}}',
      'called.number': '100',
      tenant: 'ident',
    });
    expect(meta.variables['sip.headers.X-Not-Configured']).toBeUndefined();
    expect(Object.values(meta.variables).every((v) => v.length <= 128 && !/[\r\n\t]/.test(v))).toBe(true);
  });

  it('refuses trunk identity fields that could break a header, and changes nothing', async () => {
    for (const bad of [
      { from_user: 'evil\r\nX-Injected: 1' },
      { pai: '<sip:a@b>\r\nVia: x' },
      { from_name: 'quote " inside' },
      { from_domain: 'bad host' },
    ]) {
      const put = await srv.api('PUT', '/v1/tenants/ident/credentials/sip-trunk', {
        uri: 'sip:127.0.0.138:53080',
        ...bad,
      });
      expect(put.status, JSON.stringify(bad)).toBe(422);
      expect(put.json.error.message).toMatch(`invalid "${Object.keys(bad)[0] ?? ''}"`);
    }
    expect(await srv.server.store.getCredential('ident', 'sip-trunk')).toBeUndefined();
  });

  it(
    'sets From and P-Asserted-Identity of a trunk call from the trunk settings',
    { timeout: 60_000 },
    async () => {
      const put = await srv.api('PUT', '/v1/tenants/ident/credentials/sip-trunk', {
        uri: 'sip:127.0.0.138:53080',
        from_user: '+14155550999',
        from_name: 'Acme Support',
        pai: '+14155550999',
        username: 'acme',
        password: TRUNK_PASSWORD,
      });
      expect(put.status, JSON.stringify(put.json)).toBeLessThan(300);
      // The identity fields read back as stored; the trunk password only masked.
      const read = await srv.api('GET', '/v1/tenants/ident/credentials/sip-trunk');
      expect(JSON.stringify(read.json)).not.toContain(TRUNK_PASSWORD);
      expect(JSON.stringify(read.json)).toContain('Acme Support');
      const peer = startSipp({
        scenario: { builtin: 'uas' },
        localIp: '127.0.0.138',
        localPort: 53080,
        mediaPort: 53180,
        timeoutMs: 30_000,
        extraArgs: ['-rtp_echo'],
      });
      await new Promise((r) => setTimeout(r, 500));
      const dial = await srv.api('POST', '/v1/calls', { tenant: 'ident', to: '+12125550100' });
      expect(dial.status, JSON.stringify(dial.json)).toBe(201);
      await new Promise((r) => setTimeout(r, 500));
      expect((await srv.api('DELETE', `/v1/calls/${String(dial.json.id)}`)).status).toBe(204);
      const r = await peer.result;
      expect(r.exitCode, describeSipp(r)).toBe(0);
      const invite = r.messages.slice(r.messages.indexOf('INVITE sip:'));
      expect(invite).toMatch(/^INVITE sip:\+12125550100@127\.0\.0\.138:53080 SIP\/2\.0/);
      expect(invite).toMatch(/^From: "Acme Support" <sip:\+14155550999@127\.0\.0\.138>;tag=/m);
      expect(invite).toMatch(/^P-Asserted-Identity: <sip:\+14155550999@127\.0\.0\.138;user=phone>\r?$/m);
      await srv.api('DELETE', '/v1/tenants/ident/credentials/sip-trunk');
    },
  );

  it('never logs the trunk password or the provider key', () => {
    expectNoSecretsIn(srv.logs, [TRUNK_PASSWORD, 'sk-ident-test']);
  });
});
