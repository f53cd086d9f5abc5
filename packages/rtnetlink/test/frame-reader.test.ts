import { FrameReader, MAX_FRAME_PAYLOAD } from '@wg-dynamic/rtnetlink/codec';
import { describe, expect, it } from 'vitest';

function frame(kind: string, payload: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(kind, 0, 'latin1');
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

function numbered(value: number, rest: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(value, 0);
  return Buffer.concat([head, rest]);
}

describe('FrameReader', () => {
  it('reads ready, datagram and error frames, however the stream is cut', () => {
    const stream = Buffer.concat([
      frame('R', Buffer.alloc(0)),
      frame('D', numbered(0, Buffer.from([1, 2, 3]))),
      frame('E', numbered(105, Buffer.from('No buffer space available'))),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const reader = new FrameReader();
      const frames = [
        ...reader.push(stream.subarray(0, cut)),
        ...reader.push(stream.subarray(cut)),
      ];
      expect(frames).toEqual([
        { kind: 'ready' },
        { kind: 'datagram', senderPort: 0, datagram: Buffer.from([1, 2, 3]) },
        { kind: 'error', errno: 105, message: 'No buffer space available' },
      ]);
      expect(reader.pending).toBe(0);
    }
  });

  it('refuses an oversized announcement before it is buffered, and unknown or short frames', () => {
    const huge = Buffer.alloc(5);
    huge.write('D', 0, 'latin1');
    huge.writeUInt32BE(MAX_FRAME_PAYLOAD + 1, 1);
    expect(() => new FrameReader().push(huge)).toThrow(/more than/);
    expect(() => new FrameReader().push(frame('X', Buffer.alloc(0)))).toThrow(
      /unknown frame kind 0x58/,
    );
    expect(() => new FrameReader().push(frame('D', Buffer.alloc(2)))).toThrow(
      /datagram frame has 2 bytes/,
    );
    expect(() => new FrameReader().push(frame('R', Buffer.alloc(1)))).toThrow(/ready frame/);
  });
});
