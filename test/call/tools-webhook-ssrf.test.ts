/**
 * Issue 11, webhooks: the connection goes to the address that was checked (DNS rebinding cannot reach a
 * loopback service), every IPv6 special range is refused, and a response body is cut off at 64 KiB while it
 * streams, not after it was buffered. The "internal" victim listens on 127.0.0.1, the checked endpoint on
 * 127.0.0.6 (standing in for a public address: the test's classifier treats only it as public).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { callWebhook, isPrivateAddress, MAX_WEBHOOK_BODY_BYTES } from '../../src/call/tools/webhook.js';

const context = { callId: 'c1', tenant: 'acme', tool: 'lookup' };
const servers: Server[] = [];

async function listen(
  host: string,
  port: number,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  servers.push(server);
  return server;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

describe('webhook SSRF', () => {
  it('pins the checked address: a rebinding resolver cannot send the request to loopback', async () => {
    const hits = { victim: 0, checked: 0, host: '' };
    const victim = await listen('127.0.0.1', 0, (_req, res) => {
      hits.victim++;
      res.end('{"secret":"internal"}');
    });
    const port = (victim.address() as { port: number }).port;
    await listen('127.0.0.6', port, (req, res) => {
      hits.checked++;
      hits.host = req.headers.host ?? '';
      req.resume();
      req.on('end', () => res.end('{"status":"ok"}'));
    });
    // Rebinding DNS: the first answer is "public", every later one is loopback.
    let lookups = 0;
    const resolve = (): Promise<string[]> => Promise.resolve(lookups++ === 0 ? ['127.0.0.6'] : ['127.0.0.1']);
    // `localhost` also resolves to 127.0.0.1 in the system resolver, which an unpinned client would use.
    const r = await callWebhook(
      {
        url: `http://localhost:${port}/hook`,
        args: { id: 1 },
        timeoutMs: 3000,
        allowPrivate: false,
        context,
      },
      resolve,
      (a) => a !== '127.0.0.6' && isPrivateAddress(a),
    );
    expect(r).toEqual({ ok: true, status: 200, body: { status: 'ok' } });
    expect(hits).toEqual({ victim: 0, checked: 1, host: `localhost:${port}` });
    expect(lookups).toBe(1);
  });

  it('refuses a name with any private answer, and never connects', async () => {
    let connections = 0;
    const victim = await listen('127.0.0.1', 0, (_req, res) => {
      connections++;
      res.end('{}');
    });
    const port = (victim.address() as { port: number }).port;
    const r = await callWebhook(
      { url: `http://hooks.example.com:${port}/`, args: {}, timeoutMs: 1000, allowPrivate: false, context },
      () => Promise.resolve(['1.1.1.1', '127.0.0.1']),
    );
    expect(r).toEqual({ ok: false, error: 'webhook destination is a private or loopback address' });
    expect(connections).toBe(0);
  });

  it.each([
    '::7f00:1', // IPv4-compatible 127.0.0.1
    '::ffff:7f00:1', // IPv4-mapped, hex form
    '::ffff:127.0.0.1',
    '64:ff9b::7f00:1', // NAT64
    '64:ff9b:1::a00:1', // local-use NAT64
    '2002:7f00:1::1', // 6to4 of 127.0.0.1
    '2001:0:4136:e378:8000:63bf:3fff:fdd2', // Teredo
    'fd00:ec2::254', // ULA (AWS metadata)
    'fe80::1', // link-local
    'fe80::1%lo', // with a zone
    'ff02::1', // multicast
    '2001:db8::1', // documentation
    '::', // unspecified
    '::1',
    '169.254.169.254',
    '100.100.100.200',
    '0.0.0.0',
  ])('classifies %s as not public', (a) => expect(isPrivateAddress(a)).toBe(true));

  it.each(['1.1.1.1', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e'])('classifies %s as public', (a) =>
    expect(isPrivateAddress(a)).toBe(false),
  );

  it('refuses a URL with an IPv6 literal embedding loopback', async () => {
    const r = await callWebhook({
      url: 'http://[::ffff:7f00:1]:9/',
      args: {},
      timeoutMs: 500,
      allowPrivate: false,
      context,
    });
    expect(r).toMatchObject({ ok: false, error: 'webhook destination is a private or loopback address' });
  });

  it('aborts a response past 64 KiB while it streams', async () => {
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    const maxChunks = 640; // 10 MiB if nobody stops it
    let written = 0;
    let closedAfter = -1;
    const server = await listen('127.0.0.6', 0, (req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.on('close', () => (closedAfter = written));
      const pump = (): void => {
        while (written < maxChunks && !res.destroyed) {
          written++;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const port = (server.address() as { port: number }).port;
    const r = await callWebhook({
      url: `http://127.0.0.6:${port}/big`,
      args: {},
      timeoutMs: 5000,
      allowPrivate: true,
      context,
    });
    expect(r).toEqual({
      ok: false,
      error: `webhook failed: response larger than ${MAX_WEBHOOK_BODY_BYTES} bytes`,
    });
    // The connection was closed long before the 10 MiB were sent (loopback socket buffers hold a few MiB).
    await new Promise<void>((resolve) => {
      const check = (): void => (closedAfter >= 0 ? resolve() : void setTimeout(check, 20));
      check();
    });
    expect(closedAfter).toBeLessThan(maxChunks);
  });

  it('returns a body up to the cap', async () => {
    const server = await listen('127.0.0.6', 0, (req, res) => {
      req.resume();
      res.end(Buffer.alloc(MAX_WEBHOOK_BODY_BYTES, 0x62));
    });
    const port = (server.address() as { port: number }).port;
    const r = await callWebhook({
      url: `http://127.0.0.6:${port}/`,
      args: {},
      timeoutMs: 5000,
      allowPrivate: true,
      context,
    });
    expect(r).toMatchObject({ ok: true, status: 200 });
    expect(r.ok && typeof r.body === 'string' ? r.body.length : 0).toBe(MAX_WEBHOOK_BODY_BYTES);
  });

  it('over https the pinned connection still sends the name as TLS SNI', async () => {
    // A throwaway self-signed certificate: our side refuses the handshake (no trusted CA), but the server
    // sees which name was asked for (SNI) and on which address the connection arrived.
    const dir = mkdtempSync(join(tmpdir(), 'sb-webhook-tls-'));
    try {
      const args = ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'];
      const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      execFileSync('openssl', [...args, '-keyout', keyFile, '-out', certFile], {
        stdio: 'ignore',
        timeout: 20_000,
      });
      const tlsContext = createSecureContext({ key: readFileSync(keyFile), cert: readFileSync(certFile) });
      const names: string[] = [];
      const arrivedOn: string[] = [];
      const server = createHttpsServer({
        SNICallback: (servername, cb) => {
          names.push(servername);
          cb(null, tlsContext);
        },
      });
      server.on('connection', (socket: Socket) => arrivedOn.push(socket.localAddress ?? ''));
      server.on('tlsClientError', () => undefined);
      await new Promise<void>((r) => server.listen(0, '127.0.0.6', () => r()));
      servers.push(server);
      const port = (server.address() as { port: number }).port;
      const r = await callWebhook(
        {
          url: `https://localhost:${port}/hook`,
          args: {},
          timeoutMs: 3000,
          allowPrivate: false,
          context,
        },
        () => Promise.resolve(['127.0.0.6']),
        (a) => a !== '127.0.0.6' && isPrivateAddress(a),
      );
      expect(r).toMatchObject({ ok: false, error: expect.stringMatching(/self-signed|certificate/) });
      expect(names).toEqual(['localhost']);
      expect(arrivedOn).toEqual(['127.0.0.6']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
