import { describe, expect, it } from 'vitest';
import { formatStatus, type ServerStatus } from '../src/control/status.js';

const A = `${'A'.repeat(43)}=`;

describe('formatStatus', () => {
  const status: ServerStatus = {
    interface: 'wg0',
    leaseTime: 3600,
    now: 1_700_000_000,
    pools: [{ family: 4, pool: '10.44.0.0/24', capacity: '254', leased: 1 }],
    routes: [],
    leases: [
      { peer: A, address: '10.44.0.7/32', start: 1_700_000_000, duration: 3600, secondsLeft: 3595 },
    ],
    delegations: [
      { family: 6, pool: '2001:db8:100::/48', length: 64, capacity: '65536', delegated: 1 },
    ],
    prefixes: [
      {
        peer: A,
        prefix: '2001:db8:100:5::/64',
        start: 1_700_000_000,
        duration: 3600,
        secondsLeft: 60,
      },
    ],
  };

  it("lists the delegation pools and each peer's delegated prefixes after its addresses", () => {
    expect(formatStatus(status)).toBe(
      [
        'interface: wg0',
        '  lease time: 1 hour',
        '  pool: 10.44.0.0/24 (1 of 254 leased)',
        '  delegation: 2001:db8:100::/48 in /64s (1 of 65536 delegated)',
        '',
        `peer: ${A}`,
        '  10.44.0.7/32: leased since 2023-11-14 22:13:20 UTC, 59 minutes, 55 seconds left',
        '  2001:db8:100:5::/64: delegated since 2023-11-14 22:13:20 UTC, 1 minute left',
        '',
      ].join('\n'),
    );
  });

  it('reads the status of a server without delegation', () => {
    const { delegations: _, prefixes: __, ...older } = status;
    expect(formatStatus(older)).not.toMatch(/delegat/);
  });
});
