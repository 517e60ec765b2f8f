import { basename, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { quoteArgv } from '../../remote/quote.js';
import { completeNames, readFleetNames } from '../../ops/completion.js';
import type { GlobalOptions } from '../global.js';

type Shell = 'bash' | 'zsh';

interface CompletionArgs extends GlobalOptions {
  shell?: Shell;
}

/**
 * The name yargs's own completion machinery is registered under (hidden): man8s prints its scripts
 * itself, with the shell as an argument, so this only carries the fleet-aware completion function.
 */
export const YARGS_COMPLETION_COMMAND = '__yargs-completion-script';

/** The words a script runs to ask man8s for completions: `man8s` when installed as such, else this node and this script. */
function program(): string {
  const script = process.argv[1] ?? 'man8s';
  return basename(script) === 'man8s' ? 'man8s' : quoteArgv([process.execPath, resolve(script)]);
}

/**
 * bash: asks man8s for the words (commands, options, host and container names) with the words typed up
 * to the cursor; SHELL is pinned so the answer is in bash's plain form whatever the login shell is.
 */
function bashScript(prog: string): string {
  return `###-begin-man8s-completions-###
# man8s completion for bash: commands, options, and the fleet's host and container names.
# Install: man8s completion bash >> ~/.bashrc   (or for this shell only: source <(man8s completion bash))
_man8s_completions()
{
    local cur_word type_list
    cur_word="\${COMP_WORDS[COMP_CWORD]}"
    mapfile -t type_list < <(SHELL=/bin/bash ${prog} --get-yargs-completions "\${COMP_WORDS[@]:0:COMP_CWORD+1}" 2>/dev/null)
    mapfile -t COMPREPLY < <(compgen -W "$( printf '%q ' "\${type_list[@]}" )" -- "\${cur_word}" |
        awk '/ / { print "\\""$0"\\"" } /^[^ ]+$/ { print $0 }')
    return 0
}
complete -o bashdefault -o default -F _man8s_completions man8s
###-end-man8s-completions-###
`;
}

/** zsh: the same question, answered in zsh's `word:description` form for _describe. Needs compinit. */
function zshScript(prog: string): string {
  return `#compdef man8s
###-begin-man8s-completions-###
# man8s completion for zsh: commands, options, and the fleet's host and container names.
# Install: man8s completion zsh >> ~/.zshrc   (after autoload -U compinit && compinit)
_man8s_completions()
{
  local reply
  local si=$IFS
  IFS=$'\\n' reply=($(SHELL=zsh COMP_CWORD="$((CURRENT-1))" COMP_LINE="$BUFFER" COMP_POINT="$CURSOR" ${prog} --get-yargs-completions "\${(@)words[1,CURRENT]}" 2>/dev/null))
  IFS=$si
  if [[ \${#reply} -gt 0 ]]; then
    _describe 'values' reply
  else
    _default
  fi
}
if [[ "\${zsh_eval_context[-1]}" == "loadautofunc" ]]; then
  _man8s_completions "$@"
else
  compdef _man8s_completions man8s
fi
###-end-man8s-completions-###
`;
}

function isZsh(env: NodeJS.ProcessEnv): boolean {
  return (env.SHELL ?? '').includes('zsh') || (env.ZSH_NAME ?? '').includes('zsh');
}

/**
 * yargs's fallback completion function: host and container names from the fleet's folders where a
 * command takes them, else yargs's own answer (commands, subcommands, options).
 */
export function fleetCompletion(current: string, argv: { _?: unknown[]; fleet?: unknown }, defaults: () => unknown, done: (words: string[]) => unknown): void {
  const fleet = typeof argv.fleet === 'string' ? argv.fleet : undefined;
  const names = completeNames((argv._ ?? []).map(String), current, readFleetNames(process.cwd(), fleet), isZsh(process.env));
  if (names) done(names);
  else defaults();
}

export const completionCommand: CommandModule<GlobalOptions, CompletionArgs> = {
  command: 'completion [shell]',
  describe: 'Print a completion script for bash or zsh: commands, options, and the fleet\'s host and container names',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('shell', { choices: ['bash', 'zsh'] as const, describe: 'The shell (default: from $SHELL)' })
      .example('$0 completion bash >> ~/.bashrc', 'Install for bash (then open a new shell)')
      .example('$0 completion zsh >> ~/.zshrc', 'Install for zsh (needs compinit)')
      .example('source <($0 completion)', 'Just this shell, for the shell $SHELL names') as Argv<CompletionArgs>,
  handler: (args) => {
    const shell: Shell = args.shell ?? (isZsh(process.env) ? 'zsh' : 'bash');
    process.stdout.write(shell === 'zsh' ? zshScript(program()) : bashScript(program()));
  },
};
