/**
 * `man8s ssh <host>`: the user's own OpenSSH client, so known_hosts, agent, identities and ProxyJump
 * behave exactly as in their terminal; with the fleet's ssh config (`ssh -F`) when host.yaml or
 * man8s.yaml `defaults` name one.
 */
import type { HostSettings } from '../fleet/model.js';
import { quoteArgv } from '../remote/quote.js';
import { parseDestination } from '../remote/ssh-config.js';

/**
 * ssh argv (program first). `user@host:port` is not something the ssh command line accepts, so it is
 * split into -l/-p. A remote command is sent as ONE quoted word: ssh joins its arguments with spaces for
 * the remote shell, which would re-split arguments containing spaces.
 */
export function sshCommandArgv(settings: Pick<HostSettings, 'ssh' | 'ssh_config'>, command: readonly string[] = []): string[] {
  const d = parseDestination(settings.ssh);
  return [
    'ssh',
    ...(settings.ssh_config ? ['-F', settings.ssh_config] : []),
    ...(d.user !== undefined ? ['-l', d.user] : []),
    ...(d.port !== undefined ? ['-p', String(d.port)] : []),
    d.host,
    ...(command.length ? ['--', quoteArgv(command)] : []),
  ];
}
