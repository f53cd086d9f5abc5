/**
 * What went wrong with the lease journal, for callers that decide on it:
 * - `locked`: another server (or this process) holds the state directory;
 * - `no-space`: the file system is full (ENOSPC, EDQUOT): new grants are refused
 *   while renewals and releases use the reserve;
 * - `io`: any other file-system failure (EIO, EACCES, EROFS...);
 * - `corrupt`: a file that cannot be read as a journal at all;
 * - `unsupported`: a file or record written by a newer version;
 * - `invalid-record`: a record the codec cannot encode (a programming error);
 * - `closed`: the journal is closed (or closing).
 */
export type JournalErrorCode =
  | 'locked'
  | 'no-space'
  | 'io'
  | 'corrupt'
  | 'unsupported'
  | 'invalid-record'
  | 'closed';

export class JournalError extends Error {
  override readonly name = 'JournalError';
  readonly code: JournalErrorCode;
  /** The file (or directory) the error is about, when there is one. */
  readonly file: string | undefined;

  constructor(
    code: JournalErrorCode,
    message: string,
    options: { readonly cause?: unknown; readonly file?: string } = {},
  ) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    this.file = options.file;
  }
}

/** The errno name (`ENOSPC`) of a Node file-system error, if it has one. */
export function errnoName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

const SPACE_ERRNOS = new Set(['ENOSPC', 'EDQUOT']);

/**
 * Translates a file-system failure where it enters: ENOSPC and EDQUOT become
 * `no-space`, anything else `io`. `action` says what was being done
 * ("write the lease journal"), `file` where.
 */
export function fileSystemError(error: unknown, action: string, file: string): JournalError {
  if (error instanceof JournalError) return error;
  const errno = errnoName(error) ?? 'unknown error';
  if (SPACE_ERRNOS.has(errno)) {
    return new JournalError(
      'no-space',
      `cannot ${action} ${file}: the file system is full (${errno}); free space on it or move ` +
        'the state directory (--state-dir) to a larger one',
      { cause: error, file },
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new JournalError(
    'io',
    `cannot ${action} ${file}: ${detail}; check the disk and the file system (dmesg), and the ` +
      "state directory's permissions",
    { cause: error, file },
  );
}
