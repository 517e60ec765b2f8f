/**
 * The one function that turns argv into text for a remote shell. Every remote command man8s runs is an
 * argv array passed through here: names, paths and values never reach a shell unquoted.
 *
 * POSIX single quoting: everything between single quotes is literal; a single quote is written as '\''.
 * Words made only of safe characters are left bare so --verbose output stays readable.
 */
// '=' is left out: a bare first word containing it would be a shell assignment.
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

export function quoteArg(arg: string): string {
  if (arg !== '' && SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function quoteArgv(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('quoteArgv: empty command');
  return argv.map(quoteArg).join(' ');
}
