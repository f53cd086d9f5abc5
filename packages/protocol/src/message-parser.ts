import { MAX_LINE_SIZE } from './constants.js';
import { invalid, ProtocolError } from './errors.js';

/**
 * Turns the `key=value` lines of one message into a value. `line` throws a
 * ProtocolError for a line it refuses; `finish` runs at the empty line that
 * ends the message and checks what spans lines.
 */
export interface MessageBuilder<T> {
  line(key: string, value: string): void;
  finish(): T;
}

export type ParseEvent<T> =
  | { readonly ok: true; readonly message: T }
  | { readonly ok: false; readonly error: ProtocolError };

const NEWLINE = 0x0a;
const NUL = 0x00;
const EQUALS = 0x3d;

/**
 * An incremental parser for a stream of messages, fed with chunks of any size.
 *
 * Each line is checked as soon as it is complete, so a bad line is answered
 * without waiting for the end of its message, as the reference does. The only
 * bytes kept between calls are the unfinished last line, never more than
 * MAX_LINE_SIZE - 1 bytes. After an error the stream is broken for good:
 * the error is the last event, and pushing more is a programming error.
 */
export class MessageParser<T> {
  private readonly newBuilder: () => MessageBuilder<T>;
  private builder: MessageBuilder<T> | undefined;
  private readonly partial = Buffer.allocUnsafe(MAX_LINE_SIZE);
  private partialLength = 0;
  private failed = false;

  constructor(newBuilder: () => MessageBuilder<T>) {
    this.newBuilder = newBuilder;
  }

  /** Bytes of an unfinished line held between pushes; always below MAX_LINE_SIZE. */
  get bufferedBytes(): number {
    return this.partialLength;
  }

  /** True when bytes of an unfinished message are held (a peer that closes now was cut off). */
  get midMessage(): boolean {
    return this.builder !== undefined || this.partialLength > 0;
  }

  push(chunk: Uint8Array): ParseEvent<T>[] {
    if (this.failed) throw new Error('MessageParser.push after a protocol error');
    const events: ParseEvent<T>[] = [];
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    // Lines that end before a NUL byte are still parsed; the line holding it is the error.
    const nul = bytes.indexOf(NUL);
    const end = nul === -1 ? bytes.length : nul;
    try {
      let start = 0;
      while (start < end) {
        const newline = bytes.indexOf(NEWLINE, start);
        if (newline === -1 || newline >= end) {
          this.keepPartial(bytes, start, end);
          break;
        }
        if (this.partialLength > 0) {
          this.keepPartial(bytes, start, newline + 1);
          this.completeLine(this.partial, 0, this.partialLength - 1, events);
          this.partialLength = 0;
        } else {
          this.completeLine(bytes, start, newline, events);
        }
        start = newline + 1;
      }
      if (nul !== -1) throw invalid('the message holds a NUL byte');
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failed = true;
      this.builder = undefined;
      this.partialLength = 0;
      events.push({ ok: false, error });
    }
    return events;
  }

  private keepPartial(bytes: Buffer, start: number, end: number): void {
    if (this.partialLength + (end - start) > MAX_LINE_SIZE) {
      throw invalid(`a line is longer than ${MAX_LINE_SIZE} bytes`);
    }
    bytes.copy(this.partial, this.partialLength, start, end);
    this.partialLength += end - start;
    // A full buffer that still has no newline can only become an overlong line.
    if (this.partialLength === MAX_LINE_SIZE && this.partial[MAX_LINE_SIZE - 1] !== NEWLINE) {
      throw invalid(`a line is longer than ${MAX_LINE_SIZE} bytes`);
    }
  }

  /** `end` is the index of the line's newline. */
  private completeLine(bytes: Buffer, start: number, end: number, events: ParseEvent<T>[]): void {
    if (end - start + 1 > MAX_LINE_SIZE) {
      throw invalid(`a line is longer than ${MAX_LINE_SIZE} bytes`);
    }
    if (end === start) {
      const builder = this.builder ?? this.newBuilder();
      this.builder = undefined;
      events.push({ ok: true, message: builder.finish() });
      return;
    }
    const equals = bytes.indexOf(EQUALS, start);
    if (equals === -1 || equals >= end) throw invalid('a line has no "="');
    if (equals === start) throw invalid('a line has an empty key');
    this.builder ??= this.newBuilder();
    this.builder.line(
      bytes.toString('latin1', start, equals),
      bytes.toString('latin1', equals + 1, end),
    );
  }
}
