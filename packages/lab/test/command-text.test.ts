import { formatCommand } from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

describe('formatCommand', () => {
  it('leaves plain arguments alone', () => {
    expect(formatCommand(['ip', '-6', 'addr', 'add', 'fe80::1/64', 'dev', 'wg0'])).toBe(
      'ip -6 addr add fe80::1/64 dev wg0',
    );
  });

  it('quotes what a shell would split or expand, so the line can be pasted', () => {
    expect(formatCommand(['sh', '-c', 'mount --bind "$1" /run/wireguard && exec "$@"'])).toBe(
      `sh -c 'mount --bind "$1" /run/wireguard && exec "$@"'`,
    );
    expect(formatCommand(['echo', "it's", ''])).toBe(`echo 'it'\\''s' ''`);
  });
});
