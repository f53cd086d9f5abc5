const plain = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One argument as a POSIX shell would need it quoted (for messages and logs only). */
export function quoteArgument(argument: string): string {
  if (plain.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/** A command line as text, quoted so that it can be pasted into a shell. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map(quoteArgument).join(' ');
}
