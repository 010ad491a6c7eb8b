import type { Command } from 'commander';
import { createLogger } from '../observability/logger.js';
import { replayFast, type ReplayResult } from '../replay/fast.js';
import { formatOutcome } from '../replay/outcome.js';
import { replayOverSip } from '../replay/sip.js';
import { parsePortRange, type PortRange } from './port-range.js';

function report(dir: string, mode: string, r: ReplayResult): number {
  if (r.diff.length === 0) {
    process.stdout.write(`replay ${dir} (${mode}): matches\n${formatOutcome(r.actual)}\n`);
    return 0;
  }
  process.stdout.write(
    [
      `replay ${dir} (${mode}): ${r.diff.length} difference(s)`,
      ...r.diff.map((d) => `  - ${d}`),
      'recorded:',
      formatOutcome(r.expected),
      'replayed:',
      formatOutcome(r.actual),
      ...(r.replayRecording === '' ? [] : [`replay recording: ${r.replayRecording}`]),
      '',
    ].join('\n'),
  );
  return 1;
}

/**
 * `switchboard replay <recording-dir>`: replays a recorded call against the server (the agent answering as
 * the recorded provider did) and compares tool calls, ending, barge-ins and agent audio per caller turn.
 * Exits 0 when they match, 1 with a diff otherwise.
 */
export function registerReplayCommand(program: Command): void {
  program
    .command('replay <recording-dir>')
    .description('replay a recorded call and compare what the server does with what it did')
    .option(
      '--server <host:port>',
      'a running server whose dialplan routes --number to provider "replay" (default: start one in-process)',
    )
    .option('--number <user>', 'the SIP user to call on --server', 'replay')
    .option('--server-recordings <dir>', "the --server's RECORDINGS_DIR, to compare tool calls and barge-ins")
    .option('--fast', 'no sockets: drive the call session in virtual time')
    .option('--out <dir>', "keep the replay's own recording here")
    .option('--host <address>', 'local address for SIP and RTP', '127.0.0.1')
    .option(
      '--rtp-ports <min-max>',
      "the replay caller's RTP ports (default: 100 of 41000–49999)",
      parsePortRange,
    )
    .option('--log-level <level>', 'pino level', 'warn')
    .action(
      async (
        dir: string,
        o: {
          server?: string;
          number: string;
          serverRecordings?: string;
          fast?: boolean;
          out?: string;
          host: string;
          rtpPorts?: PortRange;
          logLevel: string;
        },
      ) => {
        const logger = createLogger({ level: o.logLevel });
        const result =
          o.fast === true
            ? await replayFast(dir, { logger, ...(o.out === undefined ? {} : { outDir: o.out }) })
            : await replayOverSip(dir, {
                logger,
                host: o.host,
                number: o.number,
                ...(o.rtpPorts === undefined ? {} : { rtpPorts: o.rtpPorts }),
                ...(o.server === undefined ? {} : { server: o.server }),
                ...(o.serverRecordings === undefined ? {} : { serverRecordingsDir: o.serverRecordings }),
                ...(o.out === undefined ? {} : { outDir: o.out }),
              });
        // Exit now: a SIP server transaction (e.g. the 405 to a REFER) keeps its RFC 3261 Timer J (32 s)
        // running after the stack is closed, which would hold the process open for nothing.
        process.exit(report(dir, o.fast === true ? 'virtual time' : 'SIP', result));
      },
    );
}
