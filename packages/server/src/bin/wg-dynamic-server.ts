#!/usr/bin/env node
import { type Logger, runProgram } from '@wg-dynamic/cli';
import { USAGE } from '../cli/arguments.js';
import { main } from '../cli/main.js';

let logger: Logger | undefined;
await runProgram(
  () =>
    main(process.argv.slice(2), (created) => {
      logger = created;
    }),
  { usage: USAGE, logger: () => logger },
);
