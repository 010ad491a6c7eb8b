import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { AudioFormat } from '../../events.js';
import type { ProviderDefinition } from '../../provider.js';
import { ReplayAgent } from './replay-agent.js';
import { loadReplayScript, type ReplayScript } from './script.js';

export { ReplayAgent } from './replay-agent.js';
export { buildReplayScript, loadReplayScript, type ReplayScript, type ScriptStep } from './script.js';
export {
  callerTransitions,
  loadRecording,
  parseEvents,
  parseStereoWav,
  REPLAY_VAD,
  type CallMeta,
  type CallerTransition,
  type Recording,
  type TimelineEvent,
} from './recording.js';

/**
 * Where the recording is: `recording` (an absolute directory) or `url` (`file:///…`). No secret: a replay
 * never leaves the process.
 */
export const replayCredentialSchema = z
  .object({
    recording: z.string().refine(isAbsolute, 'an absolute path').optional(),
    url: z.string().startsWith('file://').optional(),
  })
  .refine((c) => c.recording !== undefined || c.url !== undefined, {
    message: 'a recording directory is required',
    path: ['recording'],
  });
export type ReplayCredential = z.infer<typeof replayCredentialSchema>;

const FORMATS: readonly AudioFormat[] = [
  { encoding: 'pcm16', sampleRateHz: 8000 },
  { encoding: 'pcm16', sampleRateHz: 16000 },
  { encoding: 'pcm16', sampleRateHz: 24000 },
  { encoding: 'pcm16', sampleRateHz: 48000 },
];

export interface ReplayProviderOptions {
  /** Loads a recording's script; the fast runner passes preloaded scripts (no I/O in virtual time). */
  readonly load?: (dir: string) => Promise<ReplayScript> | ReplayScript;
}

export function recordingDirOf(credential: ReplayCredential): string {
  return credential.recording ?? fileURLToPath(credential.url ?? '');
}

/** The `replay` provider definition (DESIGN.md §3): answers from a recording. */
export function createReplayProvider(
  options: ReplayProviderOptions = {},
): ProviderDefinition<ReplayCredential> {
  const load = options.load ?? loadReplayScript;
  return {
    slug: 'replay',
    displayName: 'Replay (answers as a recorded call did)',
    credentialSchema: replayCredentialSchema,
    secretFields: [],
    capabilities: { inputFormats: FORMATS, outputFormats: FORMATS, truncate: false, tools: true },
    create: (credential, agentOptions) => {
      const dir = recordingDirOf(credential);
      return new ReplayAgent(agentOptions, () => load(dir));
    },
  };
}

export const replayProvider = createReplayProvider();
