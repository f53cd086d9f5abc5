import { labIdOfNamespace, parseNetnsList, parseStartTime, staleLabIds } from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

describe('finding stale labs', () => {
  it('reads ip netns list output with and without ids', () => {
    expect(parseNetnsList('wgdlab-0123abcd-a (id: 1)\nother\n\n  wgdlab-0123abcd-b\n')).toEqual([
      'wgdlab-0123abcd-a',
      'other',
      'wgdlab-0123abcd-b',
    ]);
  });

  it('recognises lab namespaces by prefix and id only', () => {
    expect(labIdOfNamespace('wgdlab-0123abcd-server')).toBe('0123abcd');
    expect(labIdOfNamespace('wgdlab-0123abc-server')).toBeUndefined();
    expect(labIdOfNamespace('wgdlab-0123ABCD-server')).toBeUndefined();
    expect(labIdOfNamespace('blue')).toBeUndefined();
  });

  it('reads the start time from /proc/<pid>/stat, even with ") " in the command name', () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = 'S';
    expect(parseStartTime(`123 (a) b) ${fields.join(' ')}`)).toBe('22');
    expect(parseStartTime('garbage')).toBeUndefined();
    expect(parseStartTime('1 (x) S 2')).toBeUndefined();
  });

  it('calls a lab stale when its owner is unknown, gone, or a different process with the same pid', () => {
    const owners: Record<string, { pid: number; startTime: string } | undefined> = {
      aaaaaaaa: { pid: 10, startTime: '100' }, // running
      bbbbbbbb: { pid: 11, startTime: '100' }, // gone
      cccccccc: { pid: 10, startTime: '99' }, // pid reused
      dddddddd: undefined, // no owner file
    };
    const running = new Map([[10, '100']]);
    expect(
      staleLabIds(
        ['dddddddd', 'aaaaaaaa', 'bbbbbbbb', 'cccccccc', 'bbbbbbbb'],
        (id) => owners[id],
        (owner) => running.get(owner.pid) === owner.startTime,
      ),
    ).toEqual(['bbbbbbbb', 'cccccccc', 'dddddddd']);
  });
});
