/**
 * One SSH connection per host per run (ssh2, in-process), reused by every step: observe, mount prep,
 * compose, lock. Opening a connection costs several round trips (TCP, key exchange, auth); a channel on
 * an open connection costs one. That difference is the whole performance model (DESIGN.md).
 *
 * Every command is an argv array turned into shell text by quoteArgv, never a concatenated string.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Duplex, Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ClientChannel, ConnectConfig, AnyAuthMethod, AuthenticationType, IdentityCallback, ParsedKey, PseudoTtyOptions } from 'ssh2';
import pLimit from 'p-limit';
import { UserError } from '../errors.js';
import { quoteArg, quoteArgv } from './quote.js';
import { resolveHost, type ResolvedHost } from './ssh-config.js';
import {
  appendKnownHost,
  formatKnownHostsLine,
  knownKeyTypes,
  lookupNames,
  preferredHostKeyAlgorithms,
  readKnownHosts,
  verifyHostKey,
  type HostKeyVerdict,
} from './known-hosts.js';

const { Client, OpenSSHAgent, utils } = ssh2;
type Ssh2Client = InstanceType<typeof Client>;

/** OpenSSH's default MaxSessions is 10; staying under it leaves room for an interactive session. */
export const MAX_CHANNELS = 8;

/** How long past a command's timeout the local side waits for the host's `timeout` to report. */
const LOCAL_TIMEOUT_GRACE_MS = 5_000;

export interface RunOptions {
  stdin?: string | Buffer;
  timeoutMs?: number;
  /** Remote working directory (the command runs after `cd DIR &&`). */
  cwd?: string;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RawRunResult {
  code: number;
  stdout: Buffer;
  stderr: Buffer;
}

/** A remote command as data: what plan/deploy build and the transport runs. */
export interface RemoteCommand {
  argv: string[];
  stdin?: string | Buffer;
}

export interface StreamOptions {
  stdin?: string | Buffer | Readable;
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Allocate a pseudo-terminal (interactive exec/shell); stderr then arrives on stdout. */
  pty?: boolean | PseudoTtyOptions;
  timeoutMs?: number;
  /** Aborting closes the channel (Ctrl-C on `man8s logs -f`). */
  signal?: AbortSignal;
  /** Receives the channel once open: interactive sessions forward terminal resizes with setWindow. */
  onChannel?: (channel: ClientChannel) => void;
}

export interface ConnectionStats {
  host: string;
  /** SSH connections opened for this host: 1, plus one per ProxyJump hop, plus any recorded by rsync. */
  connections: number;
  /** Remote commands (exec channels) run. */
  commands: number;
  /** Bytes on the wire (TCP, encrypted, including ssh overhead and rsync's own connections). */
  bytesSent: number;
  bytesReceived: number;
  /** Seconds from the start of connecting until close (or now). */
  seconds: number;
}

export type TransportEvent =
  | { kind: 'command'; host: string; command: string }
  | { kind: 'result'; host: string; command: string; code: number; stdout: string; stderr: string; ms: number };

/** The --verbose hook: receives each command line, then its result. */
export type TransportLogger = (event: TransportEvent) => void;

export interface ConnectOptions {
  /** The fleet host name, used in every message. */
  host: string;
  /** Record unknown host keys instead of refusing (--accept-new-host-keys). A changed key is always refused. */
  acceptNewHostKeys?: boolean;
  /** Default: ConnectTimeout from ssh config, else 15 s. */
  connectTimeoutMs?: number;
  /** Default: ServerAliveInterval from ssh config, else 15 s (a NAT dropping an idle deploy is common). */
  keepaliveIntervalMs?: number;
  maxChannels?: number;
  logger?: TransportLogger;
  /** When connecting began (Date.now()), if before open(): --stats seconds include resolving and the handshake. */
  startedAt?: number;
  /** Resolves ProxyJump hops; defaults to resolveHost with the target's config file. */
  resolveJump?: (dest: string) => Promise<ResolvedHost>;
}

function shorten(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function tail(text: string, lines = 5): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

const SIGNALS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, PIPE: 13, TERM: 15 };

function where(r: ResolvedHost): string {
  return `${r.user}@${r.hostname}:${r.port}`;
}

function hostKeyError(host: string, r: ResolvedHost, v: HostKeyVerdict, acceptNew: boolean): UserError {
  const name = lookupNames(r)[0]!;
  const files = r.userKnownHostsFiles[0] ?? '~/.ssh/known_hosts';
  switch (v.status) {
    case 'changed': {
      const was = v.expected.map((e) => `${e.file}:${e.line} ${e.keyType} ${e.fingerprint}`).join(', ');
      return new UserError(
        `${host}: HOST KEY CHANGED for ${name}: it presented ${v.keyType} ${v.fingerprint}, known_hosts has ${was}. ` +
          `This may be an attack; if the host was really reinstalled, remove the old key with ` +
          `ssh-keygen -R ${quoteArg(name)} -f ${quoteArg(v.expected[0]?.file ?? files)} and connect again with --accept-new-host-keys`,
      );
    }
    case 'revoked':
      return new UserError(
        `${host}: the host key of ${name} (${v.keyType} ${v.fingerprint}) is marked @revoked in ${v.entry.file}:${v.entry.line}; refusing to connect`,
      );
    case 'unknown':
      return new UserError(
        `${host}: unknown host key for ${name} (${v.keyType} ${v.fingerprint}); ` +
          (acceptNew
            ? `it could not be recorded in ${files}`
            : `verify the fingerprint, then run again with --accept-new-host-keys to record it in ${files} (or add it with ssh-keyscan)`),
      );
    default:
      return new UserError(`${host}: host key verification failed for ${name}`);
  }
}

/** What ssh2 reports when the server ends the connection: SSH_MSG_DISCONNECT's reason code and text. */
const DISCONNECT_REASONS: Record<number, string> = {
  1: 'host not allowed to connect',
  2: 'protocol error',
  3: 'key exchange failed',
  5: 'MAC error',
  7: 'service not available',
  8: 'protocol version not supported',
  9: 'host key not verifiable',
  10: 'connection lost',
  12: 'too many connections',
  13: 'authentication cancelled',
  14: 'no more authentication methods available',
  15: 'illegal user name',
};

function triedKeys(tried: string[]): string {
  return tried.length ? tried.join(', ') : 'no keys: no ssh-agent and no identity file';
}

/** Maps ssh2/socket errors to a message the user can act on. */
function connectError(host: string, r: ResolvedHost, err: unknown, tried: string[]): UserError {
  if (err instanceof UserError) return err;
  const e = err as Error & { code?: string | number; level?: string };
  const at = where(r);
  if (e.level === 'client-authentication') {
    return new UserError(
      `${host}: ssh authentication failed for ${at} (tried ${triedKeys(tried)}); ` +
        `add your public key to the host's ~/.ssh/authorized_keys, load it with ssh-add, or set IdentityFile in your ssh config`,
    );
  }
  if (e.level === 'client-timeout' || e.code === 'ETIMEDOUT') {
    return new UserError(`${host}: timed out connecting to ${at}; check the host is up and reachable (host.yaml ssh, ~/.ssh/config)`);
  }
  if (typeof e.code === 'number') {
    // The server said goodbye (SSH_MSG_DISCONNECT): its text is the reason, e.g. sshd's MaxAuthTries.
    const said = e.message && !/^Unexpected disconnection/.test(e.message) ? e.message : (DISCONNECT_REASONS[e.code] ?? `reason ${e.code}`);
    if (/too many authentication failures/i.test(said)) {
      return new UserError(
        `${host}: ${at} closed the connection: too many authentication failures (tried ${triedKeys(tried)}); sshd allows only a few keys per connection (MaxAuthTries): ` +
          `in your ssh config set IdentitiesOnly yes and the right IdentityFile for this host, or load fewer keys into ssh-agent`,
      );
    }
    return new UserError(`${host}: ${at} closed the connection during the ssh handshake (${said}); check sshd on the host (its log says why)`);
  }
  const reason = e.code ?? e.message;
  return new UserError(`${host}: cannot connect to ${at} (${reason}); check the host is up and host.yaml ssh / ~/.ssh/config are right`);
}

/** An identity file: its private key when it can be read without a passphrase, and its public key. */
interface Identity {
  file: string;
  key?: Buffer;
  /** The public key blob: from `<file>.pub`, else derived from the private key. */
  pub?: Buffer;
}

/** The identity files, read once (unreadable ones are skipped, as ssh does). */
async function loadIdentities(files: readonly string[]): Promise<Identity[]> {
  const out: Identity[] = [];
  for (const file of files) {
    const id: Identity = { file };
    try {
      const key = await readFile(file);
      const parsed = utils.parseKey(key);
      // Encrypted (or unsupported): only usable through the agent, found by its .pub.
      if (!(parsed instanceof Error)) {
        id.key = key;
        id.pub = parsed.getPublicSSH();
      }
    } catch {
      // unreadable private key: the agent may still hold it
    }
    try {
      const blob = (await readFile(`${file}.pub`, 'utf8')).trim().split(/\s+/)[1];
      if (blob) id.pub = Buffer.from(blob, 'base64');
    } catch {
      // no .pub
    }
    if (id.key || id.pub) out.push(id);
  }
  return out;
}

/** The agent's keys, or none when it does not answer (ssh carries on without it, too). */
function agentKeys(socket: string): Promise<ParsedKey[]> {
  return new Promise((resolve) =>
    new OpenSSHAgent(socket).getIdentities((err, keys) => {
      // Entries are keys, or {pubKey} records (KnownPublicKeys); both parse.
      const raw = (err ? [] : (keys ?? [])).map((k) => ((k as { pubKey?: ParsedKey }).pubKey ?? (k as ParsedKey)));
      const parsed = raw.map((k) => utils.parseKey(k));
      resolve(parsed.filter((k): k is ParsedKey => !(k instanceof Error)));
    }),
  );
}

/** An agent that offers only the given keys (signing still goes to the real agent). */
class OfferedKeysAgent extends OpenSSHAgent {
  constructor(
    socket: string,
    private readonly offered: ParsedKey[],
  ) {
    super(socket);
  }

  override getIdentities(cb: IdentityCallback<ParsedKey>): void {
    cb(undefined, this.offered);
  }
}

/**
 * The keys to offer, in OpenSSH's order: the agent's first, then identity files the agent does not
 * hold. With IdentitiesOnly, only the identity files' keys are offered, from the agent when it holds
 * them (an identity file with a passphrase is usable that way) — offering every agent key would hit
 * sshd's MaxAuthTries on a laptop with many keys loaded.
 */
export async function authMethods(target: Pick<ResolvedHost, 'user' | 'identityFiles' | 'identitiesOnly' | 'agentSocket'>): Promise<Array<{ label: string; method: AnyAuthMethod }>> {
  const identities = await loadIdentities(target.identityFiles);
  const methods: Array<{ label: string; method: AnyAuthMethod }> = [];
  const inAgent: Buffer[] = [];
  if (target.agentSocket) {
    const all = await agentKeys(target.agentSocket);
    const wanted = identities.flatMap((i) => (i.pub ? [i.pub] : []));
    const offered = target.identitiesOnly ? all.filter((k) => wanted.some((w) => w.equals(k.getPublicSSH()))) : all;
    if (offered.length > 0) {
      inAgent.push(...offered.map((k) => k.getPublicSSH()));
      const names = target.identitiesOnly ? identities.filter((i) => i.pub && inAgent.some((a) => a.equals(i.pub!))).map((i) => i.file) : [];
      methods.push({
        label: names.length ? `ssh-agent (${names.join(', ')})` : `ssh-agent (${offered.length} key${offered.length === 1 ? '' : 's'})`,
        method: { type: 'agent', username: target.user, agent: new OfferedKeysAgent(target.agentSocket, offered) },
      });
    }
  }
  for (const i of identities) {
    if (!i.key || (i.pub && inAgent.some((a) => a.equals(i.pub!)))) continue;
    methods.push({ label: i.file, method: { type: 'publickey', username: target.user, key: i.key } });
  }
  return methods;
}

interface Hop {
  client: Ssh2Client;
  socket?: Socket;
}

export class Connection {
  private readonly limit: ReturnType<typeof pLimit>;
  private ended?: number;
  private commandCount = 0;
  private external = { connections: 0, bytesSent: 0, bytesReceived: 0 };
  private closed = false;
  /** Set when the connection dropped under us (network, sshd restart, keepalive timeout). */
  private lost?: string;

  private constructor(
    readonly host: string,
    readonly resolved: ResolvedHost,
    private readonly hops: Hop[],
    private readonly logger: TransportLogger | undefined,
    maxChannels: number,
    /** When connecting began: stats count the handshake, which is most of a no-op run's time. */
    private readonly started: number,
  ) {
    this.limit = pLimit(maxChannels);
    const last = hops[hops.length - 1]!.client;
    last.on('error', (err: Error) => (this.lost ??= err.message));
    last.on('close', () => (this.lost ??= 'connection closed'));
  }

  /** Opens the connection (through ProxyJump hops if configured), verifying every host key. */
  static async open(resolved: ResolvedHost, opts: ConnectOptions): Promise<Connection> {
    const started = opts.startedAt ?? Date.now();
    if (resolved.proxyCommand && resolved.proxyJump.length === 0) {
      throw new UserError(
        `${opts.host}: your ssh config uses ProxyCommand for ${resolved.alias}, which man8s cannot run in-process; use ProxyJump instead`,
      );
    }
    const resolveJump = opts.resolveJump ?? ((d: string) => resolveHost(d, { ...(resolved.configFile ? { configFile: resolved.configFile } : {}), hostName: opts.host }));
    const chain: ResolvedHost[] = [];
    for (const j of resolved.proxyJump) chain.push(await resolveJump(j));
    chain.push(resolved);

    const hops: Hop[] = [];
    try {
      let stream: Duplex | undefined;
      for (const target of chain) {
        const prev = hops[hops.length - 1];
        let socket: Socket | undefined;
        if (!prev) {
          socket = await tcpConnect(opts.host, target, opts.connectTimeoutMs ?? (target.connectTimeout ?? 15) * 1000);
          stream = socket;
        } else {
          stream = await forwardOut(opts.host, prev.client, target);
        }
        const client = await handshake(opts.host, target, stream!, opts);
        hops.push({ client, ...(socket ? { socket } : {}) });
      }
    } catch (err) {
      for (const h of hops.reverse()) h.client.end();
      throw err;
    }
    return new Connection(opts.host, resolved, hops, opts.logger, opts.maxChannels ?? MAX_CHANNELS, started);
  }

  private get client(): Ssh2Client {
    return this.hops[this.hops.length - 1]!.client;
  }

  /** Runs argv; a non-zero exit is returned, not thrown (callers decide what failure means). */
  async run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const raw = await this.runRaw(argv, opts);
    return { code: raw.code, stdout: raw.stdout.toString('utf8'), stderr: raw.stderr.toString('utf8') };
  }

  /** Like run, but keeps stdout/stderr as bytes (the observe output frames sections by byte length). */
  async runRaw(argv: readonly string[], opts: RunOptions = {}): Promise<RawRunResult> {
    const text = opts.cwd ? `cd ${quoteArg(opts.cwd)} && ${quoteArgv(argv)}` : quoteArgv(argv);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const started = Date.now();
    this.logger?.({ kind: 'command', host: this.host, command: text });
    const code = await this.execText(this.wrap(text, opts.timeoutMs), {
      label: text,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      onStdout: (c) => out.push(c),
      onStderr: (c) => err.push(c),
    });
    const result = { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
    this.logger?.({
      kind: 'result',
      host: this.host,
      command: text,
      code,
      stdout: result.stdout.toString('utf8'),
      stderr: result.stderr.toString('utf8'),
      ms: Date.now() - started,
    });
    return result;
  }

  /** Runs a RemoteCommand built by one of the builders. */
  runCommand(cmd: RemoteCommand, opts: Omit<RunOptions, 'stdin'> = {}): Promise<RunResult> {
    return this.run(cmd.argv, { ...opts, ...(cmd.stdin !== undefined ? { stdin: cmd.stdin } : {}) });
  }

  /** Runs a POSIX sh script fed on stdin (`sh -s -- args…`): long scripts never hit ARG_MAX or quoting. */
  runScript(script: string, args: readonly string[] = [], opts: Omit<RunOptions, 'stdin'> = {}): Promise<RunResult> {
    return this.run(['sh', '-s', '--', ...args], { ...opts, stdin: script });
  }

  runScriptRaw(script: string, args: readonly string[] = [], opts: Omit<RunOptions, 'stdin'> = {}): Promise<RawRunResult> {
    return this.runRaw(['sh', '-s', '--', ...args], { ...opts, stdin: script });
  }

  /** Runs and throws a UserError naming host, command and stderr when the exit code is not 0. */
  async check(argv: readonly string[], what: string, opts: RunOptions = {}): Promise<RunResult> {
    const r = await this.run(argv, opts);
    if (r.code !== 0) {
      throw new UserError(`${this.host}: ${what} failed (exit ${r.code}): ${tail(r.stderr || r.stdout) || '(no output)'}`);
    }
    return r;
  }

  /** Streams output as it arrives (logs -f, exec); resolves with the exit code. */
  async stream(argv: readonly string[], opts: StreamOptions = {}): Promise<number> {
    const text = quoteArgv(argv);
    this.logger?.({ kind: 'command', host: this.host, command: text });
    return this.execText(this.wrap(text, opts.timeoutMs), { ...opts, label: text });
  }

  /**
   * With a timeout, the command runs under coreutils `timeout` ON THE HOST: closing an ssh channel does
   * not stop a command that prints nothing, and OpenSSH ignored "signal" requests in our tests, so the
   * host itself must enforce the limit (it also holds when the connection drops). TERM first, KILL 2 s
   * later, to the whole process group `timeout` creates.
   */
  private wrap(text: string, timeoutMs: number | undefined): string {
    if (timeoutMs === undefined) return text;
    return quoteArgv(['timeout', '-k', '2', String(timeoutMs / 1000), 'sh', '-c', text]);
  }

  /** Bytes moved by rsync's own ssh connection, so --stats stays honest. */
  recordExternal(add: { connections?: number; bytesSent?: number; bytesReceived?: number }): void {
    this.external.connections += add.connections ?? 0;
    this.external.bytesSent += add.bytesSent ?? 0;
    this.external.bytesReceived += add.bytesReceived ?? 0;
  }

  stats(): ConnectionStats {
    const sock = this.hops[0]?.socket;
    return {
      host: this.host,
      connections: this.hops.length + this.external.connections,
      commands: this.commandCount,
      bytesSent: (sock?.bytesWritten ?? 0) + this.external.bytesSent,
      bytesReceived: (sock?.bytesRead ?? 0) + this.external.bytesReceived,
      seconds: ((this.ended ?? Date.now()) - this.started) / 1000,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ended = Date.now();
    for (const h of [...this.hops].reverse()) {
      await new Promise<void>((resolve) => {
        const sock = h.socket;
        if (sock && !sock.destroyed) sock.once('close', () => resolve());
        else setImmediate(resolve);
        h.client.end();
      });
    }
  }

  private execText(text: string, opts: StreamOptions & { label?: string }): Promise<number> {
    if (this.closed) return Promise.reject(new Error(`${this.host}: connection already closed`));
    if (this.lost) return Promise.reject(new UserError(`${this.host}: the ssh connection was lost (${this.lost}); check the host and run again`));
    return this.limit(
      () =>
        new Promise<number>((resolve, reject) => {
          this.commandCount++;
          const started = Date.now();
          const execOpts = opts.pty ? { pty: opts.pty } : {};
          this.client.exec(text, execOpts, (err, channel: ClientChannel) => {
            if (err) {
              reject(new UserError(`${this.host}: could not start a remote command (${err.message}); the connection was lost, run again`));
              return;
            }
            opts.onChannel?.(channel);
            let code: number | undefined;
            let timedOut = false;
            let timer: NodeJS.Timeout | undefined;
            const kill = () => channel.close();
            if (opts.timeoutMs !== undefined) {
              // The remote `timeout` (see timeoutWrap) is what stops the process; this local timer only
              // gives up on a host that stopped answering altogether.
              timer = setTimeout(() => {
                timedOut = true;
                kill();
              }, opts.timeoutMs + LOCAL_TIMEOUT_GRACE_MS);
            }
            const onAbort = () => kill();
            opts.signal?.addEventListener('abort', onAbort, { once: true });
            channel.on('exit', (c: number | null, signal?: string) => {
              code = c ?? (signal ? 128 + (SIGNALS[signal] ?? 0) : 255);
            });
            channel.on('data', (chunk: Buffer) => opts.onStdout?.(chunk));
            channel.stderr.on('data', (chunk: Buffer) => opts.onStderr?.(chunk));
            channel.on('close', () => {
              if (timer) clearTimeout(timer);
              opts.signal?.removeEventListener('abort', onAbort);
              const remoteTimeout =
                opts.timeoutMs !== undefined && (code === 124 || code === 137) && Date.now() - started >= opts.timeoutMs;
              if (timedOut || remoteTimeout) {
                reject(
                  new UserError(
                    `${this.host}: \`${shorten(opts.label ?? text)}\` did not finish within ${opts.timeoutMs! / 1000}s and was stopped; ` +
                      `check the host, or raise the timeout`,
                  ),
                );
                return;
              }
              if (code === undefined && !opts.signal?.aborted && this.lost && !this.closed) {
                reject(new UserError(`${this.host}: the ssh connection was lost (${this.lost}) while running \`${shorten(opts.label ?? text)}\`; check the host and run again`));
                return;
              }
              resolve(code ?? (opts.signal?.aborted ? 130 : 255));
            });
            const stdin = opts.stdin;
            if (stdin === undefined) channel.end();
            else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
            else stdin.pipe(channel);
          });
        }),
    );
  }
}

function tcpConnect(host: string, r: ResolvedHost, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: r.hostname, port: r.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UserError(`${host}: timed out after ${timeoutMs / 1000}s connecting to ${where(r)}; check the host is up and reachable`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(connectError(host, r, err, []));
    });
  });
}

function forwardOut(host: string, via: Ssh2Client, target: ResolvedHost): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    via.forwardOut('127.0.0.1', 0, target.hostname, target.port, (err, channel) => {
      if (err) reject(new UserError(`${host}: the jump host could not reach ${where(target)} (${err.message}); check ProxyJump and the target address`));
      else resolve(channel);
    });
  });
}

async function handshake(host: string, target: ResolvedHost, sock: Duplex, opts: ConnectOptions): Promise<Ssh2Client> {
  const names = lookupNames(target);
  const knownFiles = [...target.userKnownHostsFiles, ...target.globalKnownHostsFiles];
  const entries = await readKnownHosts(knownFiles);
  const methods = await authMethods(target);
  const tried: string[] = [];

  let verdict: HostKeyVerdict | undefined;
  let recordError: Error | undefined;
  const client = new Client();
  const keepalive = opts.keepaliveIntervalMs ?? (target.serverAliveInterval > 0 ? target.serverAliveInterval * 1000 : 15_000);
  const config: ConnectConfig = {
    sock: sock as unknown as Readable,
    username: target.user,
    readyTimeout: opts.connectTimeoutMs ?? (target.connectTimeout ?? 15) * 1000,
    keepaliveInterval: keepalive,
    keepaliveCountMax: target.serverAliveCountMax,
    algorithms: { serverHostKey: preferredHostKeyAlgorithms(knownKeyTypes(entries, names)) as never },
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      verdict = verifyHostKey(entries, names, key);
      if (verdict.status === 'trusted') return verify(true);
      if (verdict.status === 'unknown' && opts.acceptNewHostKeys) {
        const file = target.userKnownHostsFiles[0];
        if (!file) return verify(false);
        appendKnownHost(file, formatKnownHostsLine(names[0]!, key, target.hashKnownHosts)).then(
          () => verify(true),
          (e: Error) => {
            recordError = e;
            verify(false);
          },
        );
        return;
      }
      verify(false);
    },
    authHandler: (_left: AuthenticationType[] | null, _partial: boolean | null, next) => {
      const m = methods.shift();
      if (!m) return next(false as never);
      tried.push(m.label);
      next(m.method);
    },
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    client.once('ready', () => {
      settled = true;
      resolve(client);
    });
    client.on('error', (err: Error) => {
      if (settled) return; // later errors surface through the channels that see them
      settled = true;
      client.end();
      if (verdict && verdict.status !== 'trusted' && /verif|denied/i.test(err.message)) {
        const e = hostKeyError(host, target, verdict, !!opts.acceptNewHostKeys);
        reject(recordError ? new UserError(`${e.message} (${recordError.message})`) : e);
      } else reject(connectError(host, target, err, tried));
    });
    client.once('close', () => {
      if (settled) return;
      settled = true;
      reject(new UserError(`${host}: ${where(target)} closed the connection during the ssh handshake; check sshd on the host`));
    });
    client.connect(config);
  });
}

/** Resolves `dest` with ssh -G and opens the connection: the usual entry point. */
export async function connectHost(
  dest: string,
  opts: ConnectOptions & { configFile?: string },
): Promise<Connection> {
  const startedAt = opts.startedAt ?? Date.now();
  const resolved = await resolveHost(dest, { ...(opts.configFile ? { configFile: opts.configFile } : {}), hostName: opts.host });
  return Connection.open(resolved, { ...opts, startedAt });
}
