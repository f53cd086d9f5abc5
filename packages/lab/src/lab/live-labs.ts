import { isInSandbox } from '../environment.js';

interface Destroyable {
  destroy(): Promise<void>;
}

const live = new Set<Destroyable>();
const signals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
let installed = false;

/**
 * Outside a sandbox (the demo on a real host), ctrl-C or SIGTERM must not
 * leave namespaces and wireguard-go processes behind: while a lab is alive,
 * the signal tears every live lab down, then kills the process with the
 * same signal. Inside a sandbox, the sandbox itself cleans up.
 */
export function registerLiveLab(lab: Destroyable): void {
  live.add(lab);
  if (!installed && !isInSandbox()) {
    for (const signal of signals) process.on(signal, onSignal);
    installed = true;
  }
}

export function unregisterLiveLab(lab: Destroyable): void {
  live.delete(lab);
  if (live.size === 0) uninstall();
}

function uninstall(): void {
  if (!installed) return;
  for (const signal of signals) process.off(signal, onSignal);
  installed = false;
}

function onSignal(signal: NodeJS.Signals): void {
  uninstall();
  const labs = [...live];
  void Promise.allSettled(labs.map((lab) => lab.destroy())).then(() => {
    process.kill(process.pid, signal);
  });
}
