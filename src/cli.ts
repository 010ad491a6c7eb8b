#!/usr/bin/env node
import { Command, Option } from 'commander';
import { loadConfig } from './config/config.js';
import { ConfigError } from './errors.js';
import { registerCallCommand } from './cli-commands/call.js';
import { registerKeyCommands } from './cli-commands/keys.js';
import { registerReplayCommand } from './cli-commands/replay.js';
import { runServeCluster, watchSupervisor, type ServeFlags } from './cli-commands/serve-cluster.js';
import { installShutdown } from './cli-commands/shutdown.js';
import { registerTenantCommands } from './cli-commands/tenants.js';
import { failCli } from './cli-commands/cli-errors.js';
import { startServer } from './main.js';
import { createLogger } from './observability/logger.js';
import { counter, createMetricsRegistry } from './observability/metrics.js';
import { installProcessGuard } from './observability/process-guard.js';

const program = new Command();
program.name('switchboard').description('SIP voice-agent server');

program
  .command('serve')
  .description('answer SIP calls and connect them to realtime AI agents')
  .option('--instances <n>', 'run N instances on this host (one per core; SIP/HTTP port + i, RTP slice i)')
  .option('--dispatcher-set <id>', 'Kamailio dispatcher set id of the printed dispatcher.list lines', '1')
  .addOption(new Option('--supervised', 'a child of serve --instances').hideHelp())
  .action(async (flags: ServeFlags) => {
    let config;
    try {
      config = loadConfig(process.env);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`switchboard: invalid configuration: ${err.message}\n`);
        process.exit(78); // EX_CONFIG
      }
      throw err;
    }
    if (flags.instances !== undefined)
      return runServeCluster(config, { ...flags, instances: flags.instances });
    if (flags.supervised === true) watchSupervisor();
    const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
    const metrics = createMetricsRegistry({ defaultMetrics: true });
    const server = await startServer({
      config,
      logger,
      metrics,
      ...(config.REDIS_KEY_PREFIX === undefined ? {} : { redisKeyPrefix: config.REDIS_KEY_PREFIX }),
    });
    installProcessGuard({
      logger,
      events: process,
      activeCalls: () => server.calls.size,
      failures: counter(
        metrics,
        'switchboard_stray_errors_total',
        'Unhandled rejections and uncaught exceptions caught',
        ['kind'],
      ),
    });
    installShutdown({ server, logger, signals: process, exit: (code) => process.exit(code) });
  });

registerCallCommand(program);
registerReplayCommand(program);
registerTenantCommands(program);
registerKeyCommands(program);

// Any error that reaches the top is one line on stderr and a non-zero exit, never a stack trace.
await program.parseAsync(process.argv).catch(failCli);
