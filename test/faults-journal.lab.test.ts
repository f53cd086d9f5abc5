import { execFile } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm, statfs, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { IpPrefix } from '@wg-dynamic/ip';
import { backendFromEnvironment, classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { FILE_HEADER_SIZE, FRAME_HEADER_SIZE } from '@wg-dynamic/server/journal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  eventually,
  exchange,
  fields,
  SERVER_BIN,
  startServer,
  stateDirectory,
} from './support/daemons.js';
import { logLine } from './support/server-log.js';

const run = promisify(execFile);
const V4_POOL = IpPrefix.from('192.168.78.0/28');
const V6_POOL = IpPrefix.from('2001:db8:78::/64');
const FIRST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
const renewal = (ips: readonly string[]) =>
  `request_ip=1\n${ips.map((ip) => `ip=${ip}\n`).join('')}leasestart=0\nleasetime=0\n\n`;
/** The kernel lab runs under emulation: what takes a second here takes ten there. */
const SLOW = backendFromEnvironment() === 'kernel' ? 10 : 1;

/** The leases `show --json` lists, as "peer address" lines. */
async function shownLeases(lab: Lab): Promise<string[]> {
  const shown = await lab.node('server').exec('node', [SERVER_BIN, 'show', 'wg0', '--json'], {
    check: true,
  });
  const status = JSON.parse(shown.stdout) as { leases: { peer: string; address: string }[] };
  return status.leases.map((lease) => `${lease.peer} ${lease.address}`).sort();
}

/** Where each frame of a journal file starts (after its header), up to the zero-filled tail. */
function frameOffsets(bytes: Buffer): number[] {
  const offsets: number[] = [];
  for (let at = FILE_HEADER_SIZE; at + FRAME_HEADER_SIZE <= bytes.length; ) {
    const length = bytes.readUInt32LE(at);
    if (length === 0) break;
    offsets.push(at);
    at += FRAME_HEADER_SIZE + length;
  }
  return offsets;
}

/** Each client peer back to its link-local /128 alone: no lease left by an earlier test. */
async function resetPeers(lab: Lab): Promise<void> {
  for (const name of ['a', 'b']) {
    const node = lab.node(name);
    await lab
      .node('server')
      .wg('set', 'wg0', 'peer', node.publicKey, 'allowed-ips', `${node.linkLocal}/128`);
  }
}

describe('the lease journal under faults, with the real server', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.create(
      classicTopology({
        clients: ['a', 'b'],
        serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      }),
    );
  });

  afterAll(async () => {
    await lab?.destroy();
  });

  it('starts on a journal torn in the middle of a record, keeps every complete one, and says what it dropped', async () => {
    const state = await stateDirectory();
    let server: LabProcess | undefined;
    await resetPeers(lab);
    try {
      server = await startServer(lab.node('server'), ['--state-dir', state.path]);
      const a = fields((await exchange(lab.node('a'), FIRST)).answer).get('ip') ?? [];
      const b = fields((await exchange(lab.node('b'), FIRST)).answer).get('ip') ?? [];
      expect([a.length, b.length]).toEqual([2, 2]);
      await server.stop();
      const before = [
        ...a.map((ip) => `${lab.node('a').publicKey} ${ip}`),
        ...b.map((ip) => `${lab.node('b').publicKey} ${ip}`),
      ].sort();

      // Cut the last record (b's IPv6 grant) in half: what a crash during its write leaves.
      const directory = join(state.path, 'wg0');
      const segment = (await readdir(directory))
        .filter((f) => f.startsWith('journal-'))
        .sort()
        .at(-1);
      if (!segment) throw new Error(`no journal segment in ${directory}`);
      const path = join(directory, segment);
      const bytes = await readFile(path);
      const offsets = frameOffsets(bytes);
      expect(offsets).toHaveLength(4);
      const last = offsets.at(-1) as number;
      const length = bytes.readUInt32LE(last);
      await truncate(path, last + FRAME_HEADER_SIZE + Math.floor(length / 2));
      // The server syncs a grant's record before it writes allowed-ips: a
      // crash that tears the record leaves the grant out of the device too.
      const [bV4, bV6] = b as [string, string];
      const nodeB = lab.node('b');
      await lab
        .node('server')
        .wg('set', 'wg0', 'peer', nodeB.publicKey, 'allowed-ips', `${nodeB.linkLocal}/128,${bV4}`);

      server = await startServer(lab.node('server'), ['--state-dir', state.path]);
      const dropped = logLine(server, /torn record/);
      expect(dropped?.msg).toMatch(
        new RegExp(`^dropped \\d+ bytes of a torn record at offset ${last} of .*${segment}$`),
      );
      expect(logLine(server, /^lease journal read$/)).toMatchObject({ records: 3 });
      // The three complete grants come back from the journal; the torn one is gone.
      expect(logLine(server, /^leases restored/)).toMatchObject({ restored: 3, adopted: 0 });
      expect(await shownLeases(lab)).toEqual(
        before.filter((line) => line !== `${nodeB.publicKey} ${bV6}`),
      );
      const again = await exchange(lab.node('a'), renewal(a));
      expect(fields(again.answer).get('ip')).toEqual(a);
      // The address whose grant was torn is free again: b asking for it gets it.
      const retried = await exchange(nodeB, renewal(b));
      expect(fields(retried.answer).get('ip')).toEqual(b);
      expect(await shownLeases(lab)).toEqual(before);
    } finally {
      await server?.stop();
      await state.remove();
    }
  });

  it('on a full disk refuses new grants with errno 3 and a log line, renews, loses nothing, and resumes', async () => {
    const state = await stateDirectory();
    const disk = join(state.path, 'disk');
    await mkdir(disk);
    await run('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'wgd-full-disk', disk]);
    let server: LabProcess | undefined;
    await resetPeers(lab);
    try {
      // Leave 96 KiB: the journal claims that much, keeps 64 KiB of it for renewals.
      const filler = join(disk, 'filler');
      const { bavail, bsize } = await statfs(disk);
      const file = await open(filler, 'w');
      const zeros = Buffer.alloc(64 * 1024);
      for (let left = bavail * bsize - 96 * 1024; left > 0; left -= zeros.length) {
        await file.write(zeros, 0, Math.min(zeros.length, left));
      }
      await file.close();

      server = await startServer(lab.node('server'), ['--state-dir', disk]);
      const a = fields((await exchange(lab.node('a'), FIRST)).answer).get('ip') ?? [];
      expect(a).toHaveLength(2);
      await eventually(
        'the server says the disk is full',
        async () => logLine(server as LabProcess, /out of disk space/) !== undefined,
        10_000 * SLOW,
      );

      const refused = await exchange(lab.node('b'), FIRST);
      expect(refused.answer).toBe('errno=3\nerrmsg=Chosen IP(s) unavailable\n\n');
      expect(logLine(server, /errno 3/)).toMatchObject({ lowSpace: true });

      const renewed = await exchange(lab.node('a'), renewal(a));
      expect(fields(renewed.answer).get('errno')).toEqual(['0']);
      expect(fields(renewed.answer).get('ip')).toEqual(a);

      await rm(filler);
      await eventually(
        'the server says the space is back',
        async () => logLine(server as LabProcess, /space is back/) !== undefined,
        10_000 * SLOW,
      );
      const b = await exchange(lab.node('b'), FIRST);
      expect(fields(b.answer).get('errno')).toEqual(['0']);
      expect(fields(b.answer).get('ip')).toHaveLength(2);

      // Nothing granted was lost: a restart brings back both clients' leases.
      await server.stop();
      server = await startServer(lab.node('server'), ['--state-dir', disk]);
      const leases = await shownLeases(lab);
      for (const [name, ips] of [
        ['a', a],
        ['b', fields(b.answer).get('ip') ?? []],
      ] as const) {
        for (const ip of ips) expect(leases).toContain(`${lab.node(name).publicKey} ${ip}`);
      }
    } finally {
      await server?.stop();
      await run('umount', ['-l', disk]).catch(() => {});
      await state.remove();
    }
  });
});
