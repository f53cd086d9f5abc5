// --prefix-interface and --prefix-hook against the real kernel (rtnetlink on a
// veth pair in the sandbox's namespace) and the real /bin/sh, with iproute2 as
// the witness.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrefixEffects, runShellHook, StateStore } from '@wg-dynamic/client';
import { IpPrefix } from '@wg-dynamic/ip';
import { openRtnetlink, type Rtnetlink } from '@wg-dynamic/rtnetlink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const LAN = 'pfx-lan';
const PEER = 'pfx-host';
const p = (text: string) => IpPrefix.from(text);

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The addresses of the LAN interface, as `ip` lists them. */
function addresses(): string[] {
  const [link] = JSON.parse(ip('-j', 'address', 'show', 'dev', LAN)) as Array<{
    addr_info: Array<{ local: string; prefixlen: number }>;
  }>;
  return (link?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`).sort();
}

function routes(family: '-4' | '-6'): string[] {
  return (JSON.parse(ip('-j', family, 'route', 'show', 'dev', LAN)) as Array<{ dst: string }>)
    .map((r) => r.dst)
    .sort();
}

let directory: string;
let rtnetlink: Rtnetlink;

beforeAll(async () => {
  ip('link', 'add', LAN, 'type', 'veth', 'peer', 'name', PEER);
  ip('link', 'set', LAN, 'addrgenmode', 'none');
  ip('link', 'set', LAN, 'up');
  ip('link', 'set', PEER, 'up');
  ip('address', 'add', '192.168.50.1/24', 'dev', LAN);
  directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-prefix-lab-'));
  rtnetlink = openRtnetlink();
});

afterAll(async () => {
  rtnetlink?.close();
  ip('link', 'del', LAN);
  await rm(directory, { recursive: true, force: true });
});

describe('--prefix-interface and --prefix-hook, for real', () => {
  it("grant, change and loss put, swap and remove only the client's addresses, and tell the hook", async () => {
    const events = join(directory, 'events');
    const store = new StateStore(join(directory, 'wg0', 'client.json'), 'wg0');
    const effects = new PrefixEffects({
      interfaceName: 'wg0',
      prefixInterface: LAN,
      prefixHook: `echo "$WG_DYNAMIC_EVENT $WG_DYNAMIC_FAMILY $WG_DYNAMIC_OLD_PREFIX>$WG_DYNAMIC_PREFIX $WG_DYNAMIC_PREFIX_ADDRESS" >> "${events}"`,
      rtnetlink,
      store,
      runHook: runShellHook,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });

    await effects.apply({ 4: p('10.200.0.16/28'), 6: p('2001:db8:100:5::/64') });
    expect(addresses()).toEqual(['10.200.0.17/28', '192.168.50.1/24', '2001:db8:100:5::1/64']);
    // The kernel routes each prefix to the downstream network.
    expect(routes('-4')).toContain('10.200.0.16/28');
    expect(routes('-6')).toContain('2001:db8:100:5::/64');

    await effects.apply({ 6: p('2001:db8:100:6::/64') });
    expect(addresses()).toEqual(['192.168.50.1/24', '2001:db8:100:6::1/64']);

    // An operator's address inside the next prefix: left alone, then and after.
    ip('address', 'add', '2001:db8:100:7::1/64', 'dev', LAN, 'nodad');
    await effects.apply({ 6: p('2001:db8:100:7::/64') });
    expect(addresses()).toEqual(['192.168.50.1/24', '2001:db8:100:7::1/64']);
    await effects.apply({});
    expect(addresses()).toEqual(['192.168.50.1/24', '2001:db8:100:7::1/64']);
    expect(store.state.addedDownstream).toEqual([]);

    expect((await readFile(events, 'utf8')).split('\n').filter(Boolean)).toEqual([
      'grant 4 >10.200.0.16/28 10.200.0.17/28',
      'grant 6 >2001:db8:100:5::/64 2001:db8:100:5::1/64',
      'loss 4 10.200.0.16/28> ',
      'change 6 2001:db8:100:5::/64>2001:db8:100:6::/64 2001:db8:100:6::1/64',
      'change 6 2001:db8:100:6::/64>2001:db8:100:7::/64 2001:db8:100:7::1/64',
      'loss 6 2001:db8:100:7::/64> ',
    ]);
    ip('address', 'del', '2001:db8:100:7::1/64', 'dev', LAN);
  });
});
