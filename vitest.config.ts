import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (the
// "@wg-dynamic/source" export condition), so unit tests never run stale builds.
// Programs the labs start as real processes run from dist/: `npm test` builds first.
const sourceConditions = ['@wg-dynamic/source'];

const packages = ['ip', 'cli', 'protocol', 'wireguard', 'rtnetlink', 'lab', 'server', 'client'];

// Two kinds of tests (test/README.md):
// - unit: `packages/<name>/test/**/*.test.ts`, pure or with fakes, on the host, no privileges;
// - lab: `**/*.lab.test.ts`, real WireGuard and real netlink, only inside a lab sandbox
//   (a disposable network namespace on the host, or the kernel lab's virtual machine).
const unit = (name: string) => ({
  extends: true as const,
  test: {
    // "lab" names the project of all lab tests; the lab package's own unit tests are "lab-unit".
    name: name === 'lab' ? 'lab-unit' : name,
    root: `packages/${name}`,
    include: ['test/**/*.test.ts'],
    exclude: ['test/**/*.lab.test.ts'],
  },
});

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    // A timeout only catches a hang. Tests never measure time, and this machine is
    // small and shared: property tests can take seconds when it is busy.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      ...packages.map(unit),
      {
        extends: true,
        test: {
          // Whole-project checks on the host: the install command, the unit files.
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.lab.test.ts'],
          testTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          // The lab tests whose outcome can depend on the WireGuard backend (the
          // device layer, rtnetlink against a real kernel, the daemons writing
          // allowed-ips and addresses), run a second time in the kernel lab. The
          // others test what sits above the device layer (the lab itself, the
          // journal, hostile input and connections): one run with
          // userspace WireGuard proves them, and under software emulation they would
          // double the time CI takes.
          name: 'lab-kernel',
          include: [
            'packages/wireguard/test/backends.lab.test.ts',
            'packages/rtnetlink/test/*.lab.test.ts',
            'packages/lab/test/wireguard-interface.lab.test.ts',
            'test/server.lab.test.ts',
            'test/client.lab.test.ts',
            'test/client-hostile.lab.test.ts',
            'test/relay.lab.test.ts',
            'test/pool.lab.test.ts',
            'test/prefix.lab.test.ts',
            'test/wg-quick.lab.test.ts',
            'test/faults-crash.lab.test.ts',
            'test/faults-device.lab.test.ts',
          ],
          setupFiles: ['packages/lab/test-support/require-sandbox.ts'],
          fileParallelism: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'lab',
          include: ['packages/*/test/**/*.lab.test.ts', 'test/**/*.lab.test.ts'],
          setupFiles: ['packages/lab/test-support/require-sandbox.ts'],
          // Lab files share one sandbox and the machine has two cores: one file at a time.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
