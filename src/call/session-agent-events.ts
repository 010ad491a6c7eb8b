import type { Agent } from '../agent/agent.js';
import type { HandlerBoundary } from '../observability/process-guard.js';
import type { AgentSupervisor } from './agent-supervisor.js';
import type { OutboundBridge } from './audio-bridge.js';
import type { CallMetrics } from './call-metrics.js';
import type { CallTimers } from './call-timers.js';
import { agentListener } from './leg-events.js';
import type { ReplyTracker } from './reply-tracker.js';
import type { ToolQueue } from './tool-queue.js';
import type { CallTurns } from './turns/call-turns.js';
import type { InterruptionPolicy } from './turns/interruption-policy.js';
import type { AmdCall } from './outbound/amd-call.js';

/** The parts of a call session that react to its agent's events (session.ts owns them). */
export interface SessionAgentParts {
  readonly boundary: HandlerBoundary;
  readonly metrics: CallMetrics;
  readonly timers: CallTimers;
  readonly turns: CallTurns;
  readonly bargeIn: InterruptionPolicy;
  readonly reply: ReplyTracker;
  readonly tools: ToolQueue;
  readonly sup: AgentSupervisor;
  /** The current outbound bridge (it is rebuilt when a failover target takes other formats). */
  readonly outbound: () => OutboundBridge | undefined;
  /** Answering-machine detection of an outbound call (it reads the callee's transcript). */
  readonly amd: () => AmdCall | undefined;
  /** The caller started speaking at this media time (kept for the barge-in event). */
  readonly speechStarted: (audioStartMs: number | undefined) => void;
  readonly timeline: (kind: string, data: Record<string, unknown>) => void;
}

/** The session's handlers of one agent's events; those of an agent that was replaced are ignored. */
export function wireAgentEvents(agent: Agent, live: () => boolean, p: SessionAgentParts): void {
  const on = agentListener(agent, p.boundary, live);
  p.turns.agentWired();
  on('user.speech.started', ({ audioStartMs }) => {
    p.timers.activity();
    p.speechStarted(audioStartMs);
    p.turns.speechStarted();
    p.bargeIn.userSpeechStarted(audioStartMs);
  });
  on('user.speech.ended', ({ audioEndMs }) => {
    p.timers.activity();
    p.turns.speechEnded(audioEndMs);
    p.bargeIn.userSpeechEnded(audioEndMs);
  });
  on('user.transcript', ({ text, final }) => {
    p.sup.userTranscript(text, final);
    p.bargeIn.userTranscript(text, final);
    p.amd()?.transcript(text);
  });
  on('assistant.audio', ({ audio, itemId, responseId }) => {
    if (!p.bargeIn.acceptAudio(responseId)) return;
    p.turns.agentAudio(responseId);
    p.timers.activity();
    p.outbound()?.push(audio, itemId, responseId);
    p.reply.audio(responseId);
    p.sup.audio(responseId);
  });
  on('assistant.turn.end', ({ responseId, status }) => {
    p.outbound()?.endItem();
    p.bargeIn.turnEnded(responseId);
    p.reply.turnEnded(responseId);
    p.sup.turnEnded(responseId, status);
  });
  on('assistant.text', ({ text, final, responseId }) => {
    p.sup.assistantText(text, final, responseId);
    if (final) p.tools.assistantSaid(text);
  });
  on('tool.call', (call) => {
    // The response carrying the call has not ended yet: its sentence may still be on its way.
    p.reply.toolCall();
    p.metrics.toolCalls.inc({ name: call.name });
    p.timeline('tool.call', { ...call });
    p.turns.toolCall(call.name);
    void p.tools.queue(call);
  });
  on('error', (e) => p.sup.error(e));
}
