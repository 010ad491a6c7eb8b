import type { ToolSpec } from '../../agent/agent.js';
import type { AgentProfile } from '../../routing/dialplan.js';

/**
 * The function tools offered to the model for a profile. Transfer destinations are an enum of the
 * profile's target names: the model can never dial an arbitrary number (DESIGN.md §4).
 */
export function toolSpecsFor(profile: AgentProfile): ToolSpec[] {
  const specs: ToolSpec[] = [];
  const transfer = profile.tools.transfer_call;
  const targets = Object.keys(transfer?.targets ?? {});
  if (transfer !== undefined && targets.length > 0) {
    specs.push({
      name: 'transfer_call',
      description:
        'Transfer the caller to a human or another department. Say a short sentence first; the transfer happens after it has played.',
      parameters: {
        type: 'object',
        properties: {
          destination: { type: 'string', enum: targets, description: 'Where to transfer the caller' },
        },
        required: ['destination'],
        additionalProperties: false,
      },
    });
  }
  if (profile.tools.end_call !== undefined) {
    specs.push({
      name: 'end_call',
      description: 'Hang up after your last sentence has played, when the conversation is over.',
      parameters: {
        type: 'object',
        properties: { reason: { type: 'string', description: 'Why the call ends' } },
        required: [],
        additionalProperties: false,
      },
    });
  }
  if (profile.tools.send_dtmf !== undefined) {
    specs.push({
      name: 'send_dtmf',
      description: 'Send touch-tone digits into the call, e.g. to navigate a phone menu.',
      parameters: {
        type: 'object',
        properties: {
          digits: { type: 'string', pattern: '^[0-9*#A-Da-d]{1,32}$', description: 'Digits 0-9, *, #, A-D' },
        },
        required: ['digits'],
        additionalProperties: false,
      },
    });
  }
  for (const hook of profile.tools.webhooks) {
    specs.push({ name: hook.name, description: hook.description, parameters: hook.parameters });
  }
  return specs;
}
