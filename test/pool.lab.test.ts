// Leases that end, with a pool of one address per family so that who holds
// them is never in doubt: a pool that runs out refuses the next client with
// errno 3 until the holder is gone and its lease has ended (SIGTERM does not
// release a lease: a restarted client asks for its addresses back); and a
// client killed with SIGKILL renews nothing, so once its short lease runs out
// the server takes its addresses out of the peer's allowed-ips (keeping the
// link-local /128) and another client can take exactly those. Every step
// waits for an event, never for a time.
import { IpPrefix } from '@wg-dynamic/ip';
import { classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logs, startClient, waitForLogs } from './support/client.js';
import {
  allowedIps,
  eventually,
  exchange,
  fields,
  patient,
  startServer,
  stateDirectory,
} from './support/daemons.js';
import { addressesOn, leasedIn } from './support/witness.js';

const POOLS = [IpPrefix.from('10.44.0.7/32'), IpPrefix.from('fd44::7/128')];
const ONLY = POOLS.map(String);
const LEASE_TIME = 6;

describe('a pool of one address per family', () => {
  let lab: Lab;
  let state: Awaited<ReturnType<typeof stateDirectory>>;
  /** The client that holds the pool's addresses. */
  let holder: LabProcess | undefined;

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create(classicTopology({ clients: ['a', 'b'] }));
    await startServer(lab.node('server'), [
      '--leasetime',
      String(LEASE_TIME),
      ...POOLS.flatMap((pool) => ['--pool', pool.toString()]),
      '--state-dir',
      `${state.path}/server`,
    ]);
  }, patient(120_000));

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  const held = async (name: string) => leasedIn(await addressesOn(lab.node(name)), POOLS);
  const serverSide = async (name: string) =>
    (await allowedIps(lab.node('server'))).get(lab.node(name).publicKey)?.sort();
  const nothing = { v4: [], v6: [] };
  const everything = { v4: [ONLY[0]], v6: [ONLY[1]] };

  it(
    'refuses the next client with errno 3 until the holder stops and its lease ends',
    async () => {
      const first = await startClient(lab.node('a'), ['--state-dir', `${state.path}/a`]);
      await waitForLogs(first, 'lease applied', 1, patient(30_000));
      expect(await held('a')).toEqual(everything);

      // The pool is empty: the second client is refused and backs off, holding nothing.
      const second = await startClient(lab.node('b'), ['--state-dir', `${state.path}/b`]);
      holder = second;
      const [refused] = await waitForLogs(second, 'backing off', 1, patient(30_000));
      expect(String(refused?.reason)).toBe('no address was granted (Chosen IP(s) unavailable)');
      expect(logs(second, /^lease (granted|applied)$/)).toEqual([]);
      expect(await held('b')).toEqual(nothing);

      // The first client stops and takes its addresses off its interface; the
      // server keeps them for it until its lease ends.
      first.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });
      expect(await held('a')).toEqual(nothing);

      // The second client's back-off ends in the addresses the first one had.
      const [granted] = await waitForLogs(second, 'lease granted', 1, patient(120_000));
      expect(granted?.addresses).toEqual(POOLS.map((pool) => pool.address.toString()));
      await waitForLogs(second, 'lease applied', 1, patient(30_000));
      expect(await held('b')).toEqual(everything);
      expect(await serverSide('a')).toEqual([`${lab.node('a').linkLocal}/128`]);
      expect(await serverSide('b')).toEqual([`${lab.node('b').linkLocal}/128`, ...ONLY].sort());
    },
    patient(300_000),
  );

  it(
    'takes back the addresses of a client killed with SIGKILL once its lease runs out',
    async () => {
      const b = lab.node('b');
      // The client that holds the pool now: b's, from the test before, or a new one.
      if (holder === undefined || holder.exitStatus !== undefined) {
        holder = await startClient(b, ['--state-dir', `${state.path}/b`]);
        await waitForLogs(holder, /^lease (granted|renewed)$/, 1, patient(120_000));
      }
      expect(await held('b')).toEqual(everything);

      holder.kill('SIGKILL');
      expect(await holder.exited).toEqual({ code: null, signal: 'SIGKILL' });
      // Killed, it removed nothing: the addresses stay on its interface.
      expect(await held('b')).toEqual(everything);

      await eventually(
        "the expired lease leaves b's allowed-ips",
        async () => (await serverSide('b'))?.length === 1,
        patient(60_000),
      );
      // What is left is the link-local /128 the protocol runs on.
      expect(await serverSide('b')).toEqual([`${b.linkLocal}/128`]);

      // Back in the pool: another client asks for exactly those addresses and gets them.
      const taken = await exchange(
        lab.node('a'),
        `request_ip=1\nip=${ONLY[0]}\nip=${ONLY[1]}\nleasestart=0\nleasetime=0\n\n`,
      );
      expect(fields(taken.answer).get('errno')).toEqual(['0']);
      expect(fields(taken.answer).get('ip')).toEqual(ONLY);
      expect(await serverSide('a')).toEqual([`${lab.node('a').linkLocal}/128`, ...ONLY].sort());
    },
    patient(300_000),
  );
});
