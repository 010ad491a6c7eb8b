import { pino } from 'pino';
import { DrachtioSignaling } from '../../../src/sip/drachtio/index.js';
import type { IncomingCall } from '../../../src/sip/signaling.js';
import { FakeApi } from './fake-api.js';

/** A DrachtioSignaling over a FakeApi, started (connection accepted), collecting IncomingCalls. */
export async function started(): Promise<{ sig: DrachtioSignaling; api: FakeApi; calls: IncomingCall[] }> {
  const api = new FakeApi();
  const sig = new DrachtioSignaling({
    host: '127.0.0.1',
    port: 9022,
    secret: 'cymru',
    logger: pino({ level: 'silent' }),
    createApi: () => api,
  });
  const calls: IncomingCall[] = [];
  sig.onInvite((c) => calls.push(c));
  const p = sig.start();
  api.acceptConnection();
  await p;
  return { sig, api, calls };
}
