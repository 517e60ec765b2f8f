/**
 * Resolves an ssh destination exactly as OpenSSH would, by asking OpenSSH: `ssh -G` prints the effective
 * configuration after every Host/Match block, Include and default has been applied. Re-implementing
 * ssh_config parsing would drift from the user's real ssh; asking ssh cannot.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { UserError } from '../errors.js';

export type StrictHostKeyChecking = 'yes' | 'no' | 'ask' | 'accept-new' | 'off';

/** What man8s needs to know to reach one host, as OpenSSH resolved it. */
export interface ResolvedHost {
  /** The destination as written in host.yaml / on the command line. */
  destination: string;
  /** The host argument given to ssh (an ~/.ssh/config alias or a name/address). Reused by rsync's ssh. */
  alias: string;
  hostname: string;
  user: string;
  port: number;
  /** Existing identity files, absolute (missing defaults such as ~/.ssh/id_dsa are dropped). */
  identityFiles: string[];
  identitiesOnly: boolean;
  /** ssh-agent socket to use, or undefined for none (IdentityAgent none, or no SSH_AUTH_SOCK). */
  agentSocket?: string;
  /** ProxyJump hops in order (each a destination to resolve again), empty when direct. */
  proxyJump: string[];
  /** Set when the config uses ProxyCommand, which man8s cannot honour in-process. */
  proxyCommand?: string;
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  hashKnownHosts: boolean;
  hostKeyAlias?: string;
  /** Seconds; 0 = off. */
  serverAliveInterval: number;
  serverAliveCountMax: number;
  /** Seconds; undefined = ssh's default (none). */
  connectTimeout?: number;
  /** The ssh config file passed with -F, if any (the sandbox generates one). */
  configFile?: string;
}

export interface ParsedDestination {
  host: string;
  user?: string;
  port?: number;
}

/**
 * `[user@]host[:port]`, `[user@][v6addr]:port`, or a bare IPv6 address (yggdrasil hosts are reached by
 * their 200::/7 address, whose colons must not be read as a port separator).
 */
export function parseDestination(dest: string): ParsedDestination {
  let rest = dest.trim();
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  let host = rest;
  let port: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracketed) {
    host = bracketed[1]!;
    port = bracketed[2];
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) {
      [host, port] = rest.split(':') as [string, string];
    }
  }
  if (host === '' || host.startsWith('-') || /\s/.test(host) || (user !== undefined && (user === '' || user.startsWith('-')))) {
    throw new UserError(`invalid ssh destination "${dest}"; write it as an ~/.ssh/config alias or user@host[:port]`);
  }
  if (port !== undefined && !/^\d+$/.test(port)) {
    throw new UserError(`invalid port in ssh destination "${dest}"; write it as user@host:port`);
  }
  const portNumber = port === undefined ? undefined : Number(port);
  if (portNumber !== undefined && (portNumber < 1 || portNumber > 65535)) {
    throw new UserError(`invalid port ${portNumber} in ssh destination "${dest}"`);
  }
  return { host, ...(user !== undefined ? { user } : {}), ...(portNumber !== undefined ? { port: portNumber } : {}) };
}

/** The `ssh -G` argv (without the program) for a destination. */
export function sshGArgs(dest: string, configFile?: string): string[] {
  const d = parseDestination(dest);
  return [
    '-G',
    ...(configFile ? ['-F', configFile] : []),
    ...(d.user !== undefined ? ['-l', d.user] : []),
    ...(d.port !== undefined ? ['-p', String(d.port)] : []),
    d.host,
  ];
}

export interface ExpandContext {
  home: string;
  localUser: string;
  exists: (path: string) => boolean;
  env: NodeJS.ProcessEnv;
}

/** `~` and the percent tokens ssh -G leaves unexpanded in IdentityFile (and sometimes known hosts files). */
function expandPath(value: string, ctx: ExpandContext, host: { hostname: string; user: string; port: number; alias: string }): string {
  let v = value;
  if (v === '~') v = ctx.home;
  else if (v.startsWith('~/')) v = ctx.home + v.slice(1);
  return v.replace(/%([%dhpruLlnik])/g, (_m, t: string) => {
    switch (t) {
      case '%':
        return '%';
      case 'd':
        return ctx.home;
      case 'h':
        return host.hostname;
      case 'p':
        return String(host.port);
      case 'r':
        return host.user;
      case 'u':
        return ctx.localUser;
      case 'n':
        return host.alias;
      default:
        return `%${t}`;
    }
  });
}

/** Splits an ssh -G value list: whitespace separated, double quotes group (paths with spaces). */
function splitValues(value: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  for (let m = re.exec(value); m; m = re.exec(value)) out.push(m[1] ?? m[2]!);
  return out;
}

/** Pure: turns `ssh -G` output into a ResolvedHost. */
export function parseSshG(
  output: string,
  dest: string,
  ctx: ExpandContext,
  configFile?: string,
): ResolvedHost {
  const single = new Map<string, string>();
  const multi = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    const value = m[2]!;
    if (!single.has(key)) single.set(key, value);
    multi.set(key, [...(multi.get(key) ?? []), value]);
  }
  const get = (k: string): string | undefined => single.get(k);
  const parsed = parseDestination(dest);
  const hostname = get('hostname') ?? parsed.host;
  const user = get('user') ?? ctx.localUser;
  const port = Number(get('port') ?? '22');
  const host = { hostname, user, port, alias: parsed.host };
  const ex = (p: string) => expandPath(p, ctx, host);

  const identityFiles = (multi.get('identityfile') ?? []).map(ex).filter((f) => ctx.exists(f));
  const agentSetting = get('identityagent');
  let agentSocket: string | undefined;
  if (agentSetting === undefined || agentSetting === 'SSH_AUTH_SOCK') agentSocket = ctx.env.SSH_AUTH_SOCK || undefined;
  else if (agentSetting !== 'none') {
    agentSocket = agentSetting.startsWith('$') ? ctx.env[agentSetting.slice(1)] || undefined : ex(agentSetting);
  }
  const jump = get('proxyjump');
  const proxyCommand = get('proxycommand');
  const strict = (get('stricthostkeychecking') ?? 'ask').toLowerCase();
  const strictHostKeyChecking: StrictHostKeyChecking =
    strict === 'true' ? 'yes' : strict === 'false' ? 'no' : (strict as StrictHostKeyChecking);
  const connectTimeout = get('connecttimeout');
  const alias = get('hostkeyalias');
  return {
    destination: dest,
    alias: parsed.host,
    hostname,
    user,
    port,
    identityFiles,
    identitiesOnly: get('identitiesonly') === 'yes',
    ...(agentSocket !== undefined ? { agentSocket } : {}),
    proxyJump: jump && jump !== 'none' ? jump.split(',').map((s) => s.trim()).filter(Boolean) : [],
    ...(proxyCommand && proxyCommand !== 'none' ? { proxyCommand } : {}),
    userKnownHostsFiles: (multi.get('userknownhostsfile') ?? []).flatMap(splitValues).map(ex),
    globalKnownHostsFiles: (multi.get('globalknownhostsfile') ?? []).flatMap(splitValues).map(ex),
    strictHostKeyChecking,
    hashKnownHosts: get('hashknownhosts') === 'yes',
    ...(alias && alias !== 'none' ? { hostKeyAlias: alias } : {}),
    serverAliveInterval: Number(get('serveraliveinterval') ?? '0') || 0,
    serverAliveCountMax: Number(get('serveralivecountmax') ?? '3') || 3,
    ...(connectTimeout && connectTimeout !== 'none' ? { connectTimeout: Number(connectTimeout) } : {}),
    ...(configFile ? { configFile } : {}),
  };
}

export interface ResolveOptions {
  /** ssh config file to use instead of ~/.ssh/config (ssh -F). */
  configFile?: string;
  /** The ssh program (tests may point at another). */
  sshBinary?: string;
  /** The fleet host name, for messages. */
  hostName?: string;
}

/** Runs `ssh -G` and returns the effective settings for `dest`. */
export async function resolveHost(dest: string, opts: ResolveOptions = {}): Promise<ResolvedHost> {
  const args = sshGArgs(dest, opts.configFile);
  const label = opts.hostName ?? dest;
  const output = await new Promise<string>((resolve, reject) => {
    execFile(opts.sshBinary ?? 'ssh', args, { encoding: 'utf8', timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          reject(new UserError(`${label}: the OpenSSH client (ssh) is not installed; install openssh-client`));
          return;
        }
        const why = stderr.trim().split('\n').pop() || err.message;
        reject(
          new UserError(
            `${label}: ssh could not resolve "${dest}": ${why}; check ${opts.configFile ?? '~/.ssh/config'}`,
          ),
        );
        return;
      }
      resolve(stdout);
    });
  });
  return parseSshG(
    output,
    dest,
    { home: homedir(), localUser: userInfo().username, exists: existsSync, env: process.env },
    opts.configFile,
  );
}
