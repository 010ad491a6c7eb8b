/**
 * The real drachtio-srf against a minimal scripted admin-port server (framing `<len>#<msgId>|<verb>|…`,
 * docs/reference/sip.md §3): proves the adapter's reading of the library's connect/auth/reconnect behaviour.
 * SIP traffic through a real drachtio-server is covered by the conformance suite with DRACHTIO_HOST set.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { DrachtioSignaling } from '../../../src/sip/drachtio/index.js';

interface AdminServer {
  server: Server;
  port: number;
  messages: string[];
  sockets: Socket[];
}

async function adminServer(secret: string): Promise<AdminServer> {
  const state: AdminServer = { server: createServer(), port: 0, messages: [], sockets: [] };
  state.server.on('connection', (socket) => {
    state.sockets.push(socket);
    let buf = '';
    socket.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      for (;;) {
        const hash = buf.indexOf('#');
        if (hash === -1) return;
        const len = Number(buf.slice(0, hash));
        if (Buffer.byteLength(buf.slice(hash + 1)) < len) return;
        const msg = buf.slice(hash + 1, hash + 1 + len);
        buf = buf.slice(hash + 1 + len);
        state.messages.push(msg);
        const [msgId, verb, arg] = msg.split('|');
        let reply: string | undefined;
        if (verb === 'authenticate') {
          reply = arg === secret ? `OK|udp/127.0.0.1:5060|v0.9.3|` : 'NO|bad secret';
        } else if (verb === 'route') reply = 'OK';
        if (reply !== undefined) {
          const out = `${randomUUID()}|response|${msgId}|${reply}`;
          socket.write(`${Buffer.byteLength(out)}#${out}`);
        }
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  const addr = state.server.address();
  state.port = typeof addr === 'object' && addr ? addr.port : 0;
  return state;
}

const servers: AdminServer[] = [];
const sigs: DrachtioSignaling[] = [];
afterEach(async () => {
  await Promise.all(sigs.splice(0).map((s) => s.close()));
  for (const s of servers.splice(0)) {
    s.sockets.forEach((x) => x.destroy());
    await new Promise((r) => s.server.close(r));
  }
});

function signaling(port: number, secret: string): DrachtioSignaling {
  const sig = new DrachtioSignaling({
    host: '127.0.0.1',
    port,
    secret,
    logger: pino({ level: 'silent' }),
    connectTimeoutMs: 3000,
    reconnectMaxDelayMs: 300,
  });
  sigs.push(sig);
  return sig;
}

describe('DrachtioSignaling with the real drachtio-srf', () => {
  it('authenticates, registers routes and reconnects after the server drops the connection', async () => {
    const admin = await adminServer('cymru');
    servers.push(admin);
    const sig = signaling(admin.port, 'cymru');
    sig.onInvite(() => undefined);
    await sig.start();
    expect(sig.connected).toBe(true);
    expect(admin.messages.some((m) => m.includes('|authenticate|cymru|'))).toBe(true);
    await vi.waitFor(() =>
      expect(admin.messages.filter((m) => m.includes('|route|')).length).toBeGreaterThanOrEqual(2),
    );

    admin.sockets.forEach((s) => s.destroy());
    await vi.waitFor(() => expect(sig.connected).toBe(false));
    await vi.waitFor(() => expect(sig.connected).toBe(true), { timeout: 5000 });
    expect(admin.messages.filter((m) => m.includes('|authenticate|')).length).toBe(2);
  });

  it('rejects start() on a wrong secret', async () => {
    const admin = await adminServer('cymru');
    servers.push(admin);
    await expect(signaling(admin.port, 'wrong').start()).rejects.toMatchObject({ status: 503 });
  });

  it('does not crash on a refused connection and gives up after the connect timeout', async () => {
    const admin = await adminServer('x');
    const port = admin.port;
    await new Promise((r) => admin.server.close(r));
    await expect(signaling(port, 'x').start()).rejects.toMatchObject({ status: 503 });
  });
});
