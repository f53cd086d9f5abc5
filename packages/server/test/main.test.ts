import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from '@wg-dynamic/cli';
import { IpPrefix } from '@wg-dynamic/ip';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerCommand } from '../src/cli/arguments.js';
import { type ServeSystem, serve } from '../src/cli/main.js';
import { readStatus } from '../src/control/control-socket.js';
import { FakeDevice } from './support/fakes.js';

const p = (text: string) => IpPrefix.from(text);
const PEER = `${'P'.repeat(43)}=`;

interface Line {
  readonly msg: string;
  readonly [key: string]: unknown;
}

/** The system `serve` runs on, faked: an in-memory device, sockets in a temporary directory. */
class FakeSystem implements ServeSystem {
  readonly device = new FakeDevice({ [PEER]: [p('fe80::1/128')] });
  readonly listen = { host: '::1', port: 0 };
  readonly handlers = new Set<(signal: NodeJS.Signals) => void>();
  closed = 0;
  /** Holds openInterface until released (a slow start-up step). */
  openGate: Promise<void> = Promise.resolve();

  constructor(readonly runDirectory: string) {}

  async openInterface() {
    await this.openGate;
    return {
      device: this.device,
      network: {
        ownAddresses: async () => [p('fe80::/64')],
        routes: async () => [],
        watch: () => () => {},
      },
      routes: {
        index: 1,
        routesTo: async () => [],
        add: async () => {},
        remove: async () => {},
      },
      close: async () => {
        this.closed++;
      },
    };
  }

  onTermination(stop: (signal: NodeJS.Signals) => void) {
    this.handlers.add(stop);
    return () => this.handlers.delete(stop);
  }

  /** Sends a signal; false when nothing handles it (the process would be killed). */
  signal(signal: NodeJS.Signals): boolean {
    for (const handler of this.handlers) handler(signal);
    return this.handlers.size > 0;
  }
}

describe('serve', () => {
  let directory: string;
  let system: FakeSystem;
  let lines: Line[];
  let onLine: (line: Line) => void;
  let command: Extract<ServerCommand, { command: 'serve' }>;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'wg-dynamic-serve-'));
    system = new FakeSystem(join(directory, 'run'));
    lines = [];
    onLine = () => {};
    command = {
      command: 'serve',
      interfaceName: 'wg0',
      leaseTime: 3600,
      pools: [p('10.0.0.0/24')],
      routes: [],
      delegations: [],
      stateDirectory: join(directory, 'state'),
      metrics: { host: '127.0.0.1', port: 0 },
      logLevel: 'info',
    };
  });

  afterEach(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const logger = () =>
    pino(
      { level: 'info' },
      {
        write: (text: string) => {
          const line = JSON.parse(text) as Line;
          lines.push(line);
          onLine(line);
        },
      },
    );

  /** The next line with this message; `atOnce` runs as it is written. */
  const nextLine = (msg: string, atOnce: () => void = () => {}) =>
    new Promise<Line>((resolve) => {
      onLine = (line) => {
        if (line.msg !== msg) return;
        atOnce();
        resolve(line);
      };
    });

  const socketPath = () => join(system.runDirectory, 'wg0.sock');

  it('says "listening" only once the metrics and the control socket are up', async () => {
    let socketAtReady: boolean | undefined;
    const ready = nextLine('listening', () => {
      socketAtReady = existsSync(socketPath());
    });
    const served = serve(command, logger(), system);
    const line = await ready;
    expect(socketAtReady).toBe(true);
    const messages = lines.map((l) => l.msg);
    expect(messages.indexOf('serving metrics at /metrics')).toBeGreaterThan(-1);
    expect(messages.indexOf('serving metrics at /metrics')).toBeLessThan(
      messages.indexOf('listening'),
    );
    expect(line).toMatchObject({ interface: 'wg0', leases: 0, control: socketPath() });
    expect((await readStatus(socketPath(), 'wg0')).interface).toBe('wg0');

    expect(system.signal('SIGTERM')).toBe(true);
    expect(await served).toBe(ExitCode.Ok);
    expect(existsSync(socketPath())).toBe(false);
    expect(system.closed).toBe(1);
  });
  it('stops cleanly on a signal while reconciling with the interface', async () => {
    // Reconciliation reads the device: hold it there while the signal comes.
    let release: () => void = () => {};
    const reading = new Promise<void>((resolve) => {
      release = resolve;
    });
    const peers = system.device.peers.bind(system.device);
    system.device.peers = async () => {
      await reading;
      return peers();
    };
    const journalRead = nextLine('lease journal read');
    const served = serve(command, logger(), system);
    await journalRead;
    await new Promise((r) => setTimeout(r, 20));
    expect(system.signal('SIGTERM')).toBe(true);
    release();
    expect(await served).toBe(ExitCode.Ok);
    const messages = lines.map((l) => l.msg);
    expect(messages).toContain('leases restored from the journal and the interface');
    expect(messages).not.toContain('listening');
    expect(messages.at(-1)).toBe('stopped');
    // The journal is closed (its lock is gone), nothing is left serving.
    expect(await readdir(join(command.stateDirectory, 'wg0'))).not.toContain('lock');
    expect(existsSync(socketPath())).toBe(false);
    expect(system.handlers.size).toBe(0);
    expect(system.closed).toBe(1);
  });

  it('stops cleanly on a signal before the journal is read', async () => {
    let release: () => void = () => {};
    system.openGate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const served = serve(command, logger(), system);
    await new Promise((r) => setTimeout(r, 20));
    expect(system.signal('SIGINT')).toBe(true);
    release();
    expect(await served).toBe(ExitCode.Ok);
    expect(lines.map((l) => l.msg)).toEqual(['stopping', 'stopped before start-up finished']);
    expect(existsSync(command.stateDirectory)).toBe(false);
    expect(system.closed).toBe(1);
  });
});
