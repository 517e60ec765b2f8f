/**
 * rsync argv builders and the local runner. System rsync over system ssh, reaching the host exactly as
 * the transport resolved it (port, user, identities, known_hosts, strict host key checking, batch mode).
 *
 * Push of conf/plugin trees (MAN8S-SPEC §7, the guide's rsync, made safe):
 * - only `conf/<name>/` and `plugin/<name>/` of the listed managed containers travel; data, log, cache
 *   and socket are never named, so never touched;
 * - `--delete` only reaches inside those listed folders: everything else is excluded by a final `- *`,
 *   and excluded files are protected from deletion (no --delete-excluded), so an unmanaged container's
 *   folder on the host survives;
 * - `--links` keeps relative symlinks (nginx sites-enabled) as symlinks;
 * - `--backup --backup-dir` moves the previous version of every changed or deleted file to a per-deploy
 *   folder under `<storage_path>-state/backup/`, the material for rollback;
 * - `--checksum` instead of size+mtime: a git checkout (every CI run) gives every file a new mtime, so
 *   the quick check would call every file changed, back it up and report it; comparing content costs
 *   reading small config trees on both sides, and means "changed" really is a content change. Times are
 *   not preserved (no -t) for the same reason: they carry no meaning from git.
 * - `--executability`, not `--perms`: git records only a file's executable bit, so that is all that
 *   travels; new files and folders get the host's default modes, and existing folders keep theirs
 *   (mount preparation may have set a conf folder's `perm`, and a push must not undo it).
 * - folder mount sources inside conf/plugin (`/etc/app: {}` → conf/<name>/etc/app) are folders git
 *   cannot store when empty; a second source, a local skeleton of just those folders, puts them in the
 *   transfer, so `--delete` keeps them (with their owner and mode) and still cleans inside them.
 * - `--timeout`: a link that goes dead mid-transfer fails after that many seconds without data instead
 *   of hanging the deploy (ssh's ServerAlive settings, always set, catch a dead link at the ssh level).
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { SyncedType } from '../fleet/model.js';
import { UserError } from '../errors.js';
import { assertSafeName } from './paths.js';
import type { ResolvedHost } from './ssh-config.js';

/** How rsync's ssh reaches a host: the resolved host, or a plain address (migration run on a host). */
export type RshHost = Pick<ResolvedHost, 'alias' | 'port' | 'user'> &
  Partial<
    Pick<
      ResolvedHost,
      'identityFiles' | 'userKnownHostsFiles' | 'globalKnownHostsFiles' | 'configFile' | 'connectTimeout' | 'serverAliveInterval' | 'serverAliveCountMax'
    >
  >;

/**
 * Quotes one word for rsync's own -e splitting (not a shell): words split on spaces; inside single or
 * double quotes spaces are kept and a doubled quote is a literal quote; backslashes are literal.
 */
export function rshQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, "''")}'`;
}

/** ssh's own config-value quoting, for file lists inside one -o option. */
function sshValueQuote(v: string): string {
  return /[\s"]/.test(v) ? `"${v}"` : v;
}

/**
 * ssh's keepalive when the ssh config sets none: without it a dead link (NAT dropped, host gone) leaves
 * ssh, and rsync behind it, waiting forever; with it ssh gives up after interval × count seconds.
 */
export const DEFAULT_SERVER_ALIVE = { interval: 15, countMax: 3 };

/** The -e value: ssh with everything resolved, refusing unknown keys and any prompt. */
export function rsyncRsh(h: RshHost, o: { sshBinary?: string } = {}): string {
  return rshArgv(h, o).map(rshQuote).join(' ');
}

/** The ssh argv (without destination) that reaches `h` non-interactively, host key checked. */
export function rshArgv(h: RshHost, o: { sshBinary?: string } = {}): string[] {
  return [
    o.sshBinary ?? 'ssh',
    ...(h.configFile ? ['-F', h.configFile] : []),
    '-p',
    String(h.port),
    '-l',
    h.user,
    ...(h.identityFiles ?? []).flatMap((f) => ['-i', f]),
    ...(h.userKnownHostsFiles?.length ? ['-o', `UserKnownHostsFile=${h.userKnownHostsFiles.map(sshValueQuote).join(' ')}`] : []),
    ...(h.globalKnownHostsFiles?.length ? ['-o', `GlobalKnownHostsFile=${h.globalKnownHostsFiles.map(sshValueQuote).join(' ')}`] : []),
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    ...(h.connectTimeout ? ['-o', `ConnectTimeout=${h.connectTimeout}`] : []),
    '-o',
    `ServerAliveInterval=${h.serverAliveInterval || DEFAULT_SERVER_ALIVE.interval}`,
    '-o',
    `ServerAliveCountMax=${h.serverAliveCountMax || DEFAULT_SERVER_ALIVE.countMax}`,
  ];
}

/** `host:path` for rsync; IPv6 literals need brackets or rsync reads their colons as the separator. */
export function remoteSpec(h: Pick<RshHost, 'alias'>, path: string): string {
  const host = h.alias.includes(':') ? `[${h.alias}]` : h.alias;
  return `${host}:${path}`;
}

export interface TreeRef {
  type: SyncedType;
  name: string;
}

export interface PushTreesOptions {
  host: RshHost;
  /** The host's folder in the fleet repo (holding conf/ and plugin/). */
  localDir: string;
  storagePath: string;
  /** Container folders to sync: only ones that exist locally (a listed folder missing locally would be emptied on the host). */
  trees: TreeRef[];
  /** Absolute folder on the host for the previous versions (hostPaths().backup(deployId)). */
  backupDir: string;
  /** Paths relative to storage_path never deleted even if git lacks them (e.g. mount sources made on the host). */
  protect?: string[];
  /**
   * A local folder holding empty folders at storage-relative paths (makeFolderSkeleton): synced as a
   * second source, so those folders exist on the host and are not deleted, while --delete still empties
   * them of anything git lacks.
   */
  skeletonDir?: string;
  /** Seconds without any data before rsync gives up (default DEFAULT_IO_TIMEOUT_SEC). */
  ioTimeoutSec?: number;
  dryRun?: boolean;
  sshBinary?: string;
}

/** Config trees are small: two minutes without a byte means the link or the host is gone. */
export const DEFAULT_IO_TIMEOUT_SEC = 120;

function trimSlash(p: string): string {
  return p.replace(/\/+$/, '');
}

/** Filter rules: protect first (first match wins), then each listed folder, then exclude everything else. */
export function pushFilters(trees: TreeRef[], protect: string[] = []): string[] {
  const rules: string[] = [];
  for (const p of protect) {
    if (p.split('/').includes('..')) throw new Error(`protect path with ..: ${p}`);
    rules.push(`--filter=P /${p.replace(/^\/+|\/+$/g, '')}/***`);
  }
  const types = [...new Set(trees.map((t) => t.type))];
  for (const type of types) {
    rules.push(`--filter=+ /${type}/`);
    for (const t of trees.filter((x) => x.type === type)) {
      assertSafeName(t.name);
      rules.push(`--filter=+ /${type}/${t.name}/***`);
    }
  }
  rules.push('--filter=- *');
  return rules;
}

export function pushTreesArgv(o: PushTreesOptions): string[] {
  if (!o.backupDir.startsWith('/')) throw new Error('backupDir must be absolute');
  return [
    'rsync',
    '--recursive',
    '--links',
    '--executability',
    '--checksum',
    '--delete',
    '--backup',
    `--backup-dir=${o.backupDir}`,
    `--timeout=${o.ioTimeoutSec ?? DEFAULT_IO_TIMEOUT_SEC}`,
    '--itemize-changes',
    '--stats',
    ...(o.dryRun ? ['--dry-run'] : []),
    '-e',
    rsyncRsh(o.host, o.sshBinary ? { sshBinary: o.sshBinary } : {}),
    ...pushFilters(o.trees, o.protect),
    `${trimSlash(o.localDir)}/`,
    ...(o.skeletonDir ? [`${trimSlash(o.skeletonDir)}/`] : []),
    remoteSpec(o.host, `${trimSlash(o.storagePath)}/`),
  ];
}

/**
 * The folder mount sources that lie inside the synced trees, relative to storage_path
 * (`conf/app/etc/app`): what the skeleton must hold. File mounts are files git has; shared mounts are
 * listed by the container that owns them.
 */
export function mountFoldersInTrees(storagePath: string, mounts: ReadonlyArray<{ source: string; file: boolean }>, trees: readonly TreeRef[]): string[] {
  const storage = trimSlash(posix.normalize(storagePath));
  const roots = trees.map((t) => `${t.type}/${t.name}`);
  const folders = new Set<string>();
  for (const m of mounts) {
    if (m.file) continue;
    const source = trimSlash(posix.normalize(m.source));
    if (!source.startsWith(`${storage}/`)) continue;
    const rel = source.slice(storage.length + 1);
    if (rel.split('/').includes('..')) continue;
    if (roots.some((r) => rel.startsWith(`${r}/`))) folders.add(rel);
  }
  return [...folders].sort();
}

/** Creates a temporary local folder holding `folders` (storage-relative) as empty folders. */
export async function makeFolderSkeleton(folders: readonly string[]): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'man8s-skeleton-'));
  for (const f of folders) await mkdir(join(dir, f), { recursive: true });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

// ---------------------------------------------------------------- output parsers (pure)

export interface ItemizedChange {
  /** Relative to the transfer root (storage_path), no trailing slash. */
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'device' | 'special';
  /** created: new; deleted: removed (--delete); content: file data changed; attributes: only perms etc. */
  action: 'created' | 'deleted' | 'content' | 'attributes';
  target?: string;
  /** The raw itemize code, e.g. `>f.st......`. */
  code: string;
}

/** rsync writes unprintable bytes in names as `\#ooo` (octal). */
export function unescapeRsyncName(s: string): string {
  if (!s.includes('\\#')) return s;
  const bytes: number[] = [];
  const buf = Buffer.from(s, 'utf8');
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x5c && buf[i + 1] === 0x23 && /^[0-7]{3}$/.test(buf.subarray(i + 2, i + 5).toString('latin1'))) {
      bytes.push(parseInt(buf.subarray(i + 2, i + 5).toString('latin1'), 8));
      i += 4;
    } else bytes.push(buf[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

const KIND: Record<string, ItemizedChange['kind']> = { f: 'file', d: 'dir', L: 'symlink', D: 'device', S: 'special' };

/** Parses `--itemize-changes` lines (`%i %n%L`); other lines (stats, messages) are skipped. */
export function parseItemize(output: string): ItemizedChange[] {
  const out: ItemizedChange[] = [];
  for (const line of output.split(/\r?\n/)) {
    const del = /^\*deleting +(.+)$/.exec(line);
    if (del) {
      const raw = del[1]!;
      out.push({ path: unescapeRsyncName(raw.replace(/\/$/, '')), kind: raw.endsWith('/') ? 'dir' : 'file', action: 'deleted', code: '*deleting' });
      continue;
    }
    const m = /^([<>ch.])([fdLDS])([.+?a-zA-Z ]{7,10}) (.+)$/.exec(line);
    if (!m) continue;
    const [, y, x, attrs, rest] = m as unknown as [string, string, string, string, string];
    const kind = KIND[x]!;
    let name = rest;
    let target: string | undefined;
    if (kind === 'symlink') {
      const arrow = rest.lastIndexOf(' -> ');
      if (arrow >= 0) {
        name = rest.slice(0, arrow);
        target = unescapeRsyncName(rest.slice(arrow + 4));
      }
    }
    const isNew = attrs.startsWith('+');
    // No change at all (`.d         ./` lines appear for the root and with -vv): skip.
    if (y === '.' && attrs.trim() === '') continue;
    // With --checksum a transfer (< >) or a changed symlink/hard link (c h) means the content differs.
    const action: ItemizedChange['action'] = isNew ? 'created' : '<>ch'.includes(y) ? 'content' : 'attributes';
    out.push({
      path: unescapeRsyncName(name.replace(/\/$/, '')),
      kind,
      action,
      ...(target !== undefined ? { target } : {}),
      code: `${y}${x}${attrs}`,
    });
  }
  return out.filter((c) => c.path !== '.');
}

export interface RsyncStats {
  files?: number;
  createdFiles?: number;
  deletedFiles?: number;
  transferredFiles?: number;
  totalFileSize?: number;
  transferredFileSize?: number;
  literalData?: number;
  matchedData?: number;
  bytesSent?: number;
  bytesReceived?: number;
}

const STAT_KEYS: Record<string, keyof RsyncStats> = {
  'Number of files': 'files',
  'Number of created files': 'createdFiles',
  'Number of deleted files': 'deletedFiles',
  'Number of regular files transferred': 'transferredFiles',
  'Total file size': 'totalFileSize',
  'Total transferred file size': 'transferredFileSize',
  'Literal data': 'literalData',
  'Matched data': 'matchedData',
  'Total bytes sent': 'bytesSent',
  'Total bytes received': 'bytesReceived',
};

/** Parses the `--stats` block (numbers may carry thousands separators). */
export function parseStats(output: string): RsyncStats {
  const stats: RsyncStats = {};
  for (const line of output.split(/\r?\n/)) {
    const m = /^([A-Za-z ]+): ([\d,.]+)/.exec(line);
    if (!m) continue;
    const key = STAT_KEYS[m[1]!];
    if (key) stats[key] = Number(m[2]!.replace(/[,.](?=\d{3}(\D|$))/g, ''));
  }
  return stats;
}

export interface RsyncProgress {
  bytes: number;
  percent: number;
  rate: string;
  eta: string;
}

/** One `--info=progress2` line, e.g. `  1,234,567  45%   12.34MB/s    0:00:10 (xfr#3, to-chk=0/10)`. */
export function parseProgress2(line: string): RsyncProgress | undefined {
  const m = /^\s*([\d,.]+)\s+(\d+)%\s+(\S+)\s+(\d+:\d+:\d+)/.exec(line);
  if (!m) return undefined;
  return { bytes: Number(m[1]!.replace(/[,.]/g, '')), percent: Number(m[2]), rate: m[3]!, eta: m[4]! };
}

// ---------------------------------------------------------------- runner

export interface RsyncResult {
  code: number;
  stdout: string;
  stderr: string;
  items: ItemizedChange[];
  stats: RsyncStats;
}

const EXIT_MEANING: Record<number, string> = {
  1: 'syntax or usage error',
  2: 'protocol incompatibility',
  3: 'errors selecting input/output files',
  5: 'error starting the client-server protocol',
  10: 'socket I/O error',
  11: 'file I/O error',
  12: 'error in the rsync protocol data stream (often: ssh failed)',
  20: 'interrupted',
  23: 'partial transfer: some files could not be copied',
  24: 'partial transfer: some source files vanished',
  30: 'timeout',
  35: 'timeout waiting for daemon connection',
  127: 'rsync not found on the remote host',
  255: 'ssh failed',
};

function rsyncError(label: string, code: number, stderr: string): UserError {
  const last = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
  let fix = 'run again with --verbose to see rsync and ssh output';
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/i.test(stderr)) {
    fix = 'the host key is unknown or changed: connect once with --accept-new-host-keys, or fix known_hosts (ssh-keygen -R)';
  } else if (/Permission denied \(publickey/i.test(stderr)) {
    fix = 'ssh authentication failed: load your key (ssh-add) or set IdentityFile';
  } else if (code === 127 || /rsync: (command )?not found/i.test(stderr)) {
    fix = 'install rsync on the host';
  } else if (/No space left/i.test(stderr)) {
    fix = 'free disk space on the host';
  } else if (code === 30 || /Timeout, server .* not responding|timeout in data send\/receive|Broken pipe|Connection (reset|timed out)/i.test(stderr)) {
    fix = `the connection to ${label} went dead (no data within the timeout): check that the host is up and the network holds, then run again`;
  }
  return new UserError(`${label}: rsync failed (exit ${code}: ${EXIT_MEANING[code] ?? 'error'})${last ? `: ${last}` : ''}; ${fix}`);
}

export interface RunRsyncOptions {
  /** Host name for messages. */
  label: string;
  onProgress?: (p: RsyncProgress) => void;
  /** Exit codes accepted as success besides 0 (migration of live data may accept 24). */
  okCodes?: number[];
  signal?: AbortSignal;
  /** The rsync program (argv[0] is replaced when set). */
  rsyncBinary?: string;
}

/** Spawns the local rsync (argv, no shell); a failing exit code becomes a UserError naming the host and a fix. */
export function runRsync(argv: readonly string[], o: RunRsyncOptions): Promise<RsyncResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(o.rsyncBinary ?? cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'], ...(o.signal ? { signal: o.signal } : {}) });
    let stdout = '';
    let stderr = '';
    let partial = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!o.onProgress) return;
      const parts = (partial + chunk).split(/[\r\n]/);
      partial = parts.pop() ?? '';
      for (const p of parts) {
        const prog = parseProgress2(p);
        if (prog) o.onProgress(prog);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new UserError(`${o.label}: rsync is not installed on this machine; install rsync`));
      else if (err.name === 'AbortError') reject(new UserError(`${o.label}: rsync interrupted`, 130));
      else reject(err);
    });
    child.on('close', (code, signal) => {
      const c = code ?? (signal ? 20 : 255);
      if (c !== 0 && !(o.okCodes ?? []).includes(c)) {
        reject(rsyncError(o.label, c, stderr));
        return;
      }
      resolve({ code: c, stdout, stderr, items: parseItemize(stdout), stats: parseStats(stdout) });
    });
  });
}

// ---------------------------------------------------------------- pull (import)

export interface PullTreesOptions {
  host: RshHost;
  storagePath: string;
  /** Local folder receiving `conf/` and `plugin/` (hosts/<host>). */
  localDir: string;
  types?: readonly SyncedType[];
  dryRun?: boolean;
  sshBinary?: string;
}

/**
 * The guide's pull-back (MAN8S-SPEC §7) for `man8s import`: the host's conf/ and plugin/ trees into the
 * repo's host folder, symlinks kept as symlinks (--links), the executable bit kept (the one mode git
 * records), owners not (they mean nothing in git). No --delete: the local folder is new.
 */
export function pullTreesArgv(o: PullTreesOptions): string[] {
  const types = o.types ?? (['conf', 'plugin'] as const);
  return [
    'rsync',
    '--recursive',
    '--links',
    '--times',
    '--executability',
    '--itemize-changes',
    '--stats',
    ...(o.dryRun ? ['--dry-run'] : []),
    '-e',
    rsyncRsh(o.host, o.sshBinary ? { sshBinary: o.sshBinary } : {}),
    ...types.map((t) => `--filter=+ /${t}/***`),
    '--filter=- *',
    remoteSpec(o.host, `${trimSlash(o.storagePath)}/`),
    `${trimSlash(o.localDir)}/`,
  ];
}
