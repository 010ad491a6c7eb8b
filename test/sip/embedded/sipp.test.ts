import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EmbeddedSignaling } from '../../../src/sip/embedded/index.js';
import { logger, sdp } from './helpers.js';

const SIPP = '/usr/bin/sipp';

function runSipp(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(SIPP, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('sipp built-in uac against EmbeddedSignaling', () => {
  it('has sipp installed (a missing peer fails the suite, never skips it)', () => {
    expect(existsSync(SIPP), `${SIPP} missing: install sip-tester`).toBe(true);
  });

  it.each([
    ['udp', 'u1', 42061],
    ['tcp', 't1', 42063],
  ] as const)('completes one call over %s', async (_transport, mode, sippPort) => {
    const ua = new EmbeddedSignaling({
      host: '127.0.0.1',
      port: 0,
      transports: ['udp', 'tcp'],
      publicHost: '127.0.0.1',
      logger,
    });
    await ua.start();
    ua.onInvite((call) => void call.answer(sdp(42300)).catch(() => undefined));
    try {
      const { code, output } = await runSipp([
        '-sn',
        'uac',
        `127.0.0.1:${ua.port}`,
        '-i',
        '127.0.0.2',
        '-p',
        String(sippPort),
        '-mp',
        String(sippPort + 400),
        '-t',
        mode,
        '-m',
        '1',
        '-nostdin',
        '-d',
        '200',
        '-timeout',
        '15s',
        '-timeout_error',
        '-trace_err',
      ]);
      expect(code, output.slice(-2000)).toBe(0);
    } finally {
      await ua.close();
    }
  });
});
