/**
 * `switchboard serve --instances N`: every core of one host, behind one Kamailio. Node runs one event loop
 * (one core) per process, and the media ticker of a process serves all of its calls, so a host with N cores
 * runs N independent servers. This supervisor forks N children of this same CLI (`serve --supervised`);
 * instance i gets SIP_PORT + i, HTTP_PORT + i (0 stays 0), slice i of RTP_PORT_MIN–RTP_PORT_MAX and
 * INSTANCE_ID `<INSTANCE_ID or hostname>-<i>`. It prints the Kamailio dispatcher.list lines for them, forwards
 * SIGTERM/SIGINT to every child (each drains on its own) and restarts nothing: a child that dies stays dead
 * (Kamailio's dispatcher probing takes it out of rotation) and the supervisor exits once every child has,
 * 0 if all exited cleanly, else 1. A process manager (systemd, a container runtime) restarts the group.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import type { Config } from '../config/config.js';
import { ConfigError } from '../errors.js';
import { resolveAdminToken } from '../http/auth.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { resolveMasterKey } from '../tenants/master-key.js';

/** Upper bound on `--instances` (a guard against a typo, not a tuning figure). */
export const MAX_INSTANCES = 64;
/** Each instance's RTP slice holds at least this many ports (a few calls). */
const MIN_RTP_PORTS_PER_INSTANCE = 4;

export interface InstancePlan {
  readonly index: number;
  readonly instanceId: string;
  readonly sipPort: number;
  readonly httpPort: number;
  readonly rtpPortMin: number;
  readonly rtpPortMax: number;
}

type PlanConfig = Pick<
  Config,
  'SIP_PORT' | 'HTTP_PORT' | 'RTP_PORT_MIN' | 'RTP_PORT_MAX' | 'INSTANCE_ID' | 'SIP_TRANSPORTS'
>;

const overlaps = (a: readonly [number, number], b: readonly [number, number]): boolean =>
  a[0] <= b[1] && b[0] <= a[1];

/**
 * The ports of each of `count` instances. RTP slices are equal and start on even ports (RFC 3550 §11: RTP
 * on an even port); the last slice also takes the remainder. Throws a ConfigError naming the setting when
 * the layout cannot work (SIP_PORT 0, ranges that collide, a slice too small).
 */
export function planInstances(config: PlanConfig, count: number): InstancePlan[] {
  if (!Number.isInteger(count) || count < 1 || count > MAX_INSTANCES)
    throw new ConfigError('--instances', `must be an integer in [1, ${MAX_INSTANCES}]`);
  if (config.SIP_PORT === 0)
    throw new ConfigError('SIP_PORT', 'must be a fixed port with --instances (Kamailio dispatches to it)');
  if (count > 1 && config.SIP_TRANSPORTS.includes('tls'))
    throw new ConfigError(
      'SIP_TRANSPORTS',
      'tls is not supported with --instances (each instance would bind SIP_TLS_PORT); terminate TLS at the proxy in front',
    );
  const sip: [number, number] = [config.SIP_PORT, config.SIP_PORT + count - 1];
  if (sip[1] > 65535) throw new ConfigError('SIP_PORT', `SIP_PORT + ${count - 1} exceeds 65535`);
  const http: [number, number] = [config.HTTP_PORT, config.HTTP_PORT + count - 1];
  if (config.HTTP_PORT !== 0) {
    if (http[1] > 65535) throw new ConfigError('HTTP_PORT', `HTTP_PORT + ${count - 1} exceeds 65535`);
    // SIP over TCP and HTTP share the TCP port space.
    if (config.SIP_TRANSPORTS.includes('tcp') && overlaps(sip, http))
      throw new ConfigError(
        'HTTP_PORT',
        `HTTP ports ${http.join('–')} collide with SIP ports ${sip.join('–')}`,
      );
  }
  const first = config.RTP_PORT_MIN + (config.RTP_PORT_MIN % 2);
  const slice = Math.floor((config.RTP_PORT_MAX - first + 1) / count / 2) * 2;
  if (slice < MIN_RTP_PORTS_PER_INSTANCE)
    throw new ConfigError(
      'RTP_PORT_MAX',
      `RTP range ${config.RTP_PORT_MIN}–${config.RTP_PORT_MAX} is too small for ${count} instances`,
    );
  if (overlaps(sip, [config.RTP_PORT_MIN, config.RTP_PORT_MAX]))
    throw new ConfigError('SIP_PORT', `SIP ports ${sip.join('–')} fall inside the RTP range`);
  const base = config.INSTANCE_ID ?? hostname();
  return Array.from({ length: count }, (_, index) => ({
    index,
    instanceId: `${base}-${index}`,
    sipPort: config.SIP_PORT + index,
    httpPort: config.HTTP_PORT === 0 ? 0 : config.HTTP_PORT + index,
    rtpPortMin: first + index * slice,
    rtpPortMax: index === count - 1 ? config.RTP_PORT_MAX : first + (index + 1) * slice - 1,
  }));
}

/**
 * Kamailio dispatcher.list lines (`setid destination flags priority attrs`, dispatcher module README §4)
 * for the instances, addressed at `host` (SIP_PUBLIC_HOST).
 */
export function dispatcherLines(plans: readonly InstancePlan[], host: string, setId: number): string[] {
  return plans.map((p) => `${setId} sip:${host}:${p.sipPort} 0 0 duid=${p.instanceId}`);
}

export interface ServeClusterOptions {
  readonly config: Config;
  readonly count: number;
  /** Dispatcher set id printed in the dispatcher.list lines. */
  readonly dispatcherSet: number;
  /** This CLI's entry point (process.argv[1]); each child runs `<cliPath> serve --supervised`. */
  readonly cliPath: string;
  /** The environment the children inherit, before the per-instance settings. */
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Where the dispatcher.list lines go (stdout). */
  readonly print: (line: string) => void;
}

export interface RunningCluster {
  readonly plans: readonly InstancePlan[];
  /** Forward a signal to every child still running. */
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the supervisor's exit status once every child has exited. */
  readonly done: Promise<number>;
}

/** Forks the instances; the caller wires process signals to `signal()` and exits with `done`. */
export async function startCluster(options: ServeClusterOptions): Promise<RunningCluster> {
  const { config, logger } = options;
  const plans = planInstances(config, options.count);
  // Generated secrets (embedded default, no MASTER_KEY/ADMIN_TOKEN) are created once here, in the shared
  // DATA_DIR, before any child starts: N children racing would each write their own.
  await resolveMasterKey(config, logger);
  await resolveAdminToken({ adminToken: config.ADMIN_TOKEN, dataDir: config.DATA_DIR }, logger);

  options.print(`# dispatcher.list for ${plans.length} instance(s) (setid destination flags priority attrs)`);
  for (const line of dispatcherLines(plans, config.SIP_PUBLIC_HOST, options.dispatcherSet))
    options.print(line);

  let stopping = false;
  let failed = false;
  const children = new Map<number, ChildProcess>();
  const exits: Array<Promise<void>> = [];
  for (const plan of plans) {
    const child = fork(options.cliPath, ['serve', '--supervised'], {
      env: {
        ...options.env,
        INSTANCE_ID: plan.instanceId,
        SIP_PORT: String(plan.sipPort),
        HTTP_PORT: String(plan.httpPort),
        RTP_PORT_MIN: String(plan.rtpPortMin),
        RTP_PORT_MAX: String(plan.rtpPortMax),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which forwards it once
      // (the child would otherwise get SIGINT twice). If the supervisor dies, watchSupervisor() drains it.
      detached: true,
    });
    children.set(plan.index, child);
    logger.info(
      { instance: plan.instanceId, pid: child.pid, sipPort: plan.sipPort, httpPort: plan.httpPort },
      'instance started',
    );
    exits.push(
      new Promise<void>((resolve) => {
        child.once('exit', (code, signal) => {
          children.delete(plan.index);
          const clean = code === 0;
          if (!clean) failed = true;
          const entry = { instance: plan.instanceId, code, signal };
          if (clean || stopping) logger.info(entry, 'instance exited');
          else logger.error(entry, 'instance exited unexpectedly; not restarted');
          resolve();
        });
      }),
    );
  }
  return {
    plans,
    signal(signal) {
      stopping = true;
      for (const child of children.values()) child.kill(signal);
    },
    done: Promise.all(exits).then(() => (failed ? 1 : 0)),
  };
}

/**
 * In a supervised child: if the supervisor dies (its IPC channel closes, e.g. SIGKILL), drain as if it had
 * forwarded SIGTERM, rather than serve on unsupervised. The channel must not keep the process alive.
 */
export function watchSupervisor(): void {
  if (process.channel === undefined) return;
  process.channel.unref();
  process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}

/** The `serve` flags this file handles, as commander parses them. */
export interface ServeFlags {
  /** `--instances N` as typed. */
  readonly instances?: string;
  /** `--dispatcher-set ID` as typed (default '1'). */
  readonly dispatcherSet: string;
  readonly supervised?: boolean;
}

export type ServeInstancesFlags = ServeFlags & { readonly instances: string };

/** The `serve --instances N` action: supervise N instances until they have all exited, then exit. */
export async function runServeCluster(config: Config, flags: ServeInstancesFlags): Promise<void> {
  const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT }).child({
    component: 'supervisor',
  });
  const cliPath = process.argv[1];
  const dispatcherSet = Number(flags.dispatcherSet);
  let cluster: RunningCluster;
  try {
    if (cliPath === undefined) throw new Error('no CLI path in process.argv');
    if (!Number.isInteger(dispatcherSet) || dispatcherSet < 0)
      throw new ConfigError('--dispatcher-set', 'must be a non-negative integer');
    cluster = await startCluster({
      config,
      count: Number(flags.instances),
      dispatcherSet,
      cliPath,
      env: process.env,
      logger,
      print: (line) => process.stdout.write(`${line}\n`),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: invalid configuration: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  // Each child drains on the signal (a second one is passed on too: the child decides what it means).
  const forward = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'forwarding signal to every instance');
    cluster.signal(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  const code = await cluster.done;
  logger.info({ code }, 'every instance has exited');
  process.exit(code);
}
