/**
 * wg-dynamic-client's start: the time from starting the program to its
 * leased addresses being on the interface (tunnel already up, the real
 * wg-dynamic-server at the other end), and its resident memory once running.
 * It needs real WireGuard and network namespaces, so it runs only inside a
 * lab sandbox (`npm run bench -- client` as root starts one):
 *
 *   npm run bench -- client
 *
 * Two clocks: from the bench's spawn (which includes `ip netns exec` and a
 * shell, as a service manager's start would include its own overhead), and
 * the client's own count from its process start (`startupMs` in its first
 * "lease applied" log line). The bare start of `node` in the same place is
 * the floor no Node program can go below. The notification reader, a small
 * child process the client starts in parallel with its first request, is
 * counted apart in memory.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { isInSandbox, Lab, type LabNode } from '@wg-dynamic/lab';
import { percentile } from './lib/measure.js';
import { type Figure, notRun } from './lib/report.js';

const CLIENT_BIN = fileURLToPath(
  new URL('../../packages/client/dist/bin/wg-dynamic-client.js', import.meta.url),
);
const SERVER_BIN = fileURLToPath(
  new URL('../../packages/server/dist/bin/wg-dynamic-server.js', import.meta.url),
);
const RUNS = 15;
const SETTLE_MS = 2_000;
const IDLE_MS = 30_000;

/** VmRSS of a process in MiB; NaN when it is gone. */
async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const kib = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  return kib === undefined ? Number.NaN : Number(kib) / 1024;
}

async function childrenOf(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const status = await readFile(`/proc/${entry}/status`, 'utf8').catch(() => '');
    if (new RegExp(`^PPid:\\s+${pid}$`, 'm').test(status)) out.push(Number(entry));
  }
  return out;
}

/** A bare `node` started the same way: wall time from spawn to exit, and its own processor time. */
async function bareNodeStart(node: LabNode): Promise<{ wall: number; cpu: number }> {
  const start = performance.now();
  const result = await node.exec(
    process.execPath,
    [
      '-e',
      'const c = process.cpuUsage(); process.stdout.write(String((c.user + c.system) / 1000))',
    ],
    { check: true },
  );
  return { wall: performance.now() - start, cpu: Number(result.stdout) };
}

export default async function client(): Promise<Figure[]> {
  const suite = 'client';
  if (!isInSandbox()) {
    return notRun(
      suite,
      'needs real WireGuard and network namespaces: run `npm run bench -- client` as root (it runs itself in a lab sandbox)',
    );
  }
  const lab = await Lab.create({
    nodes: {
      server: { linkLocal: 'fe80::/64', routes: ['10.77.1.0/24', 'fd77:0:0:1::/64'] },
      client: {},
    },
    links: [['server', 'client']],
    peers: [
      { node: 'server', peer: 'client' },
      { node: 'client', peer: 'server', allowedIps: ['0.0.0.0/0', '::/0'] },
    ],
  });
  const stateRoot = `${lab.stateDirectory}/bench-client`;
  try {
    const serverNode = lab.node('server');
    const node = lab.node('client');
    const server = await serverNode.spawn(process.execPath, [
      SERVER_BIN,
      '--leasetime',
      '3600',
      '--route',
      '10.77.0.0/16',
      '--state-dir',
      `${lab.stateDirectory}/bench-server`,
      'wg0',
    ]);
    await server.waitForLine(/"msg":"listening"/, 30_000);
    // The tunnel is up: a handshake is done before the first measured run.
    await node.exec('ping', ['-c', '1', '-W', '5', 'fe80::%wg0'], { check: true });

    const fromSpawn: number[] = [];
    const ownClock: number[] = [];
    const ownCpu: number[] = [];
    const mainRss: number[] = [];
    const readerRss: number[] = [];
    const bare: number[] = [];
    const bareCpu: number[] = [];
    // Run 0 warms the page cache and is not counted.
    for (let run = 0; run <= RUNS; run++) {
      const state = `${stateRoot}/${run}`;
      const start = performance.now();
      const child = await node.spawn(process.execPath, [CLIENT_BIN, '--state-dir', state, 'wg0']);
      const line = await child.waitForLine(/"msg":"lease applied"/, 30_000);
      const elapsed = performance.now() - start;
      const applied = JSON.parse(line) as { startupMs?: number; startupCpuMs?: number };
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      const pid = child.pid ?? 0;
      const main = await residentMiB(pid);
      const readers = await childrenOf(pid);
      const reader = (await Promise.all(readers.map(residentMiB))).reduce((a, b) => a + b, 0);
      child.kill('SIGTERM');
      const exit = await child.exited;
      if (exit.code !== 0)
        throw new Error(`the client exited with ${exit.code}:\n${child.outputTail()}`);
      await rm(state, { recursive: true, force: true });
      if (run === 0) continue;
      fromSpawn.push(elapsed);
      ownClock.push(applied.startupMs ?? Number.NaN);
      ownCpu.push(applied.startupCpuMs ?? Number.NaN);
      mainRss.push(main);
      readerRss.push(reader);
      const floor = await bareNodeStart(node);
      bare.push(floor.wall);
      bareCpu.push(floor.cpu);
    }
    // Memory once idle: V8 shrinks its heap some seconds after the last burst of work.
    const idle = await node.spawn(process.execPath, [
      CLIENT_BIN,
      '--state-dir',
      `${stateRoot}/idle`,
      'wg0',
    ]);
    await idle.waitForLine(/"msg":"lease applied"/, 30_000);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleRss = await residentMiB(idle.pid ?? 0);
    idle.kill('SIGTERM');
    await idle.exited;

    const p50 = (values: number[]) => percentile(values, 50);
    const note = `${RUNS} runs, p90 in parentheses`;
    return [
      {
        suite,
        name: 'start to applied, from process start (client clock)',
        value: p50(ownClock),
        unit: 'ms',
        target: '< 100',
        note: `${note}: p90 ${percentile(ownClock, 90).toFixed(0)} ms`,
      },
      {
        suite,
        name: 'processor time from process start to applied',
        value: p50(ownCpu),
        unit: 'ms',
        note: `user + system, main process; a bare \`node -e\` takes ${p50(bareCpu).toFixed(0)} ms`,
      },
      {
        suite,
        name: 'start to applied, from spawn (ip netns exec + sh + node)',
        value: p50(fromSpawn),
        unit: 'ms',
        note: `p90 ${percentile(fromSpawn, 90).toFixed(0)} ms; bare \`node -e 0\` spawned the same way: p50 ${p50(bare).toFixed(0)} ms`,
      },
      {
        suite,
        name: 'resident memory, client process, just after applying',
        value: p50(mainRss),
        unit: 'MiB',
        note: `${SETTLE_MS / 1000} s after applying; max ${Math.max(...mainRss).toFixed(1)} MiB`,
      },
      {
        suite,
        name: 'resident memory, client process, idle',
        value: idleRss,
        unit: 'MiB',
        target: '< 60',
        note: `one run, ${IDLE_MS / 1000} s after applying (what a running client holds)`,
      },
      {
        suite,
        name: 'resident memory, its rtnetlink notification reader',
        value: p50(readerRss),
        unit: 'MiB',
        note: 'a separate small Node process (see @wg-dynamic/rtnetlink openRtnetlinkEvents)',
      },
    ];
  } finally {
    await lab.destroy();
  }
}
