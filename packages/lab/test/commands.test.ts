import { IpAddress } from '@wg-dynamic/ip';
import {
  batchArgv,
  batchInput,
  formatEndpoint,
  interfaceBatch,
  kernelInterfaceBatch,
  type LabSpec,
  namespaceBatch,
  nodeCommand,
  planLab,
  underlayBatch,
  wgSetCommand,
} from '@wg-dynamic/lab';
import { describe, expect, it } from 'vitest';

const spec: LabSpec = {
  nodes: {
    server: { linkLocal: 'fe80::/64', routes: ['192.168.4.0/28'] },
    a: { addresses: ['10.200.0.2/32'] },
  },
  links: [['server', 'a']],
  peers: [
    { node: 'server', peer: 'a' },
    { node: 'a', peer: 'server', allowedIps: ['0.0.0.0/0', '::/0'], persistentKeepalive: 25 },
  ],
};
const plan = planLab(spec, {
  random: (size) => new Uint8Array(size).fill(0xab),
  backend: 'userspace',
});
const [server, a] = plan.nodes;
if (!server || !a) throw new Error('plan has no nodes');

describe('lab command lines', () => {
  it('runs node commands in the namespace with the node’s own /run/wireguard', () => {
    expect(nodeCommand('wgdlab-x-a', '/run/wg-dynamic/lab/x/a/wireguard', ['wg', 'show'])).toEqual([
      'ip',
      'netns',
      'exec',
      'wgdlab-x-a',
      'sh',
      '-c',
      'mkdir -p /run/wireguard && mount -n --bind "$0" /run/wireguard && exec "$@"',
      '/run/wg-dynamic/lab/x/a/wireguard',
      'wg',
      'show',
    ]);
  });

  it('creates the namespaces, then the veths straight into them', () => {
    const batch = namespaceBatch(plan);
    expect(batch.netns).toBeUndefined();
    expect(batchArgv(batch)).toEqual(['ip', '-batch', '-']);
    expect(batchInput(batch)).toBe(
      'netns add wgdlab-abababab-server\n' +
        'netns add wgdlab-abababab-a\n' +
        'link add name v-a address 02:77:00:00:00:01 netns wgdlab-abababab-server type veth ' +
        'peer name v-server address 02:77:00:00:00:02 netns wgdlab-abababab-a\n',
    );
  });

  it('sets up the underlay with fixed neighbours, so the first packet need not wait for ARP or NDP', () => {
    const batch = underlayBatch(plan, a);
    expect(batchArgv(batch)).toEqual(['ip', '-n', 'wgdlab-abababab-a', '-batch', '-']);
    expect(batchInput(batch).split('\n')).toEqual([
      'link set dev lo up',
      'address add 10.254.0.2/30 dev v-server',
      'address add fd00:254::2/64 dev v-server nodad',
      'neighbour add 10.254.0.1 lladdr 02:77:00:00:00:01 dev v-server nud permanent',
      'neighbour add fd00:254::1 lladdr 02:77:00:00:00:01 dev v-server nud permanent',
      'link set dev v-server up',
      '',
    ]);
  });

  it('configures the interface in the order the kernel needs: addrgenmode, addresses, up, routes', () => {
    expect(batchInput(interfaceBatch(plan, server)).split('\n')).toEqual([
      'link set dev wg0 addrgenmode none',
      'address add fe80::/64 dev wg0 nodad',
      'link set dev wg0 up',
      'route add 192.168.4.0/28 dev wg0',
      '',
    ]);
    expect(batchInput(interfaceBatch(plan, a)).split('\n')).toEqual([
      'link set dev wg0 addrgenmode none',
      `address add ${a.linkLocal} dev wg0 nodad`,
      'address add 10.200.0.2/32 dev wg0',
      'link set dev wg0 up',
      'route add fe80::/128 dev wg0',
      '',
    ]);
    expect(batchInput(kernelInterfaceBatch(plan, a))).toBe('link add dev wg0 type wireguard\n');
  });

  it('configures WireGuard with one wg set per node, the key from a file', () => {
    const keys: Record<string, string> = { server: 'SERVERPUB=', a: 'APUB=' };
    const publicKeyOf = (name: string) => keys[name] ?? 'missing';
    expect(wgSetCommand(plan, a, '/keys/a', publicKeyOf)).toEqual([
      'wg',
      'set',
      'wg0',
      'private-key',
      '/keys/a',
      'listen-port',
      '51820',
      'peer',
      'SERVERPUB=',
      'allowed-ips',
      '0.0.0.0/0,::/0',
      'endpoint',
      '10.254.0.1:51820',
      'persistent-keepalive',
      '25',
    ]);
    expect(wgSetCommand(plan, server, '/keys/s', publicKeyOf)).toEqual([
      'wg',
      'set',
      'wg0',
      'private-key',
      '/keys/s',
      'listen-port',
      '51820',
      'peer',
      'APUB=',
      'allowed-ips',
      `${a.linkLocal.address}/128,10.200.0.2/32`,
      'endpoint',
      '10.254.0.2:51820',
    ]);
  });

  it('writes IPv6 endpoints in brackets', () => {
    expect(formatEndpoint(IpAddress.parse('fd00:254::1') as IpAddress, 51820)).toBe(
      '[fd00:254::1]:51820',
    );
    expect(formatEndpoint(IpAddress.parse('10.254.0.1') as IpAddress, 1)).toBe('10.254.0.1:1');
  });
});
