import type { IpAddress } from '@wg-dynamic/ip';
import { formatCommand } from '../process/command-text.js';
import type { LabPlan, LinkEnd, NodePlan } from './plan.js';

/**
 * The command lines that build a lab, as data. `ip` commands are grouped
 * into batches (`ip [-n <netns>] -batch -`, one process per namespace and
 * phase); the order inside a batch is the order of the side effects.
 */
export interface IpBatch {
  /** Run in this network namespace (`ip -n`); none: the current one. */
  readonly netns?: string;
  /** Each entry is one `ip` command without the leading `ip`. */
  readonly commands: readonly (readonly string[])[];
}

/** wireguard-go's control socket directory, as every program in a node sees it (it must exist). */
export const NODE_UAPI_DIRECTORY = '/run/wireguard';

const BIND_UAPI = `mount -n --bind "$0" ${NODE_UAPI_DIRECTORY}`;

/**
 * `argv` as it runs in a node: in the node's network namespace (`ip netns
 * exec`, which also gives it a mount namespace of its own), with the node's
 * private directory bound over /run/wireguard, so that wireguard-go, wg and
 * the daemons of one node see only that node's control sockets.
 */
export function nodeCommand(
  netns: string,
  uapiDirectory: string,
  argv: readonly string[],
): string[] {
  return [
    'ip',
    'netns',
    'exec',
    netns,
    'sh',
    '-c',
    `${BIND_UAPI} && exec "$@"`,
    uapiDirectory,
    ...argv,
  ];
}

/** Like `nodeCommand`, for a shell script (one process tree instead of one per command). */
export function nodeScript(netns: string, uapiDirectory: string, script: string): string[] {
  return [
    'ip',
    'netns',
    'exec',
    netns,
    'sh',
    '-c',
    `${BIND_UAPI} || exit\n${script}`,
    uapiDirectory,
  ];
}

/** One step of a set-up script: an `ip` batch, or a command. */
export type SetupStep =
  | { readonly kind: 'ip'; readonly batch: IpBatch }
  | { readonly kind: 'command'; readonly argv: readonly string[] };

/** Turns on IPv4 and IPv6 forwarding. */
export const FORWARDING_COMMAND: readonly string[] = [
  'sysctl',
  '-qw',
  'net.ipv4.ip_forward=1',
  'net.ipv6.conf.all.forwarding=1',
];

/**
 * A node's set-up in two parts: `network` (forwarding, loopback, its veth
 * ends, and for the kernel backend the WireGuard interface itself) can run
 * as soon as the namespaces exist; `wireguard` (wg set, then the interface's
 * addresses, up, routes) once the interface exists. A node without WireGuard
 * (`wireguard: false`) gets the network part only.
 */
export function nodeSetupSteps(
  plan: LabPlan,
  node: NodePlan,
  privateKeyFile: string,
  publicKeyOf: (node: string) => string,
): { network: SetupStep[]; wireguard: SetupStep[] } {
  const underlay = underlayBatch(plan, node);
  const network: SetupStep[] = [];
  if (node.forwarding) network.push({ kind: 'command', argv: FORWARDING_COMMAND });
  network.push({
    kind: 'ip',
    batch: {
      commands: [
        ...underlay.commands,
        ...(plan.backend === 'kernel' && node.wireguard
          ? kernelInterfaceBatch(plan, node).commands
          : []),
      ],
    },
  });
  if (!node.wireguard) return { network, wireguard: [] };
  const wireguard: SetupStep[] = [
    { kind: 'command', argv: wgSetCommand(plan, node, privateKeyFile, publicKeyOf) },
    { kind: 'ip', batch: { commands: interfaceBatch(plan, node).commands } },
  ];
  return { network, wireguard };
}

/** The steps as a POSIX shell script that stops at the first failure. */
export function setupScript(steps: readonly SetupStep[]): string {
  const lines = ['set -e'];
  for (const step of steps) {
    if (step.kind === 'command') {
      lines.push(formatCommand(step.argv));
    } else {
      lines.push(
        `${formatCommand(batchArgv(step.batch))} <<'IP_BATCH'`,
        batchInput(step.batch).trimEnd(),
        'IP_BATCH',
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Every command of the steps on one line each, for logs and error messages. */
export function describeSteps(steps: readonly SetupStep[]): string[] {
  return steps.flatMap((step) =>
    step.kind === 'command'
      ? [formatCommand(step.argv)]
      : step.batch.commands.map((command) => `ip ${command.join(' ')}`),
  );
}

/**
 * Removes namespaces: SIGKILL whatever still runs in them (a daemon that
 * forked away; rounds until none is left, at most 100), then `ip netns del`
 * those that exist. One shell process, a few `ip` runs.
 */
export function teardownScript(namespaces: readonly string[]): string {
  const names = namespaces.join(' ');
  return `namespaces='${names}'
round=0
while :; do
  pids=$(for ns in $namespaces; do echo "netns pids $ns"; done | ip -force -batch - 2>/dev/null || true)
  [ -z "$pids" ] && break
  kill -9 $pids 2>/dev/null || true
  round=$((round + 1))
  if [ "$round" -ge 100 ]; then echo "processes survived SIGKILL in $namespaces: $pids" >&2; exit 1; fi
  sleep 0.02
done
existing=
for ns in $namespaces; do [ -e "/run/netns/$ns" ] && existing="$existing $ns"; done
[ -z "$existing" ] || for ns in $existing; do echo "netns del $ns"; done | ip -batch -
`;
}

/** In the current namespace: the namespaces, then the veth pairs straight into them. */
export function namespaceBatch(plan: LabPlan): IpBatch {
  const netns = new Map(plan.nodes.map((node) => [node.name, node.netns]));
  const commands: string[][] = plan.nodes.map((node) => ['netns', 'add', node.netns]);
  for (const link of plan.links) {
    const [a, b] = link.ends;
    commands.push([
      'link',
      'add',
      'name',
      a.device,
      'address',
      a.mac,
      'netns',
      netns.get(a.node) ?? a.node,
      'type',
      'veth',
      'peer',
      'name',
      b.device,
      'address',
      b.mac,
      'netns',
      netns.get(b.node) ?? b.node,
    ]);
  }
  return { commands };
}

/** In one node: loopback and its ends of the veth pairs (addresses, fixed neighbours, up). */
export function underlayBatch(plan: LabPlan, node: NodePlan): IpBatch {
  const commands: string[][] = [['link', 'set', 'dev', 'lo', 'up']];
  for (const end of node.underlay) {
    const far = farEnd(plan, end);
    commands.push(
      ['address', 'add', end.ipv4.toString(), 'dev', end.device],
      ['address', 'add', end.ipv6.toString(), 'dev', end.device, 'nodad'],
      [
        'neighbour',
        'add',
        far.ipv4.address.toString(),
        'lladdr',
        far.mac,
        'dev',
        end.device,
        'nud',
        'permanent',
      ],
      [
        'neighbour',
        'add',
        far.ipv6.address.toString(),
        'lladdr',
        far.mac,
        'dev',
        end.device,
        'nud',
        'permanent',
      ],
      ['link', 'set', 'dev', end.device, 'up'],
    );
  }
  return { netns: node.netns, commands };
}

/** Kernel backend: the WireGuard interface itself. */
export function kernelInterfaceBatch(plan: LabPlan, node: NodePlan): IpBatch {
  return {
    netns: node.netns,
    commands: [['link', 'add', 'dev', plan.interfaceName, 'type', 'wireguard']],
  };
}

/**
 * In one node, once WireGuard is configured: no automatic link-local address
 * (the kernel would add one the peers do not allow), the addresses, up, then
 * the routes (setting a link down wipes its IPv6 addresses and routes).
 */
export function interfaceBatch(plan: LabPlan, node: NodePlan): IpBatch {
  const dev = plan.interfaceName;
  const commands: string[][] = [['link', 'set', 'dev', dev, 'addrgenmode', 'none']];
  for (const address of [node.linkLocal, ...node.addresses]) {
    commands.push([
      'address',
      'add',
      address.toString(),
      'dev',
      dev,
      ...(address.family === 6 ? ['nodad'] : []),
    ]);
  }
  commands.push(['link', 'set', 'dev', dev, 'up']);
  for (const route of node.routes) commands.push(['route', 'add', route.toString(), 'dev', dev]);
  return { netns: node.netns, commands };
}

/**
 * `wg set` for one node: its private key (from a file: `/dev/stdin` fails
 * when stdin is a socket), listen port and every peer.
 */
export function wgSetCommand(
  plan: LabPlan,
  node: NodePlan,
  privateKeyFile: string,
  publicKeyOf: (node: string) => string,
): string[] {
  const argv = [
    'wg',
    'set',
    plan.interfaceName,
    'private-key',
    privateKeyFile,
    'listen-port',
    String(node.listenPort),
  ];
  for (const peer of node.peers) {
    argv.push('peer', publicKeyOf(peer.peer));
    if (peer.allowedIps.length > 0) argv.push('allowed-ips', peer.allowedIps.map(String).join(','));
    if (peer.endpoint !== undefined)
      argv.push('endpoint', formatEndpoint(peer.endpoint.address, peer.endpoint.port));
    if (peer.persistentKeepalive !== undefined) {
      argv.push('persistent-keepalive', String(peer.persistentKeepalive));
    }
  }
  return argv;
}

/** `10.254.0.2:51820` or `[fd00:254::2]:51820`. */
export function formatEndpoint(address: IpAddress, port: number): string {
  return address.family === 6 ? `[${address.toString()}]:${port}` : `${address.toString()}:${port}`;
}

/** The `ip` invocation for a batch (its commands go to stdin, one per line). */
export function batchArgv(batch: IpBatch): string[] {
  return batch.netns === undefined
    ? ['ip', '-batch', '-']
    : ['ip', '-n', batch.netns, '-batch', '-'];
}

/** A batch's stdin. Arguments never contain white space or quotes here. */
export function batchInput(batch: IpBatch): string {
  return batch.commands.map((command) => `${command.join(' ')}\n`).join('');
}

function farEnd(plan: LabPlan, end: LinkEnd): LinkEnd {
  for (const link of plan.links) {
    const [a, b] = link.ends;
    if (a === end) return b;
    if (b === end) return a;
  }
  throw new Error(`link end ${end.node}/${end.device} is not in the plan`);
}
