import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';
import type { PeerId } from '../src/leases/lease.js';
import { InterfaceView } from '../src/service/interface-view.js';

const p = (text: string) => IpPrefix.from(text);

function source(initial: Record<PeerId, string[]>) {
  const state = { peers: initial, reads: 0 };
  return {
    state,
    source: {
      peers: async () => {
        state.reads++;
        return new Map(Object.entries(state.peers).map(([k, v]) => [k, v.map(p)] as const));
      },
      ownAddresses: async () => [p('fe80::/64')],
    },
  };
}

describe('InterfaceView', () => {
  it('maps a link-local source to the peer whose allowed-ips hold its /128, in any spelling', async () => {
    const { source: s } = source({ A: ['fe80::a/128', '::/0'], B: ['fe80::b/128'] });
    const view = new InterfaceView(s);
    await view.refresh();
    expect(await view.identify('fe80::a')).toBe('A');
    expect(await view.identify('FE80:0:0::B%wg0')).toBe('B');
    expect(await view.identify('2001:db8::a')).toBeUndefined();
    expect(view.linkLocalPeers()).toBe(2);
  });

  it('reads the device again once on a miss, at most once per interval', async () => {
    let now = 0;
    const { source: s, state } = source({ A: ['fe80::a/128'] });
    const view = new InterfaceView(s, { missRefreshMs: 1000, now: () => now });
    await view.refresh();
    state.peers = { A: ['fe80::a/128'], C: ['fe80::c/128'] };
    now = 5000;
    expect(await view.identify('fe80::c')).toBe('C');
    expect(state.reads).toBe(2);
    // A flood of unknown sources within the interval costs no further reads.
    await Promise.all(Array.from({ length: 50 }, (_, i) => view.identify(`fe80::1:${i}`)));
    expect(state.reads).toBe(2);
    now = 7000;
    await view.identify('fe80::dead');
    expect(state.reads).toBe(3);
  });

  it('hands every fresh view on', async () => {
    const { source: s } = source({ A: ['fe80::a/128'] });
    const view = new InterfaceView(s);
    const seen: number[] = [];
    view.onRefresh = (v) => {
      seen.push(v.peers.size);
    };
    await Promise.all([view.refresh(), view.refresh()]);
    expect(seen).toEqual([1]);
  });
});
