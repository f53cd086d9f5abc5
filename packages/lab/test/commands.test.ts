import { spawnSync } from 'node:child_process';
import { IpAddress } from '@wg-dynamic/ip';
import {
  batchArgv,
  batchInput,
  describeSteps,
  formatEndpoint,
  interfaceBatch,
  kernelInterfaceBatch,
  type LabSpec,
  namespaceBatch,
  nodeCommand,
  nodeScript,
  nodeSetupSteps,
  planLab,
  setupScript,
  teardownScript,
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
      'mount -n --bind "$0" /run/wireguard && exec "$@"',
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

  it('runs a node’s set-up as one script: network first, WireGuard once the interface exists', () => {
    const userspace = nodeSetupSteps(plan, a, '/keys/a', () => 'PUB=');
    expect(describeSteps(userspace.network)).toEqual([
      'ip link set dev lo up',
      'ip address add 10.254.0.2/30 dev v-server',
      'ip address add fd00:254::2/64 dev v-server nodad',
      'ip neighbour add 10.254.0.1 lladdr 02:77:00:00:00:01 dev v-server nud permanent',
      'ip neighbour add fd00:254::1 lladdr 02:77:00:00:00:01 dev v-server nud permanent',
      'ip link set dev v-server up',
    ]);
    expect(describeSteps(userspace.wireguard)).toEqual([
      'wg set wg0 private-key /keys/a listen-port 51820 peer PUB= allowed-ips 0.0.0.0/0,::/0 endpoint 10.254.0.1:51820 persistent-keepalive 25',
      'ip link set dev wg0 addrgenmode none',
      `ip address add ${a.linkLocal} dev wg0 nodad`,
      'ip address add 10.200.0.2/32 dev wg0',
      'ip link set dev wg0 up',
      'ip route add fe80::/128 dev wg0',
    ]);
    // The kernel backend creates the interface with the underlay; forwarding comes first.
    const kernelPlan = planLab(
      { ...spec, nodes: { ...spec.nodes, server: { linkLocal: 'fe80::/64', forwarding: true } } },
      { random: (size) => new Uint8Array(size).fill(1), backend: 'kernel' },
    );
    const kernelServer = kernelPlan.nodes[0];
    if (!kernelServer) throw new Error('no server');
    const kernel = describeSteps(
      nodeSetupSteps(kernelPlan, kernelServer, '/k', () => 'P=').network,
    );
    expect(kernel[0]).toBe('sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1');
    expect(kernel.at(-1)).toBe('ip link add dev wg0 type wireguard');

    const script = setupScript(userspace.wireguard);
    expect(script.split('\n')).toEqual([
      'set -e',
      'wg set wg0 private-key /keys/a listen-port 51820 peer PUB= allowed-ips 0.0.0.0/0,::/0 endpoint 10.254.0.1:51820 persistent-keepalive 25',
      "ip -batch - <<'IP_BATCH'",
      'link set dev wg0 addrgenmode none',
      `address add ${a.linkLocal} dev wg0 nodad`,
      'address add 10.200.0.2/32 dev wg0',
      'link set dev wg0 up',
      'route add fe80::/128 dev wg0',
      'IP_BATCH',
      '',
    ]);
    expect(nodeScript('ns', '/d', 'true\n')).toEqual([
      'ip',
      'netns',
      'exec',
      'ns',
      'sh',
      '-c',
      'mount -n --bind "$0" /run/wireguard || exit\ntrue\n',
      '/d',
    ]);
  });

  it('sets up only the underlay of a node without WireGuard, on either backend', () => {
    for (const backend of ['userspace', 'kernel'] as const) {
      const barePlan = planLab(
        {
          nodes: { server: { linkLocal: 'fe80::/64' }, a: { wireguard: false } },
          links: [['server', 'a']],
        },
        { random: (size) => new Uint8Array(size).fill(1), backend },
      );
      const bare = barePlan.nodes[1];
      if (!bare) throw new Error('no node a');
      const steps = nodeSetupSteps(barePlan, bare, '/k', () => 'P=');
      expect(steps.wireguard).toEqual([]);
      expect(describeSteps(steps.network).filter((c) => /wg0|wireguard/.test(c))).toEqual([]);
      expect(describeSteps(steps.network)).toContain('ip link set dev v-server up');
    }
  });

  it('writes scripts a POSIX shell accepts', () => {
    const scripts = [
      setupScript(nodeSetupSteps(plan, server, '/k', () => 'P=').network),
      setupScript(nodeSetupSteps(plan, server, '/k', () => 'P=').wireguard),
      teardownScript(['wgdlab-abababab-server', 'wgdlab-abababab-a']),
    ];
    for (const script of scripts) {
      const checked = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });
      expect(checked.stderr).toBe('');
      expect(checked.status).toBe(0);
    }
    expect(teardownScript(['x', 'y'])).toContain("namespaces='x y'");
  });

  it('writes IPv6 endpoints in brackets', () => {
    expect(formatEndpoint(IpAddress.parse('fd00:254::1') as IpAddress, 51820)).toBe(
      '[fd00:254::1]:51820',
    );
    expect(formatEndpoint(IpAddress.parse('10.254.0.1') as IpAddress, 1)).toBe('10.254.0.1:1');
  });
});
