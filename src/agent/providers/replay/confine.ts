import { realpath } from 'node:fs/promises';
import { isAbsolute, join, sep } from 'node:path';
import { AgentError } from '../../agent.js';

/** The tenant name grammar of dialplans: never "..", "/" or empty, so it is one directory level. */
const TENANT_DIR = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** `<root>/<tenant>`: where a tenant's recordings live (and the only place its replays may read). */
export function tenantRecordingsDir(root: string, tenant: string): string {
  if (!TENANT_DIR.test(tenant)) throw new AgentError('AGENT_CREDENTIAL_INVALID', 'invalid tenant name');
  return join(root, tenant);
}

const outside = (): AgentError =>
  new AgentError('AGENT_CREDENTIAL_INVALID', "the replay recording is not in the tenant's recordings", {
    field: 'recording',
  });

/**
 * The real path of `recording` when it lies inside `<root>/<tenant>/` after resolving symlinks and ".."
 * (issue 11: a tenant must not replay another tenant's call into its own), else AGENT_CREDENTIAL_INVALID.
 * Both sides go through realpath, so a symlink planted inside the tenant's folder is judged by its target.
 */
export async function confineRecording(root: string, tenant: string, recording: string): Promise<string> {
  if (!isAbsolute(recording)) throw outside();
  let base: string;
  let real: string;
  try {
    base = await realpath(tenantRecordingsDir(root, tenant));
    real = await realpath(recording);
  } catch (err) {
    if (err instanceof AgentError) throw err;
    throw outside();
  }
  if (real === base || !real.startsWith(base + sep)) throw outside();
  return real;
}
