/**
 * The built CLI reports what a person can act on in one line and exits non-zero (issue 19): no stack trace,
 * no call left up. Each case runs `node dist/src/cli.js …` as a subprocess (the globalSetup builds dist/).
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, expectOneLine } from '../support/cli-run.js';

/** A TCP port on 127.0.0.1 with nothing listening (bound, read, released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('CLI errors are one line with a non-zero exit', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('tenants list with the server down: cannot reach the control API (69)', async () => {
    const port = await closedPort();
    const r = await cli(['tenants', '--url', `http://127.0.0.1:${port}`, '--token', 'x', 'list']);
    expect(r.code).toBe(69);
    expectOneLine(
      r,
      new RegExp(`cannot reach the control API at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)`),
    );
  });

  it('set-credential with a field but no =value: usage line (1), nothing sent', async () => {
    const port = await closedPort();
    const r = await cli([
      'tenants',
      '--url',
      `http://127.0.0.1:${port}`,
      '--token',
      'x',
      'set-credential',
      'acme',
      'openai',
      'apiKey',
    ]);
    expect(r.code).toBe(1);
    // The field is rejected before any request: not the "cannot reach" error of a closed port.
    expectOneLine(r, /expected key=value, got "apiKey"/);
  });

  it('tenants without a token or admin.token file says where it looked (1)', async () => {
    const r = await cli(['tenants', '--data-dir', join(dir, 'nowhere'), 'list']);
    expect(r.code).toBe(1);
    expectOneLine(r, /no --token given and no admin\.token in .*nowhere/);
  });

  describe('call --play with an unusable WAV dials nothing', () => {
    let target: Socket;
    let invites = 0;
    beforeAll(async () => {
      target = createSocket('udp4');
      target.on('message', (m: Buffer) => {
        if (m.toString('latin1').startsWith('INVITE ')) invites++;
      });
      await new Promise<void>((r) => target.bind(0, '127.0.0.1', r));
    });
    afterAll(() => target.close());

    it('a missing file (66)', async () => {
      const r = await cli([
        'call',
        `sip:100@127.0.0.1:${target.address().port}`,
        '--play',
        join(dir, 'no.wav'),
      ]);
      expect(r.code).toBe(66);
      expectOneLine(r, /--play .*no\.wav: no such file/);
      expect(invites).toBe(0);
    });

    it('a 32-bit float WAV (66)', async () => {
      // RIFF/WAVE with a fmt chunk saying IEEE float (format 3), 32 bits, 8 kHz mono; 80 samples of silence.
      const fmt = Buffer.alloc(16);
      fmt.writeUInt16LE(3, 0);
      fmt.writeUInt16LE(1, 2);
      fmt.writeUInt32LE(8000, 4);
      fmt.writeUInt32LE(32000, 8);
      fmt.writeUInt16LE(4, 12);
      fmt.writeUInt16LE(32, 14);
      const data = Buffer.alloc(320);
      const head = Buffer.alloc(12);
      head.write('RIFF', 0, 'latin1');
      head.writeUInt32LE(4 + 8 + 16 + 8 + data.length, 4);
      head.write('WAVE', 8, 'latin1');
      const chunk = (id: string, body: Buffer): Buffer => {
        const h = Buffer.alloc(8);
        h.write(id, 0, 'latin1');
        h.writeUInt32LE(body.length, 4);
        return Buffer.concat([h, body]);
      };
      const path = join(dir, 'float.wav');
      await writeFile(path, Buffer.concat([head, chunk('fmt ', fmt), chunk('data', data)]));
      const r = await cli(['call', `sip:100@127.0.0.1:${target.address().port}`, '--play', path]);
      expect(r.code).toBe(66);
      expectOneLine(r, /--play .*float\.wav: not PCM/);
      expect(invites).toBe(0);
    });
  });

  describe('serve', () => {
    it('REDIS_URL without MASTER_KEY is a configuration error (78)', async () => {
      const r = await cli(['serve'], {
        REDIS_URL: 'redis://127.0.0.1:6379',
        DATA_DIR: join(dir, 'data-redis'),
        DIALPLANS_DIR: join(dir, 'dialplans'),
        SIP_HOST: '127.0.0.1',
        SIP_PORT: '0',
        HTTP_HOST: '127.0.0.1',
        HTTP_PORT: '0',
        LOG_LEVEL: 'silent',
      });
      expect(r.code).toBe(78);
      expectOneLine(r, /invalid configuration: .*MASTER_KEY.*REDIS_URL/);
    });

    it('a SIP port in use: one line naming the address (69)', async () => {
      const holder = createSocket('udp4');
      await new Promise<void>((r) => holder.bind(0, '127.0.0.1', r));
      try {
        const port = holder.address().port;
        const r = await cli(['serve'], {
          DATA_DIR: join(dir, 'data-port'),
          DIALPLANS_DIR: join(dir, 'dialplans'),
          SIP_HOST: '127.0.0.1',
          SIP_PORT: String(port),
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: '0',
          LOG_LEVEL: 'silent',
        });
        expect(r.code).toBe(69);
        expectOneLine(
          r,
          new RegExp(
            `cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use \\(EADDRINUSE\\)`,
          ),
        );
      } finally {
        holder.close();
      }
    });
  });
});
