/**
 * Issue 13 on the drachtio backend: outbound REGISTER lives in the embedded UA only. The backend refuses it
 * with a clear error, and the registration manager turns that into a refusal (HTTP 422) that stores nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RegistrationManager } from '../../../src/call/registration-manager.js';
import { CredentialCipher } from '../../../src/tenants/crypto.js';
import { FileRecordBackend } from '../../../src/tenants/file-backend.js';
import { registrationInputSchema } from '../../../src/tenants/registration.js';
import { EncryptedTenantStore } from '../../../src/tenants/tenant-store.js';
import { started } from './helpers.js';

describe('REGISTER on the drachtio backend', () => {
  it('is refused with SIP_REGISTER_UNSUPPORTED, and the manager refuses the registration up front', async () => {
    const { sig } = await started();
    const binding = {
      aor: 'sip:1001@pbx.example',
      registrar: 'sip:pbx.example',
      username: '1001',
      password: 'secret-pw',
      expiresS: 600,
      transport: 'udp' as const,
      contactUser: 'sb-1',
      instanceId: 'urn:uuid:00000000-0000-4000-8000-000000000002',
    };
    expect(() => sig.register(binding)).toThrow(/not supported on the drachtio backend/);
    try {
      sig.register(binding);
    } catch (err) {
      expect(err).toMatchObject({ code: 'SIP_REGISTER_UNSUPPORTED' });
    }
    const dir = await mkdtemp(join(tmpdir(), 'sb-reg-drachtio-'));
    try {
      const logger = pino({ level: 'silent' });
      const store = new EncryptedTenantStore({
        backend: new FileRecordBackend(dir),
        cipher: new CredentialCipher(randomBytes(32)),
        logger,
      });
      const manager = new RegistrationManager({
        signaling: sig,
        store,
        logger,
        metrics: new Registry(),
        transports: ['udp', 'tcp'],
        keepAliveS: 30,
      });
      const input = registrationInputSchema.parse({
        aor: binding.aor,
        registrar: binding.registrar,
        username: binding.username,
        password: binding.password,
      });
      expect(manager.refusal(input)).toBe(
        'outbound REGISTER is not supported on the drachtio backend (use SIGNALING=embedded)',
      );
      expect(await store.listRegistrations()).toEqual([]);
    } finally {
      await sig.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
