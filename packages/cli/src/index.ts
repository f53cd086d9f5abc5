export { ExitCode, FatalError, runProgram, UsageError } from './fatal.js';
export {
  createProgramLogger,
  formatLine,
  type Logger,
  type ProgramLoggerOptions,
} from './logger.js';
export { onTermination } from './signals.js';
