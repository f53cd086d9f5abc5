import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { type Logger, silentLogger } from '@wg-dynamic/log';
import { waitForSocket } from '../device/wireguard-interface.js';
import { backendFromEnvironment } from '../environment.js';
import { LabError } from '../errors.js';
import { generateKeyPair, type LabKeyPair } from '../keys.js';
import { LabProcess } from '../process/lab-process.js';
import { runCommand } from '../process/run-command.js';
import {
  batchArgv,
  batchInput,
  describeSteps,
  type IpBatch,
  NODE_UAPI_DIRECTORY,
  namespaceBatch,
  nodeCommand,
  nodeScript,
  nodeSetupSteps,
  type SetupStep,
  setupScript,
  teardownScript,
} from '../topology/commands.js';
import { LAB_NETNS_PREFIX, type LabPlan, planLab } from '../topology/plan.js';
import type { LabSpec } from '../topology/spec.js';
import { LabNode } from './lab-node.js';
import { registerLiveLab, unregisterLiveLab } from './live-labs.js';
import {
  formatOwner,
  type LabOwner,
  labIdOfNamespace,
  parseNetnsList,
  parseOwner,
  parseStartTime,
  staleLabIds,
} from './stale.js';

/** Where labs keep keys and per-node /run/wireguard directories: tmpfs, private in a sandbox. */
export const DEFAULT_LAB_STATE_DIRECTORY = '/run/wg-dynamic/lab';

export interface LabOptions {
  readonly logger?: Logger;
  /** Random bytes for the lab id, link-local addresses and keys (default: crypto). */
  readonly random?: (size: number) => Uint8Array;
  /** Default /run/wg-dynamic/lab; each lab uses a subdirectory named by its id. */
  readonly stateDirectory?: string;
  /** How long processes get after SIGTERM before SIGKILL at teardown (default 2 s). */
  readonly stopGraceMs?: number;
  /** How long wireguard-go may take to answer on its socket (default 10 s). */
  readonly readyTimeoutMs?: number;
}

export interface CleanupOptions {
  readonly logger?: Logger;
  readonly stateDirectory?: string;
}

/**
 * A lab of network namespaces joined by veth pairs, each with a configured
 * WireGuard interface (wireguard-go or the kernel module), built from a
 * `LabSpec`. `destroy()` (or `await using`) removes everything it made, even
 * after a failed set-up; it is idempotent.
 *
 * WireGuard is configured with wg(8), an independent witness: the lab does
 * not use the project's own device layer, which is what the labs test.
 */
export class Lab implements AsyncDisposable {
  readonly plan: LabPlan;
  readonly stateDirectory: string;
  readonly #nodes = new Map<string, LabNode>();
  readonly #devices: LabProcess[] = [];
  readonly #processes: LabProcess[] = [];
  readonly #logger: Logger;
  readonly #stopGraceMs: number;
  #destroyed: Promise<void> | undefined;

  private constructor(plan: LabPlan, stateDirectory: string, logger: Logger, stopGraceMs: number) {
    this.plan = plan;
    this.stateDirectory = stateDirectory;
    this.#logger = logger;
    this.#stopGraceMs = stopGraceMs;
  }

  /** Builds the lab; on any failure, tears down what was made and throws. */
  static async create(spec: LabSpec, options: LabOptions = {}): Promise<Lab> {
    const random = options.random ?? randomBytes;
    const plan = planLab(spec, { random, backend: backendFromEnvironment() });
    if (process.getuid?.() !== 0) {
      throw new LabError(
        'MISSING_PREREQUISITE',
        'a lab creates network namespaces and needs root: run the tests with `npm test` as root',
      );
    }
    const base = options.stateDirectory ?? DEFAULT_LAB_STATE_DIRECTORY;
    const lab = new Lab(
      plan,
      `${base}/${plan.id}`,
      options.logger ?? silentLogger,
      options.stopGraceMs ?? 2_000,
    );
    registerLiveLab(lab);
    try {
      await lab.#setUp(random, options.readyTimeoutMs ?? 10_000);
    } catch (error) {
      await lab.destroy().catch((teardown: unknown) => {
        lab.#logger.error({ err: teardown }, 'lab teardown after a failed set-up failed too');
      });
      throw error;
    }
    return lab;
  }

  get id(): string {
    return this.plan.id;
  }

  get backend(): LabPlan['backend'] {
    return this.plan.backend;
  }

  get interfaceName(): string {
    return this.plan.interfaceName;
  }

  /** Every node by name, in the order of the spec. */
  get nodes(): ReadonlyMap<string, LabNode> {
    return this.#nodes;
  }

  node(name: string): LabNode {
    const node = this.#nodes.get(name);
    if (node === undefined) {
      throw new LabError(
        'INVALID_ARGUMENT',
        `the lab has no node "${name}" (it has: ${[...this.#nodes.keys()].join(', ')})`,
      );
    }
    return node;
  }

  /**
   * Stops every process the lab started (SIGTERM, SIGKILL after the grace
   * period) and anything else still running in its namespaces, deletes the
   * namespaces (which removes the veths and interfaces) and the state
   * directory. Idempotent; safe after a half-finished set-up.
   */
  destroy(): Promise<void> {
    this.#destroyed ??= this.#tearDown();
    return this.#destroyed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  /**
   * Removes what labs of killed runs left behind: namespaces named
   * `wgdlab-<id>-…` and state directories whose owning process is gone.
   * Labs of running processes are left alone. Returns the ids removed.
   */
  static async cleanupStale(options: CleanupOptions = {}): Promise<string[]> {
    const logger = options.logger ?? silentLogger;
    const base = options.stateDirectory ?? DEFAULT_LAB_STATE_DIRECTORY;
    const listed = await runCommand(['ip', 'netns', 'list'], { check: true, logger });
    const namespaces = parseNetnsList(listed.stdout).filter(
      (name) => labIdOfNamespace(name) !== undefined,
    );
    const directories = await readdir(base).catch(() => [] as string[]);
    const owners = new Map<string, LabOwner | undefined>();
    const ids = [...namespaces.map((name) => labIdOfNamespace(name) as string), ...directories];
    for (const id of new Set(ids)) {
      const text = await readFile(`${base}/${id}/owner`, 'utf8').catch(() => '');
      owners.set(id, parseOwner(text));
    }
    const running = new Map<number, string | undefined>();
    for (const owner of owners.values()) {
      if (owner === undefined || running.has(owner.pid)) continue;
      const stat = await readFile(`/proc/${owner.pid}/stat`, 'utf8').catch(() => '');
      running.set(owner.pid, parseStartTime(stat));
    }
    const stale = staleLabIds(
      ids,
      (id) => owners.get(id),
      (owner) => running.get(owner.pid) === owner.startTime,
    );
    for (const id of stale) {
      const mine = namespaces.filter((name) => labIdOfNamespace(name) === id);
      logger.info({ lab: id, namespaces: mine }, 'removing a stale lab');
      await removeNamespaces(mine, logger);
      if (/^[0-9a-f]{8}$/.test(id)) await rm(`${base}/${id}`, { recursive: true, force: true });
    }
    return stale;
  }

  async #setUp(random: (size: number) => Uint8Array, readyTimeoutMs: number): Promise<void> {
    const plan = this.plan;
    await mkdir(this.stateDirectory, { recursive: true, mode: 0o700 });
    await writeFile(`${this.stateDirectory}/owner`, formatOwner(await currentOwner()));

    const keys = new Map<string, LabKeyPair>();
    for (const node of plan.nodes) {
      const pair = generateKeyPair(random);
      keys.set(node.name, pair);
      const directory = `${this.stateDirectory}/${node.name}`;
      await mkdir(`${directory}/wireguard`, { recursive: true, mode: 0o700 });
      await writeFile(`${directory}/private.key`, `${pair.privateKey.toBase64()}\n`, {
        mode: 0o600,
      });
      await chmod(`${directory}/private.key`, 0o600);
      const context = {
        backend: plan.backend,
        interfaceName: plan.interfaceName,
        logger: this.#logger,
        track: (child: LabProcess) => this.#processes.push(child),
        assertAlive: () => this.#assertAlive(),
      };
      this.#nodes.set(
        node.name,
        new LabNode(
          {
            plan: node,
            privateKey: pair.privateKey,
            publicKey: pair.publicKey,
            uapiDirectory: `${directory}/wireguard`,
          },
          context,
        ),
      );
    }

    this.#logger.info(
      { lab: plan.id, backend: plan.backend, nodes: [...this.#nodes.keys()] },
      'creating a lab',
    );
    // Every node's processes bind their own directory over it: it must exist.
    await mkdir(NODE_UAPI_DIRECTORY, { recursive: true });
    await this.#runBatch(namespaceBatch(plan));
    const publicKeyOf = (name: string) => (keys.get(name) as LabKeyPair).publicKey;
    await Promise.all(
      plan.nodes.map(async (node) => {
        const labNode = this.node(node.name);
        const steps = nodeSetupSteps(
          plan,
          node,
          `${this.stateDirectory}/${node.name}/private.key`,
          publicKeyOf,
        );
        if (!node.wireguard) {
          await this.#runSetup(labNode, steps.network);
        } else if (plan.backend === 'kernel') {
          await this.#runSetup(labNode, [...steps.network, ...steps.wireguard]);
        } else {
          // wireguard-go starts while the underlay is set up.
          await Promise.all([
            this.#runSetup(labNode, steps.network),
            this.#startWireguardGo(labNode, readyTimeoutMs),
          ]);
          await this.#runSetup(labNode, steps.wireguard);
        }
      }),
    );
  }

  /** Runs a node's set-up steps as one script in the node; logs each command first. */
  async #runSetup(node: LabNode, steps: readonly SetupStep[]): Promise<void> {
    const described = describeSteps(steps);
    for (const command of described)
      this.#logger.debug({ node: node.name, command }, `[#] [${node.name}] ${command}`);
    try {
      await runCommand(nodeScript(node.netns, node.uapiDirectory, setupScript(steps)), {
        check: true,
        displayName: `[${node.name}] set-up (${described.join('; ')})`,
      });
    } catch (error) {
      if (error instanceof LabError && /unknown device type/i.test(error.message)) {
        throw new LabError(
          'MISSING_PREREQUISITE',
          'this kernel has no WireGuard module: load it with `modprobe wireguard`, run the lab in the ' +
            'kernel lab (packages/lab/bin/kernel-lab), or use the userspace backend (WG_DYNAMIC_LAB_BACKEND=userspace)',
          { cause: error },
        );
      }
      throw error;
    }
  }

  async #startWireguardGo(node: LabNode, readyTimeoutMs: number): Promise<void> {
    const child = await LabProcess.start(
      nodeCommand(node.netns, node.uapiDirectory, ['wireguard-go', '-f', node.interface]),
      {
        env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'error' },
        displayName: `[${node.name}] wireguard-go -f ${node.interface}`,
        logger: this.#logger,
      },
    );
    this.#devices.push(child);
    await waitForSocket(child, node.uapiSocket, readyTimeoutMs);
  }

  async #runBatch(batch: IpBatch): Promise<void> {
    if (batch.commands.length === 0) return;
    const where = batch.netns === undefined ? '' : `-n ${batch.netns} `;
    for (const command of batch.commands)
      this.#logger.debug({ command }, `[#] ip ${where}${command.join(' ')}`);
    await runCommand(batchArgv(batch), {
      input: batchInput(batch),
      check: true,
      displayName: `ip ${where}-batch (${batch.commands.map((c) => c.join(' ')).join('; ')})`,
    });
  }

  #assertAlive(): void {
    if (this.#destroyed !== undefined) {
      throw new LabError('DESTROYED', `lab ${this.plan.id} has been destroyed; create a new one`);
    }
  }

  async #tearDown(): Promise<void> {
    const problems: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        problems.push(error);
      }
    };
    this.#logger.info({ lab: this.plan.id }, 'destroying the lab');
    // The daemons first (they may talk to WireGuard), then wireguard-go.
    await attempt(() => Promise.all(this.#processes.map((child) => child.stop(this.#stopGraceMs))));
    await attempt(() => Promise.all(this.#devices.map((child) => child.stop(this.#stopGraceMs))));
    const namespaces = this.plan.nodes.map((node) => node.netns);
    await attempt(() => removeNamespaces(namespaces, this.#logger));
    await attempt(() => rm(this.stateDirectory, { recursive: true, force: true }));
    unregisterLiveLab(this);
    if (problems.length > 0) {
      const reasons = problems.map((problem) =>
        problem instanceof Error ? problem.message : String(problem),
      );
      throw new LabError(
        'TEARDOWN_FAILED',
        `lab ${this.plan.id}: teardown was incomplete (look for namespaces named ${LAB_NETNS_PREFIX}${this.plan.id}-*; ` +
          `Lab.cleanupStale() removes them once this process has ended):\n${reasons.join('\n')}`,
        { cause: new AggregateError(problems) },
      );
    }
  }
}

async function currentOwner(): Promise<LabOwner> {
  const stat = await readFile(`/proc/${process.pid}/stat`, 'utf8').catch(() => '');
  return { pid: process.pid, startTime: parseStartTime(stat) ?? '0' };
}

/** Kills what still runs in the namespaces and deletes them (one shell process). */
async function removeNamespaces(namespaces: readonly string[], logger: Logger): Promise<void> {
  if (namespaces.length === 0) return;
  logger.debug(
    { namespaces },
    `[#] kill -KILL (whatever runs in them); ip netns del ${namespaces.join(' ')}`,
  );
  await runCommand(['sh', '-c', teardownScript(namespaces)], {
    check: true,
    displayName: `removing namespaces ${namespaces.join(' ')}`,
  });
}
