/**
 * The program: parse the command line, detach with --daemon, run the client
 * until it stops, exit with its status. Started by bin/wg-dynamic-client.js.
 */
import { join } from 'node:path';
import { createProgramLogger, type Logger, onTermination, runProgram } from '@wg-dynamic/cli';
import { ClientRuntime } from '../system/client-runtime.js';
import { detach, isDaemonChild, notifyReady } from './daemon.js';
import { parseCommandLine, USAGE } from './options.js';
import { claimPidFile } from './pid-file.js';

let logger: Logger | undefined;

await runProgram(
  async () => {
    const parsed = parseCommandLine(process.argv.slice(2));
    if (parsed.help) {
      process.stdout.write(`${USAGE}\n`);
      return 0;
    }
    const options = parsed.options;
    if (options.daemon && !isDaemonChild()) return detach();
    logger = createProgramLogger('wg-dynamic-client', { level: options.logLevel });
    const runtime = new ClientRuntime({
      interfaceName: options.interfaceName,
      families: { 4: options.ipv4, 6: options.ipv6 },
      acceptDefaultRoute: options.acceptDefaultRoute,
      prefixes: options.prefixes,
      prefixInterface: options.prefixInterface,
      prefixHook: options.prefixHook,
      stateDirectory: options.stateDirectory,
      logger,
    });
    const removeHandlers = onTermination((signal) => runtime.stop(`received ${signal}`));
    const releases: Array<() => Promise<void>> = [];
    await runtime.start({
      claim: async () => {
        // One client per interface: two would share, and undo, one record of what they added.
        const lock = join(options.stateDirectory, options.interfaceName, 'client.lock');
        releases.push(
          await claimPidFile(
            lock,
            (pid) =>
              `another wg-dynamic-client (pid ${pid}) already runs for ${options.interfaceName} ` +
              `(${lock}): stop it first (\`kill ${pid}\`)`,
          ),
        );
        if (options.pidFile !== undefined) releases.push(await claimPidFile(options.pidFile));
      },
      ready: () => {
        if (!isDaemonChild()) return;
        process.chdir('/');
        notifyReady();
      },
    });
    const status = await runtime.exited;
    removeHandlers();
    for (const release of releases) await release();
    return status;
  },
  { usage: USAGE, logger: () => logger },
);
