import { IpAddress, IpPrefix } from '@wg-dynamic/ip';
import {
  Errno,
  RELEASE,
  RELEASE_PREFIX,
  type Request,
  specificAddress,
} from '@wg-dynamic/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { JournalHistory } from '../src/journal/replay.js';
import type { LeaseRecord, PeerId } from '../src/leases/lease.js';
import { seededRandom } from '../src/random.js';
import { WgDynamicServer } from '../src/server.js';
import type { NetworkPort } from '../src/service/ports.js';
import { FakeClock, FakeDevice, FakeJournal, FakeTimers, silent } from './support/fakes.js';

const p = (text: string) => IpPrefix.from(text);
const ip = (text: string) => IpAddress.parse(text) as IpAddress;
const A: PeerId = `${'A'.repeat(43)}=`;
const B: PeerId = `${'B'.repeat(43)}=`;
const noPrefix = { 4: RELEASE_PREFIX, 6: RELEASE_PREFIX };
const ask = (address: string): Request => ({
  ip: { 4: specificAddress(ip(address)), 6: RELEASE },
  prefix: noPrefix,
  extensions: [],
});
const releaseAll: Request = { ip: { 4: RELEASE, 6: RELEASE }, prefix: noPrefix, extensions: [] };

/** A device whose reads can be held: the read takes its picture at once and answers when let go. */
class SlowReadDevice extends FakeDevice {
  private held: (() => void)[] | undefined;

  holdReads(): void {
    this.held = [];
  }

  releaseReads(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const release of held) release();
  }

  override async peers() {
    const picture = await super.peers();
    const held = this.held;
    if (held) await new Promise<void>((resolve) => held.push(resolve));
    return picture;
  }
}

const network: NetworkPort = {
  ownAddresses: async () => [p('fe80::/64')],
  routes: async () => [],
  watch: () => () => {},
};

describe('WgDynamicServer reconciles with its interface', () => {
  let server: WgDynamicServer | undefined;

  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  async function start(
    device: FakeDevice,
    records: LeaseRecord[] & { history?: JournalHistory } = [],
  ) {
    const clock = new FakeClock();
    const timers = new FakeTimers(clock);
    server = WgDynamicServer.create(
      {
        interfaceName: 'wg0',
        leaseTime: 60,
        pools: [p('192.168.4.0/29')],
        routes: [],
        refreshIntervalMs: 3_600_000,
        listen: { host: '127.0.0.1', port: 0 },
      },
      {
        device,
        network,
        journal: new FakeJournal(),
        records,
        logger: silent,
        clock,
        random: seededRandom(3),
        timers,
      },
    );
    await server.run();
    return { server, timers };
  }

  const held = (s: WgDynamicServer) => s.leases().map((l) => `${l.peer[0]} ${l.prefix}`);

  it('a device read that began before an address changed hands leaves it with its new holder', async () => {
    const device = new SlowReadDevice({ [A]: [p('fe80::a/128')], [B]: [p('fe80::b/128')] });
    const { server } = await start(device);
    expect((await server.service.handle(A, ask('192.168.4.3'))).errno).toBe(Errno.Success);

    // The periodic read starts while A holds .3 ...
    device.holdReads();
    const reading = server.view.refresh();
    // ... A releases it and B is granted it, in allowed-ips too ...
    await server.service.handle(A, releaseAll);
    expect((await server.service.handle(B, ask('192.168.4.3'))).errno).toBe(Errno.Success);
    expect(device.of(B)).toEqual(['fe80::b/128', '192.168.4.3/32']);
    // ... and then the read completes, still showing .3 on A.
    device.releaseReads();
    await reading;
    await server.service.settled();

    expect(held(server)).toEqual(['B 192.168.4.3/32']);
    expect(device.of(A)).toEqual(['fe80::a/128']);
    expect(device.of(B)).toEqual(['fe80::b/128', '192.168.4.3/32']);
    // The next read sees the device as it is, and changes nothing.
    const writes = device.applies.length;
    await server.view.refresh();
    await server.service.settled();
    expect(device.applies).toHaveLength(writes);
    expect(held(server)).toEqual(['B 192.168.4.3/32']);
  });

  it("a restart keeps an operator's in-pool address that the journal never granted", async () => {
    const device = new FakeDevice({
      [A]: [p('fe80::a/128'), p('192.168.4.3/32')],
      [B]: [p('fe80::b/128'), p('192.168.4.5/32')],
    });
    const journal: LeaseRecord[] & { history?: JournalHistory } = [
      { type: 'grant', peer: A, prefix: p('192.168.4.3/32'), start: 1_700_000_000, duration: 60 },
    ];
    journal.history = 'whole';
    const { server, timers } = await start(device, journal);
    expect(held(server)).toEqual(['A 192.168.4.3/32']);

    timers.advance(61);
    await server.service.settled();
    expect(held(server)).toEqual([]);
    expect(device.of(A)).toEqual(['fe80::a/128']);
    expect(device.of(B)).toEqual(['fe80::b/128', '192.168.4.5/32']);
    // Nor is it handed out.
    expect((await server.service.handle(A, ask('192.168.4.5'))).errno).toBe(Errno.IpUnavailable);
  });

  it('adopts it when the journal cannot know: a new journal, or one with damage', async () => {
    const grantToA: LeaseRecord = {
      type: 'grant',
      peer: A,
      prefix: p('192.168.4.3/32'),
      start: 1_700_000_000,
      duration: 60,
    };
    for (const [history, records] of [
      ['none', []],
      ['damaged', [grantToA]],
    ] as const) {
      const device = new FakeDevice({
        [A]: [p('fe80::a/128'), p('192.168.4.3/32')],
        [B]: [p('fe80::b/128'), p('192.168.4.5/32')],
      });
      const { server } = await start(device, Object.assign([...records], { history }));
      expect(held(server)).toContain('B 192.168.4.5/32');
      await server.stop();
    }
  });
});
