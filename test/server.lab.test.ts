import { IpPrefix } from '@wg-dynamic/ip';
import { classicTopology, Lab, type LabProcess } from '@wg-dynamic/lab';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  allowedIps,
  eventually,
  exchange,
  fields,
  patient,
  SERVER_BIN,
  startServer,
  stateDirectory,
} from './support/daemons.js';

const V4_POOL = IpPrefix.from('192.168.4.0/28');
const V6_POOL = IpPrefix.from('2001:db8:1234::/64');
/**
 * Short enough that a test watches a lease run out; in the kernel lab, long
 * enough to outlive a restart of the server under emulation (seconds).
 */
const LEASE_TIME = patient(6_000) / 1000;
const FIRST = 'request_ip=1\nip=0.0.0.0/32\nip=::/128\nleasestart=0\nleasetime=0\n\n';
const renew = (v4: string, v6: string) =>
  `request_ip=1\nip=${v4}\nip=${v6}\nleasestart=0\nleasetime=0\n\n`;
/** An operator's entry on the server's peer for client a: must survive every lease operation. */
const STATIC = '10.99.0.0/24';
/** Covers sources that pass WireGuard but that no peer holds as a /128. */
const STRAY_RANGE = 'fe80::ffff:0:0:0/80';
const STRAY_SOURCE = 'fe80::ffff:0:0:1';

describe('wg-dynamic-server with real WireGuard', () => {
  let lab: Lab;
  let server: LabProcess;
  let state: Awaited<ReturnType<typeof stateDirectory>>;
  const args = () => [
    '--leasetime',
    String(LEASE_TIME),
    '--state-dir',
    state.path,
    '--metrics',
    '127.0.0.1:9586',
  ];

  beforeAll(async () => {
    state = await stateDirectory();
    lab = await Lab.create(
      classicTopology({
        clients: ['a', 'b'],
        serverRoutes: [V4_POOL.toString(), V6_POOL.toString()],
      }),
    );
    const a = lab.node('a');
    await lab
      .node('server')
      .wg(
        'set',
        'wg0',
        'peer',
        a.publicKey,
        'allowed-ips',
        `${a.linkLocal}/128,${STATIC},${STRAY_RANGE}`,
      );
    await a.ip('address', 'add', `${STRAY_SOURCE}/128`, 'dev', 'wg0', 'nodad');
    server = await startServer(lab.node('server'), args());
  });

  afterAll(async () => {
    await lab?.destroy();
    await state?.remove();
  });

  it('refuses to start on an interface without fe80::/64, and says how to fix it', async () => {
    const result = await lab.node('a').exec('node', [SERVER_BIN, '--state-dir', state.path, 'wg0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('has no address fe80::/64');
    expect(result.stderr).toContain('ip address add fe80::/64 dev wg0');
  });

  it('gives two clients distinct addresses inside the pools and writes them into their peers', async () => {
    const [a, b] = await Promise.all([
      exchange(lab.node('a'), FIRST),
      exchange(lab.node('b'), FIRST),
    ]);
    for (const answer of [a, b]) {
      expect(answer.code).toBe(0);
      const got = fields(answer.answer);
      expect(got.get('errno')).toEqual(['0']);
      expect(got.get('leasetime')).toEqual([String(LEASE_TIME)]);
      const [v4, v6] = got.get('ip') ?? [];
      expect(V4_POOL.contains(IpPrefix.from(v4 ?? '').address)).toBe(true);
      expect(V6_POOL.contains(IpPrefix.from(v6 ?? '').address)).toBe(true);
      // The reference bytes: no extension keys for a client that asked for none.
      expect(answer.answer).toMatch(
        /^ip=[0-9.]+\/32\nip=[0-9a-f:]+\/128\nleasestart=\d+\nleasetime=\d+\nerrno=0\n\n$/,
      );
    }
    expect(fields(a.answer).get('ip')).not.toEqual(fields(b.answer).get('ip'));

    const allowed = await allowedIps(lab.node('server'));
    for (const [name, answer] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const node = lab.node(name);
      expect(allowed.get(node.publicKey)).toEqual(
        expect.arrayContaining([
          `${node.linkLocal}/128`,
          ...(fields(answer.answer).get('ip') ?? []),
        ]),
      );
    }
    expect(allowed.get(lab.node('a').publicKey)).toEqual(
      expect.arrayContaining([STATIC, STRAY_RANGE]),
    );
  });

  it('keeps the address on renewal, and shows the leases', async () => {
    const first = fields((await exchange(lab.node('a'), FIRST)).answer).get('ip') ?? [];
    const [v4 = '', v6 = ''] = first;
    const renewed = await exchange(lab.node('a'), renew(v4, v6));
    expect(fields(renewed.answer).get('ip')).toEqual([v4, v6]);

    const show = await lab
      .node('server')
      .exec('node', [SERVER_BIN, 'show', 'wg0'], { check: true });
    expect(show.stdout).toContain(`peer: ${lab.node('a').publicKey}`);
    expect(show.stdout).toContain(`${v4}: leased since`);
    const json = await lab
      .node('server')
      .exec('node', [SERVER_BIN, 'show', 'wg0', '--json'], { check: true });
    const status = JSON.parse(json.stdout) as { leases: { peer: string; address: string }[] };
    expect(status.leases).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ peer: lab.node('a').publicKey, address: v4 }),
      ]),
    );
  });

  it('takes a lease left to run out out of allowed-ips, keeping the operator entries', async () => {
    const a = lab.node('a');
    const got = fields((await exchange(a, FIRST)).answer).get('ip') ?? [];
    expect(got).toHaveLength(2);
    await eventually('the expired lease leaves allowed-ips', async () => {
      const mine = (await allowedIps(lab.node('server'))).get(a.publicKey) ?? [];
      return got.every((ip) => !mine.includes(ip));
    });
    expect((await allowedIps(lab.node('server'))).get(a.publicKey)).toEqual(
      expect.arrayContaining([`${a.linkLocal}/128`, STATIC, STRAY_RANGE]),
    );
  });

  it("changes nobody's address across a restart", async () => {
    const before = await exchange(lab.node('b'), FIRST);
    const held = fields(before.answer).get('ip') ?? [];
    await server.stop();
    expect(server.exitStatus?.code).toBe(0);
    server = await startServer(lab.node('server'), args());
    expect((await allowedIps(lab.node('server'))).get(lab.node('b').publicKey)).toEqual(
      expect.arrayContaining(held),
    );
    // Even a client that lost its state and asks for new addresses gets its own back.
    const after = await exchange(lab.node('b'), FIRST);
    expect(fields(after.answer).get('ip')).toEqual(held);
  });

  it('releases what the client no longer asks for', async () => {
    const b = lab.node('b');
    const held = fields((await exchange(b, FIRST)).answer).get('ip') ?? [];
    const released = await exchange(b, 'request_ip=1\n\n');
    expect(released.answer).toBe('errno=0\n\n');
    const mine = (await allowedIps(lab.node('server'))).get(b.publicKey) ?? [];
    expect(mine.filter((ip) => held.includes(ip))).toEqual([]);
  });

  it('answers an address outside every pool with errno 3', async () => {
    const answer = await exchange(lab.node('b'), renew('10.1.1.1/32', '2001:db8:ffff::1/128'));
    expect(answer.answer).toBe('errno=3\nerrmsg=Chosen IP(s) unavailable\n\n');
  });

  it('refuses a source no peer owns, and a wrong source port, leasing nothing', async () => {
    const a = lab.node('a');
    const before = (await allowedIps(lab.node('server'))).get(a.publicKey);
    const stray = await exchange(a, FIRST, { from: STRAY_SOURCE });
    expect(stray).toMatchObject({ code: 3, answer: '' });
    const wrongPort = await exchange(a, FIRST, { sourcePort: 971 });
    expect(wrongPort).toMatchObject({ code: 3, answer: '' });
    expect((await allowedIps(lab.node('server'))).get(a.publicKey)).toEqual(before);
    await eventually(
      'the refusals are logged',
      async () =>
        server.stderrLines.some((line) => line.includes('no peer has')) &&
        server.stderrLines.some((line) => line.includes('source port 971')),
    );
  });

  it('serves Prometheus metrics of what it did', async () => {
    const scrape = await lab
      .node('server')
      .exec(
        'node',
        [
          '-e',
          "fetch('http://127.0.0.1:9586/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
        ],
        { check: true },
      );
    expect(scrape.stdout).toMatch(/wg_dynamic_requests_total\{outcome="success"\} [1-9]/);
    expect(scrape.stdout).toMatch(/wg_dynamic_refusals_total\{reason="wrong-source-port"\} [1-9]/);
    expect(scrape.stdout).toContain(
      `wg_dynamic_pool_addresses{pool="${V4_POOL}",family="ipv4",state="free"}`,
    );
    expect(scrape.stdout).toMatch(/wg_dynamic_journal_sync_seconds_count [1-9]/);
  });

  it('answers an invalid request with the reference error and closes', async () => {
    const answer = await exchange(lab.node('a'), 'request_ip=1\nip=300.1.1.1/32\n\n', {
      all: true,
    });
    expect(answer.answer).toBe('errno=1\nerrmsg=Invalid request\n\n');
  });
});
