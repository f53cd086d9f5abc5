/**
 * Calls `stop` on the first SIGTERM or SIGINT (systemd stops with SIGTERM, a
 * terminal with ctrl-C); a second signal while stopping exits at once with
 * status 130. Returns a function that removes the handlers.
 */
export function onTermination(stop: (signal: NodeJS.Signals) => void): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    stop(signal);
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return () => {
    process.off('SIGTERM', handler);
    process.off('SIGINT', handler);
  };
}
