import { LineBuffer } from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

describe('LineBuffer', () => {
  it('splits chunks into lines across chunk boundaries and drops \\r', () => {
    const buffer = new LineBuffer();
    expect(buffer.push('one\r\ntw')).toEqual(['one']);
    expect(buffer.push('o\nthree')).toEqual(['two']);
    expect(buffer.flush()).toEqual(['three']);
    expect(buffer.flush()).toEqual([]);
    expect(buffer.lines).toEqual(['one', 'two', 'three']);
  });

  it('keeps only the last lines and counts what it dropped', () => {
    const buffer = new LineBuffer(2);
    buffer.push('a\nb\nc\nd\n');
    expect(buffer.lines).toEqual(['c', 'd']);
    expect(buffer.dropped).toBe(2);
  });

  it('keeps empty lines', () => {
    const buffer = new LineBuffer();
    expect(buffer.push('\n\nx\n')).toEqual(['', '', 'x']);
  });
});
