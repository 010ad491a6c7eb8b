/**
 * A fixed port for a peer that must be told its port up front (baresip, sipp), chosen from the test's own block
 * but only if it is free right now on TCP and UDP: blocks sit inside Linux's ephemeral range (32768–60999), so
 * another test's socket bound to 0.0.0.0:0 can hold any one of them for a while.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

async function tcpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function udpFree(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.once('error', () => resolve(false));
    socket.bind(port, host, () => socket.close(() => resolve(true)));
  });
}

/** The first of `candidates` (each with `port + 1` for a control/TLS port) free on both transports. */
export async function freePortPair(host: string, candidates: readonly number[]): Promise<number> {
  for (const port of candidates) {
    if ((await tcpFree(host, port)) && (await udpFree(host, port)) && (await tcpFree(host, port + 1)))
      return port;
  }
  throw new Error(`no free port pair on ${host} among ${candidates.join(', ')}`);
}

/**
 * A port the kernel just handed out for port 0 on `host` (UDP and TCP both free), for a peer that must be
 * told its port up front when the test has no block of its own.
 */
export async function ephemeralPort(host: string): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const socket = createSocket('udp4');
      socket.once('error', reject);
      socket.bind(0, host, () => {
        const p = socket.address().port;
        socket.close(() => resolve(p));
      });
    });
    if (await tcpFree(host, port)) return port;
  }
  throw new Error(`no ephemeral port free on both transports on ${host}`);
}
