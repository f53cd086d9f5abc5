/**
 * The program: parse the command line, detach with --daemon, run the client
 * until it stops, exit with its status. Started by bin/wg-dynamic-client.js.
 */
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
      stateDirectory: options.stateDirectory,
      logger,
    });
    const removeHandlers = onTermination((signal) => runtime.stop(`received ${signal}`));
    let releasePidFile: (() => Promise<void>) | undefined;
    await runtime.start(async () => {
      if (options.pidFile !== undefined) releasePidFile = await claimPidFile(options.pidFile);
      if (isDaemonChild()) {
        process.chdir('/');
        notifyReady();
      }
    });
    const status = await runtime.exited;
    removeHandlers();
    await releasePidFile?.();
    return status;
  },
  { usage: USAGE, logger: () => logger },
);
