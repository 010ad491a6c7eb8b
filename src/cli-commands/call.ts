import { InvalidArgumentError, type Command } from 'commander';
import { readWavFile, writeWavFile } from '../media/wav.js';
import { createLogger } from '../observability/logger.js';
import { SipError } from '../sip/signaling.js';
import { Softphone } from '../softphone/softphone.js';
import { CliError, EXIT } from './cli-errors.js';
import { parsePortRange, type PortRange } from './port-range.js';

/** How often `call` says it is still waiting for an answer. */
const PROGRESS_EVERY_MS = 5000;

/** `switchboard call <sip-uri>`: a test softphone on the embedded UAC. */
export function registerCallCommand(program: Command): void {
  program
    .command('call <uri>')
    .description('place a SIP call with the built-in softphone: play a WAV, record what comes back')
    .option('--play <wav>', 'WAV file to send as the caller')
    .option('--record <wav>', 'write what the far end sent to this WAV file')
    .option('--dtmf <digits>', 'send these digits as RFC 4733 events')
    .option('--dtmf-delay <ms>', 'wait before sending the digits', '1000')
    .option('--duration <s>', 'hang up after this many seconds (default: wait for the far end)')
    .option('--host <address>', 'local address for SIP and RTP', '127.0.0.1')
    .option('--ptime <ms>', 'packet duration to ask for (a=ptime: 10-60 for G.711)', parsePtime)
    .option(
      '--timeout <s>',
      'give up when the far end has not answered within this many seconds',
      parseTimeout,
      30,
    )
    .option('--rtp-ports <min-max>', 'UDP ports the softphone may use for RTP', parsePortRange, {
      min: 40000,
      max: 40999,
    })
    .option('--quiet', 'no progress lines on stderr while the call is set up')
    .option('--log-level <level>', 'pino level', 'warn')
    .action(
      async (
        uri: string,
        o: {
          play?: string;
          record?: string;
          dtmf?: string;
          dtmfDelay: string;
          duration?: string;
          host: string;
          ptime?: number;
          timeout: number;
          rtpPorts: PortRange;
          quiet?: boolean;
          logLevel: string;
        },
      ) => {
        // The file is checked before anything is dialled: a bad --play must not leave a call up.
        if (o.play !== undefined) checkPlayable(o.play);
        const logger = createLogger({ level: o.logLevel });
        const phone = new Softphone({
          logger,
          host: o.host,
          rtpPortMin: o.rtpPorts.min,
          rtpPortMax: o.rtpPorts.max,
        });
        await phone.start();
        const target = uri.startsWith('sip:') || uri.startsWith('sips:') ? uri : `sip:${uri}`;
        const progress = callProgress(target, o.quiet === true);
        try {
          const result = await phone.call(target, {
            answerTimeoutMs: o.timeout * 1000,
            onProvisional: progress.provisional,
            onEstablished: progress.answered,
            ...(o.play === undefined ? {} : { playPath: o.play }),
            ...(o.dtmf === undefined ? {} : { dtmf: o.dtmf, dtmfDelayMs: Number(o.dtmfDelay) }),
            ...(o.duration === undefined ? {} : { durationMs: Number(o.duration) * 1000 }),
            ...(o.ptime === undefined ? {} : { ptimeMs: o.ptime }),
          });
          if (o.record !== undefined) {
            writeWavFile(o.record, {
              sampleRateHz: result.sampleRateHz,
              channels: 1,
              samples: result.received,
            });
          }
          // The likely cause of refused or relocated RTP, for a person reading the terminal.
          if (result.media.hint !== undefined) process.stderr.write(`media: ${result.media.hint}\n`);
          process.stdout.write(
            `${JSON.stringify({
              codec: result.codec,
              endedBy: result.endedBy,
              receivedMs: Math.round((result.received.length / result.sampleRateHz) * 1000),
              packetsReceived: result.packetsReceived,
              packetsSent: result.packetsSent,
              media: result.media,
            })}\n`,
          );
        } catch (err) {
          if (err instanceof SipError && err.status === 408 && !progress.wasAnswered())
            throw new CliError(`no answer from ${target} within ${o.timeout} s`, EXIT.unavailable);
          throw err;
        } finally {
          progress.stop();
          await phone.close();
        }
      },
    );
}

/**
 * Progress on stderr while a call is set up: each provisional response, and every 5 s without a final
 * response a line saying so, so a dead SIP port is not 30 s of silence.
 */
function callProgress(
  target: string,
  quiet: boolean,
): {
  provisional: (status: number, reason: string) => void;
  answered: () => void;
  wasAnswered: () => boolean;
  stop: () => void;
} {
  const say = (line: string): void => {
    if (!quiet) process.stderr.write(`calling ${target}: ${line}\n`);
  };
  const since = Date.now();
  let answered = false;
  let heard = false;
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - since) / 1000);
    say(heard ? `no answer yet (${s} s)` : `no response yet (${s} s)`);
  }, PROGRESS_EVERY_MS);
  timer.unref();
  return {
    provisional: (status, reason) => {
      heard = true;
      if (status !== 100) say(`${status} ${reason}`);
    },
    answered: () => {
      answered = true;
      clearInterval(timer);
      say('answered');
    },
    wasAnswered: () => answered,
    stop: () => clearInterval(timer),
  };
}

/** `--timeout`: whole seconds, 1..3600. */
function parseTimeout(value: string): number {
  const s = Number(value);
  if (!Number.isInteger(s) || s < 1 || s > 3600)
    throw new InvalidArgumentError('--timeout must be 1..3600 s');
  return s;
}

/** `--ptime`: a whole number of ms the SDP can carry (RFC 4566 §6); anything else is a usage error. */
function parsePtime(value: string): number {
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 10 || ms > 120)
    throw new InvalidArgumentError('--ptime must be 10..120 ms');
  return ms;
}

/** `--play`: a readable 16-bit PCM WAV, or a one-line usage error before the call is placed. */
function checkPlayable(path: string): void {
  try {
    readWavFile(path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT') throw new CliError(`--play ${path}: no such file`, EXIT.noInput);
    throw new CliError(`--play ${path}: ${err instanceof Error ? err.message : String(err)}`, EXIT.noInput);
  }
}
