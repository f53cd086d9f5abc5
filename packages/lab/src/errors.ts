/** What went wrong, for callers that branch on it. */
export type LabErrorCode =
  /** Lab code asked to touch real network state outside a lab sandbox. */
  | 'NOT_IN_SANDBOX'
  /** A program or kernel feature the lab needs is missing; the message says how to install it. */
  | 'MISSING_PREREQUISITE'
  /** A command exited with a non-zero status (or a signal). */
  | 'COMMAND_FAILED'
  /** A process the lab started exited before it was ready. */
  | 'PROCESS_EXITED'
  /** Something did not happen within its time limit. */
  | 'TIMEOUT'
  /** A lab topology or an argument is inconsistent; the message names the field. */
  | 'INVALID_ARGUMENT'
  /** The lab was used after `destroy()`. */
  | 'DESTROYED'
  /** Tearing a lab down left something behind; the cause holds every failure. */
  | 'TEARDOWN_FAILED'
  /** The kernel lab's virtual machine could not boot, crashed or timed out. */
  | 'VM_FAILED';

export class LabError extends Error {
  override readonly name = 'LabError';
  readonly code: LabErrorCode;

  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
