/**
 * The frames the event reader process writes on its standard output (see
 * worker/event-reader.cjs): kind (1 byte) | payload length (u32 big-endian) |
 * payload.
 */
export type Frame =
  | { readonly kind: 'ready' }
  | { readonly kind: 'datagram'; readonly senderPort: number; readonly datagram: Buffer }
  | { readonly kind: 'error'; readonly errno: number; readonly message: string };

const HEADER_LENGTH = 5;

/** A payload above this is not a netlink datagram (the kernel's are at most a few pages). */
export const MAX_FRAME_PAYLOAD = 1024 * 1024;

/** Frames from a byte stream in arbitrary chunks; bounded, throws on anything malformed. */
export class FrameReader {
  #buffered: Buffer = Buffer.alloc(0);

  /** Adds a chunk and returns the frames it completes. */
  push(chunk: Buffer): Frame[] {
    this.#buffered = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    const frames: Frame[] = [];
    while (this.#buffered.length >= HEADER_LENGTH) {
      const kind = this.#buffered.readUInt8(0);
      const length = this.#buffered.readUInt32BE(1);
      if (length > MAX_FRAME_PAYLOAD) {
        throw new Error(`a frame announces ${length} bytes, more than ${MAX_FRAME_PAYLOAD}`);
      }
      if (this.#buffered.length < HEADER_LENGTH + length) break;
      const payload = this.#buffered.subarray(HEADER_LENGTH, HEADER_LENGTH + length);
      this.#buffered = this.#buffered.subarray(HEADER_LENGTH + length);
      frames.push(decodeFrame(kind, payload));
    }
    return frames;
  }

  /** Bytes of an unfinished frame. */
  get pending(): number {
    return this.#buffered.length;
  }
}

function decodeFrame(kind: number, payload: Buffer): Frame {
  switch (String.fromCharCode(kind)) {
    case 'R':
      if (payload.length !== 0) throw new Error(`a ready frame has ${payload.length} bytes`);
      return { kind: 'ready' };
    case 'D':
      if (payload.length < 4) throw new Error(`a datagram frame has ${payload.length} bytes`);
      return {
        kind: 'datagram',
        senderPort: payload.readUInt32BE(0),
        datagram: Buffer.from(payload.subarray(4)),
      };
    case 'E':
      if (payload.length < 4) throw new Error(`an error frame has ${payload.length} bytes`);
      return {
        kind: 'error',
        errno: payload.readUInt32BE(0),
        message: payload.subarray(4).toString('utf8'),
      };
    default:
      throw new Error(`unknown frame kind 0x${kind.toString(16)}`);
  }
}
