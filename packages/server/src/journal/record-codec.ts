/** Why a record's bytes cannot be decoded. */
export interface PayloadProblem {
  /**
   * True when the bytes are well formed for a later version (a record type
   * this version does not know): replay refuses to go on rather than drop
   * what a newer server wrote. False when they are simply malformed.
   */
  readonly unsupported: boolean;
  readonly reason: string;
}

/**
 * Turns records into the payload of a journal frame and back. The journal
 * itself only frames, checksums and stores payloads; the record vocabulary
 * (`leaseRecordCodec`) lives in its codec, so it can grow without touching
 * the storage.
 */
export interface RecordCodec<R> {
  /**
   * The payload of one record, at most MAX_PAYLOAD_SIZE bytes. Throws a
   * JournalError with code `invalid-record` for a record it cannot encode.
   */
  encode(record: R): Uint8Array;
  /** Checks a payload without building the record: undefined when `decode` will succeed. */
  check(payload: Uint8Array): PayloadProblem | undefined;
  /** The record of a payload that `check` accepted. */
  decode(payload: Uint8Array): R;
}
