import { defineConfig } from 'vitest/config';

// Workspace packages resolve to their TypeScript sources in tests (the
// "@wg-dynamic/source" export condition), so unit tests never run stale builds.
// The programs the lab starts as real processes run from dist/: `npm test`
// builds first.
const sourceConditions = ['@wg-dynamic/source'];

const unit = (name: string) => ({
  extends: true as const,
  test: {
    name,
    root: `packages/${name}`,
    include: ['test/**/*.test.ts'],
  },
});

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    projects: [
      unit('ip'),
      unit('protocol'),
      unit('wireguard'),
      unit('rtnetlink'),
      unit('lab'),
      unit('server'),
      unit('client'),
    ],
  },
});
