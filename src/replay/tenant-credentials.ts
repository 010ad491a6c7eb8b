/**
 * The tenant store as the call manager sees it when the `replay` provider is registered: a tenant's replay
 * credential only ever reaches the provider with its recording confined (realpath) to
 * `RECORDINGS_DIR/<tenant>/` (issue 11). Every other credential passes through unchanged.
 */
import { confineRecording } from '../agent/providers/replay/confine.js';
import { recordingDirOf, replayCredentialSchema } from '../agent/providers/replay/index.js';
import { AgentError } from '../agent/agent.js';
import type { CredentialRecord, TenantStore } from '../tenants/store.js';

export async function confinedReplayCredential(
  record: CredentialRecord,
  recordingsDir: string,
): Promise<CredentialRecord> {
  const parsed = replayCredentialSchema.safeParse(record.fields);
  if (!parsed.success)
    throw new AgentError('AGENT_CREDENTIAL_INVALID', 'invalid replay credential', { field: 'recording' });
  let dir: string;
  try {
    dir = recordingDirOf(parsed.data);
  } catch {
    throw new AgentError('AGENT_CREDENTIAL_INVALID', 'invalid replay recording url', { field: 'url' });
  }
  const recording = await confineRecording(recordingsDir, record.tenant, dir);
  return { ...record, fields: { recording } };
}

/** `store` with getCredential confining replay recordings; the other methods are the store's own. */
export function withConfinedReplay(store: TenantStore, recordingsDir: string): TenantStore {
  const getCredential: TenantStore['getCredential'] = async (tenant, provider) => {
    const record = await store.getCredential(tenant, provider);
    if (record === undefined || provider.toLowerCase() !== 'replay') return record;
    return confinedReplayCredential({ ...record, tenant }, recordingsDir);
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'getCredential') return getCredential;
      const value: unknown = Reflect.get(target, prop, target);
      // Methods run on the real store (its private fields need the real `this`).
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
