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

/**
 * An incremental parser for a stream of messages, fed with chunks of any size.
 *
 * Each line is checked as soon as it is complete, so a bad line is answered
 * without waiting for the end of its message, as the reference does. The only
 * bytes kept between calls are the unfinished last line, never more than
 * MAX_LINE_SIZE - 1 bytes. After an error the stream is broken for good:
 * the error is the last event, and pushing more is a programming error.
 *
 * Bytes are decoded as latin1, one character per byte, so lengths in
 * characters are lengths in bytes and no byte sequence is invalid.
 */
export class MessageParser<T> {
  private readonly newBuilder: () => MessageBuilder<T>;
  private builder: MessageBuilder<T> | undefined;
  private partial = '';
  private failed = false;

  constructor(newBuilder: () => MessageBuilder<T>) {
    this.newBuilder = newBuilder;
  }

  /** Bytes of an unfinished line held between pushes; always below MAX_LINE_SIZE. */
  get bufferedBytes(): number {
    return this.partial.length;
  }

  /** True when bytes of an unfinished message are held (a peer that closes now was cut off). */
  get midMessage(): boolean {
    return this.builder !== undefined || this.partial.length > 0;
  }

  push(chunk: Uint8Array): ParseEvent<T>[] {
    if (this.failed) throw new Error('MessageParser.push after a protocol error');
    const events: ParseEvent<T>[] = [];
    const text = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('latin1');
    // Lines that end before a NUL byte are still parsed; the line holding it is the error.
    const nul = text.indexOf('\0');
    const end = nul === -1 ? text.length : nul;
    try {
      let start = 0;
      while (start < end) {
        const newline = text.indexOf('\n', start);
        if (newline === -1 || newline >= end) {
          this.keepPartial(text.slice(start, end));
          break;
        }
        if (this.partial.length > 0) {
          const line = this.partial + text.slice(start, newline);
          this.partial = '';
          this.completeLine(line, events);
        } else {
          this.completeLine(text.slice(start, newline), events);
        }
        start = newline + 1;
      }
      if (nul !== -1) throw invalid('the message holds a NUL byte');
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.failed = true;
      this.builder = undefined;
      this.partial = '';
      events.push({ ok: false, error });
    }
    return events;
  }

  private keepPartial(piece: string): void {
    // With its newline still to come, a line of MAX_LINE_SIZE bytes is already too long.
    if (this.partial.length + piece.length >= MAX_LINE_SIZE) throw tooLong();
    this.partial += piece;
  }

  /** `line` is without its newline. */
  private completeLine(line: string, events: ParseEvent<T>[]): void {
    if (line.length + 1 > MAX_LINE_SIZE) throw tooLong();
    if (line.length === 0) {
      const builder = this.builder ?? this.newBuilder();
      this.builder = undefined;
      events.push({ ok: true, message: builder.finish() });
      return;
    }
    const equals = line.indexOf('=');
    if (equals === -1) throw invalid('a line has no "="');
    if (equals === 0) throw invalid('a line has an empty key');
    this.builder ??= this.newBuilder();
    this.builder.line(line.slice(0, equals), line.slice(equals + 1));
  }
}

function tooLong() {
  return invalid(`a line is longer than ${MAX_LINE_SIZE} bytes, its newline included`);
}
