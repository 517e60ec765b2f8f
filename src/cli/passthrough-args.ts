/**
 * The words after `--` exactly as typed. yargs coerces them (`5` becomes a number, `1e3` 1000), which is
 * wrong for a command line passed to a remote program, so the raw process arguments win when present.
 */
export function argsAfterDashDash(parsed: { '--'?: unknown[] } & Record<string, unknown>, positional: unknown[] = []): string[] {
  const i = process.argv.indexOf('--');
  const after = i >= 0 ? process.argv.slice(i + 1) : (parsed['--'] ?? []).map(String);
  return [...positional.map(String), ...after];
}
