// Lab tests create WireGuard devices, namespaces and processes. They run only
// inside a lab sandbox, which guarantees that everything they make disappears
// with it. Outside one they fail loudly rather than skip.
if (process.env.WG_DYNAMIC_LAB_SANDBOX !== '1') {
  throw new Error(
    'lab tests must run inside a lab sandbox: run `npm test` as root (it starts the userspace ' +
      'sandbox and the kernel lab), or `packages/lab/bin/lab-sandbox node_modules/.bin/vitest run --project lab`',
  );
}
