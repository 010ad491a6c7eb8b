import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Softphone } from '../../src/softphone/softphone.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'dist/src/cli.js');
const fixture = fileURLToPath(new URL('../fixtures/audio/caller-billing-question.wav', import.meta.url));

/** The built server: `npm run build` (tsc -p tsconfig.build.json), so the test runs what ships. */
function build(): void {
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (!existsSync(CLI)) throw new Error(`build produced no ${CLI}: ${r.stdout}${r.stderr}`);
}

describe('a recording survives the server being killed mid-call', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    build();
    dir = await mkdtemp(join(tmpdir(), 'sb-crash-'));
  }, 240_000);
  afterAll(async () => {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it(
    'SIGKILL after a few seconds leaves call.json, audio.wav and events.jsonl readable',
    { timeout: 60_000 },
    async () => {
      const dialplans = join(dir, 'dialplans');
      const recordings = join(dir, 'recordings');
      await mkdir(dialplans, { recursive: true });
      await writeFile(
        join(dialplans, 'demo.yaml'),
        'tenant: demo\nnumbers: ["*"]\nagent: { provider: echo, record: true }\n',
      );
      const sipPort = 16_000 + randomInt(0, 2000);
      const rtpBase = 30_000 + randomInt(0, 50) * 100;
      child = spawn(process.execPath, [CLI, 'serve'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          SIP_HOST: '127.0.0.1',
          SIP_PORT: String(sipPort),
          SIP_PUBLIC_HOST: '127.0.0.1',
          HTTP_HOST: '127.0.0.1',
          HTTP_PORT: '0',
          RTP_PORT_MIN: String(rtpBase),
          RTP_PORT_MAX: String(rtpBase + 99),
          DATA_DIR: join(dir, 'data'),
          DIALPLANS_DIR: dialplans,
          RECORDINGS_DIR: recordings,
          ADMIN_TOKEN: 'crash-test-admin-token-0123456789',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      await new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer): void => {
          output += d.toString();
          if (output.includes('switchboard listening')) resolve();
        };
        child!.stdout!.on('data', onData);
        child!.stderr!.on('data', onData);
        child!.once('exit', (code) => reject(new Error(`server exited (${code}): ${output}`)));
      });

      const phone = new Softphone({
        logger: pino({ level: 'silent' }),
        rtpPortMin: 46_000,
        rtpPortMax: 46_199,
      });
      await phone.start();
      let answeredAt = 0;
      const call = phone
        .call(`sip:100@127.0.0.1:${sipPort}`, {
          playPath: fixture,
          durationMs: 8000,
          onEstablished: () => {
            answeredAt = Date.now();
          },
        })
        .catch(() => undefined);
      await new Promise((r) => setTimeout(r, 3500));
      expect(answeredAt).toBeGreaterThan(0);
      child.kill('SIGKILL');
      const killedAfterMs = Date.now() - answeredAt;
      await new Promise<void>((resolve) => child!.once('exit', () => resolve()));
      child = undefined;

      // Recordings are stored per tenant: RECORDINGS_DIR/<tenant>/<callId>/.
      expect(await readdir(recordings)).toEqual(['demo']);
      const [callId] = await readdir(join(recordings, 'demo'));
      expect(callId).toBeDefined();
      const path = join(recordings, 'demo', callId!);

      const meta = JSON.parse(await readFile(join(path, 'call.json'), 'utf8')) as Record<string, unknown>;
      expect(meta).toMatchObject({ callId, tenant: 'demo', provider: 'echo', endedAt: null });

      const wav = await readFile(join(path, 'audio.wav'));
      expect(wav.toString('ascii', 0, 4)).toBe('RIFF');
      expect(wav.toString('ascii', 36, 40)).toBe('data');
      const dataBytes = wav.readUInt32LE(40);
      // The header is patched after each flush: it never claims more than is on disk, and (unless the kill
      // fell between a data write and its header patch) exactly what is there.
      expect(wav.readUInt32LE(4)).toBe(36 + dataBytes);
      expect(44 + dataBytes).toBeLessThanOrEqual(wav.length);
      expect(wav.length - 44 - dataBytes).toBeLessThanOrEqual(8000 * 4 * 1.1);
      expect(dataBytes % 4).toBe(0);
      const recordedMs = (dataBytes / 4 / wav.readUInt32LE(24)) * 1000;
      // Flushed every second: at most about the last second is lost.
      expect(recordedMs).toBeGreaterThan(killedAfterMs - 1600);
      expect(recordedMs).toBeLessThanOrEqual(killedAfterMs + 200);
      expect((await stat(join(path, 'audio.wav'))).size).toBe(wav.length);

      const text = await readFile(join(path, 'events.jsonl'), 'utf8');
      const lines = text.split('\n');
      // The last element is '' (complete file) or a line cut by the kill: only whole lines must parse.
      const complete = lines.slice(0, -1);
      expect(complete.length).toBeGreaterThan(0);
      const events = complete.map((l) => JSON.parse(l) as { t: number; kind: string });
      expect(events.map((e) => e.kind)).toContain('call.active');
      for (const e of events) expect(e.t).toBeLessThanOrEqual(killedAfterMs + 200);

      await phone.close();
      void call;
    },
  );
});
