import { IpPrefix } from '@wg-dynamic/ip';
import { describe, expect, it } from 'vitest';
import { ServerMetrics, serveMetrics } from '../src/metrics/metrics.js';

describe('ServerMetrics', () => {
  it('counts what the server tells it and reads the gauges at scrape time', async () => {
    const metrics = new ServerMetrics({
      leaseCounts: () => ({ 4: 3, 6: 2 }),
      usage: () => [{ family: 4, pool: IpPrefix.from('10.0.0.0/28'), capacity: 14n, allocated: 3 }],
      connections: () => 7,
      delegationUsage: () => [
        {
          family: 6,
          pool: IpPrefix.from('2001:db8:100::/48'),
          length: 64,
          capacity: 65_536n,
          allocated: 2,
        },
      ],
    });
    metrics.observer.request?.('success');
    metrics.observer.request?.('unavailable');
    metrics.observer.lease?.('granted', IpPrefix.from('10.0.0.2/32'), false);
    metrics.observer.lease?.('expired', IpPrefix.from('2001:db8::2/128'), false);
    metrics.observer.lease?.('granted', IpPrefix.from('2001:db8:100:7::/64'), true);
    metrics.observer.lease?.('expired', IpPrefix.from('10.200.0.16/28'), true);
    metrics.observer.refusal?.('wrong-source-port');
    metrics.journalSync.observe(0.002);
    const text = await metrics.registry.metrics();
    for (const line of [
      'wg_dynamic_requests_total{outcome="success"} 1',
      'wg_dynamic_requests_total{outcome="unavailable"} 1',
      'wg_dynamic_lease_events_total{event="granted",family="ipv4"} 1',
      'wg_dynamic_expiries_total{family="ipv6"} 1',
      'wg_dynamic_refusals_total{reason="wrong-source-port"} 1',
      'wg_dynamic_leases{family="ipv4"} 3',
      'wg_dynamic_pool_addresses{pool="10.0.0.0/28",family="ipv4",state="free"} 11',
      'wg_dynamic_pool_addresses{pool="10.0.0.0/28",family="ipv4",state="leased"} 3',
      'wg_dynamic_connections 7',
      'wg_dynamic_prefix_events_total{event="granted",family="ipv6"} 1',
      'wg_dynamic_prefix_events_total{event="expired",family="ipv4"} 1',
      'wg_dynamic_delegated_prefixes{pool="2001:db8:100::/48",family="ipv6",length="64",state="delegated"} 2',
      'wg_dynamic_delegated_prefixes{pool="2001:db8:100::/48",family="ipv6",length="64",state="free"} 65534',
      'wg_dynamic_journal_sync_seconds_count 1',
    ]) {
      expect(text).toContain(line);
    }
    // A delegated prefix is not an address lease: neither counted nor expired as one.
    expect(text).not.toContain('wg_dynamic_lease_events_total{event="granted",family="ipv6"}');
    expect(text).not.toContain('wg_dynamic_expiries_total{family="ipv4"}');
  });

  it('serves /metrics over HTTP and nothing else', async () => {
    const metrics = new ServerMetrics({
      leaseCounts: () => ({ 4: 0, 6: 0 }),
      usage: () => [],
      connections: () => 0,
    });
    const server = await serveMetrics(metrics.registry, '127.0.0.1', 0);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    try {
      const ok = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('wg_dynamic_leases');
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(404);
    } finally {
      server.close();
    }
  });
});
