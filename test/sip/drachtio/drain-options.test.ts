/**
 * Drain (issue 12) on the drachtio backend: while unavailable, OPTIONS get 503 with the Retry-After given
 * (a proxy's keepalive takes the instance out of rotation); available again, 200. The embedded backend is
 * tested with sipp against the server process in test/lifecycle/drain.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { FakeResponse, inDialogRequest } from './fake-api.js';
import { started } from './helpers.js';

describe('drachtio OPTIONS while draining', () => {
  it('503 + Retry-After while unavailable, 200 again after', async () => {
    const { api, sig } = await started();
    const ask = (): FakeResponse => {
      const res = new FakeResponse();
      api.optionsHandler!(inDialogRequest('OPTIONS', {}), res);
      return res;
    };
    sig.setUnavailable(7);
    const draining = ask().sent[0];
    expect(draining?.status).toBe(503);
    expect(draining?.opts).toMatchObject({ headers: { 'Retry-After': '7' } });
    sig.setUnavailable(undefined);
    expect(ask().sent[0]?.status).toBe(200);
    await sig.close();
  });
});
