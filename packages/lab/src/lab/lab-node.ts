import type { IpAddress, IpFamily, IpPrefix } from '@wg-dynamic/ip';
import type { Logger } from '@wg-dynamic/log';
import type { Backend } from '../environment.js';
import { LabError } from '../errors.js';
import type { LabPrivateKey } from '../keys.js';
import { formatCommand } from '../process/command-text.js';
import { LabProcess, type StartOptions } from '../process/lab-process.js';
import { type CommandResult, type RunOptions, runCommand } from '../process/run-command.js';
import { nodeCommand } from '../topology/commands.js';
import type { LinkEnd, NodePlan, PeerPlan } from '../topology/plan.js';

/** What a node needs from its lab. */
export interface NodeContext {
  readonly backend: Backend;
  readonly interfaceName: string;
  readonly logger: Logger;
  /** Records a process so that the lab's teardown stops it. */
  track(process: LabProcess): void;
  /** Throws DESTROYED once the lab is being torn down. */
  assertAlive(): void;
}

export interface NodeFacts {
  readonly plan: NodePlan;
  readonly privateKey: LabPrivateKey;
  readonly publicKey: string;
  readonly uapiDirectory: string;
}

/**
 * One host of a lab: a network namespace with a WireGuard interface and its
 * ends of the veth links. Everything it runs goes through `command`: inside
 * the namespace, with the node's own /run/wireguard.
 */
export class LabNode {
  readonly name: string;
  readonly netns: string;
  /** The WireGuard interface's name (wg0 by default). */
  readonly interface: string;
  readonly backend: Backend;
  readonly publicKey: string;
  /** Hidden from logs and JSON; `privateKey.toBase64()` gives the key. */
  readonly privateKey: LabPrivateKey;
  /** The interface's link-local address. */
  readonly linkLocal: IpAddress;
  /** The link-local address with the prefix length it has on the interface (fe80::/64, fe80::x/128). */
  readonly linkLocalPrefix: IpPrefix;
  /** The interface's other addresses. */
  readonly addresses: readonly IpPrefix[];
  /** This node's ends of its veth links: device, peer node, addresses. */
  readonly underlay: readonly LinkEnd[];
  readonly peers: readonly PeerPlan[];
  readonly listenPort: number;
  /**
   * False when the lab gave the node no WireGuard interface (`wireguard:
   * false` in its spec): `interface` is then the name a test may create.
   */
  readonly wireguard: boolean;
  /** The directory that the node's processes see as /run/wireguard (reachable from outside too). */
  readonly uapiDirectory: string;
  readonly #context: NodeContext;

  constructor(facts: NodeFacts, context: NodeContext) {
    const plan = facts.plan;
    this.name = plan.name;
    this.netns = plan.netns;
    this.interface = context.interfaceName;
    this.backend = context.backend;
    this.publicKey = facts.publicKey;
    this.privateKey = facts.privateKey;
    this.linkLocal = plan.linkLocal.address;
    this.linkLocalPrefix = plan.linkLocal;
    this.addresses = plan.addresses;
    this.underlay = plan.underlay;
    this.peers = plan.peers;
    this.listenPort = plan.listenPort;
    this.wireguard = plan.wireguard;
    this.uapiDirectory = facts.uapiDirectory;
    this.#context = context;
  }

  /** wireguard-go's control socket for the interface, as seen from outside the node. */
  get uapiSocket(): string {
    return `${this.uapiDirectory}/${this.interface}.sock`;
  }

  /** This node's address on its link to `peer`. */
  underlayAddress(peer: string, family: IpFamily = 4): IpAddress {
    const end = this.underlay.find((candidate) => candidate.peer === peer);
    if (end === undefined) {
      throw new LabError('INVALID_ARGUMENT', `node "${this.name}" has no link to "${peer}"`);
    }
    return (family === 4 ? end.ipv4 : end.ipv6).address;
  }

  /** The complete command line that runs `command args` in this node. */
  command(command: string, args: readonly string[] = []): string[] {
    return nodeCommand(this.netns, this.uapiDirectory, [command, ...args]);
  }

  /** Runs a command in the node to its end: `{ stdout, stderr, code }`; `check: true` throws on failure. */
  async exec(
    command: string,
    args: readonly string[] = [],
    options: RunOptions = {},
  ): Promise<CommandResult> {
    this.#context.assertAlive();
    return runCommand(this.command(command, args), {
      logger: this.#context.logger,
      displayName: this.#display(command, args),
      ...options,
    });
  }

  /** Starts a long-running process in the node; the lab stops it on teardown. */
  async spawn(
    command: string,
    args: readonly string[] = [],
    options: StartOptions = {},
  ): Promise<LabProcess> {
    this.#context.assertAlive();
    const child = await LabProcess.start(this.command(command, args), {
      logger: this.#context.logger,
      displayName: this.#display(command, args),
      ...options,
    });
    this.#context.track(child);
    return child;
  }

  /** `wg <args>` in the node; its stdout, or COMMAND_FAILED with its stderr. */
  async wg(...args: string[]): Promise<string> {
    return (await this.exec('wg', args, { check: true })).stdout;
  }

  /** `ip -n <netns> <args>`; its stdout, or COMMAND_FAILED with its stderr. */
  async ip(...args: string[]): Promise<string> {
    this.#context.assertAlive();
    const result = await runCommand(['ip', '-n', this.netns, ...args], {
      logger: this.#context.logger,
      displayName: `[${this.name}] ip ${formatCommand(args)}`,
      check: true,
    });
    return result.stdout;
  }

  toJSON(): object {
    return {
      name: this.name,
      netns: this.netns,
      interface: this.interface,
      publicKey: this.publicKey,
      linkLocal: this.linkLocalPrefix.toString(),
      addresses: this.addresses.map(String),
      listenPort: this.listenPort,
    };
  }

  #display(command: string, args: readonly string[]): string {
    return `[${this.name}] ${formatCommand([command, ...args])}`;
  }
}
