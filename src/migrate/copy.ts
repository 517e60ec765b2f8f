/**
 * Copying a migration's data, and proving the copy equal.
 *
 * Every copy is `rsync -aAXH --numeric-ids` (the guide's migration flags: ACLs, xattrs, hard links, raw
 * uids/gids; -a keeps modes, times, symlinks, devices and sockets) with `--relative --no-implied-dirs`:
 * each unit is named by its own path, so only the container's folders travel and the parents on the
 * target (`/var/lib/man8s/data`, `/srv`) keep their own owner and mode. `--delete` makes each unit on the
 * target exactly the source's, including with --force over an older copy.
 *
 * Two ways to move the bytes:
 * - direct (default): the SOURCE host runs rsync over ssh to the target, so data crosses the network once
 *   and never touches the workstation. Trust this needs: the source host's root must be able to ssh into
 *   the target as the user man8s uses (a key of the source's root in the target's authorized_keys). The
 *   target's host key is NOT taken on trust: man8s writes the key the workstation already verified into a
 *   known_hosts file on the source for this copy only, with StrictHostKeyChecking=yes.
 * - via local (--via-local): the workstation pulls into a local folder, then pushes; needs local root
 *   (ownership) and a filesystem with xattr/ACL support, but no trust between the hosts.
 */
import { spawn } from 'node:child_process';
import { posix } from 'node:path';
import { UserError } from '../errors.js';
import { parseProgress2, parseStats, remoteSpec, rshArgv, rsyncRsh, type RshHost, type RsyncProgress, type RsyncStats } from '../remote/rsync.js';
import type { Connection, RemoteCommand } from '../remote/transport.js';
import type { CopyUnit } from './plan.js';

/** -aAXH --numeric-ids, progress for the user, stats for the summary. */
export const COPY_FLAGS = [
  '--archive',
  '--acls',
  '--xattrs',
  '--hard-links',
  '--numeric-ids',
  '--relative',
  '--no-implied-dirs',
  '--delete',
  '--info=progress2',
  '--no-inc-recursive',
  '--stats',
];

/** A set of paths copied with one rsync: `sources` are `<root>/./<rel>` on the sending side, `destRoot` the receiving root. */
export interface CopyBatch {
  fromRoot: string;
  toRoot: string;
  /** Paths relative to the roots. */
  rels: string[];
}

/**
 * Groups units by (fromRoot, toRoot) so a default-layout migration is one rsync (storage → storage) plus
 * at most one for custom absolute sources (/ → /). `exists` filters units missing on the source.
 */
export function copyBatches(units: readonly CopyUnit[], fromStorage: string, toStorage: string, exists: (path: string) => boolean): CopyBatch[] {
  const storage: CopyBatch = { fromRoot: fromStorage, toRoot: toStorage, rels: [] };
  const custom: CopyBatch = { fromRoot: '/', toRoot: '/', rels: [] };
  for (const u of units) {
    if (!exists(u.fromPath)) continue;
    if (u.kind === 'storage') storage.rels.push(posix.relative(fromStorage, u.fromPath));
    else custom.rels.push(u.fromPath.replace(/^\/+/, ''));
  }
  return [storage, custom].filter((b) => b.rels.length > 0);
}

function sources(root: string, rels: readonly string[]): string[] {
  const r = root.replace(/\/+$/, '');
  return rels.map((rel) => `${r}/./${rel}`);
}

/** rsync argv run ON the source host: pushes the batch straight to the target. */
export function directCopyArgv(b: CopyBatch, to: RshHost): string[] {
  return ['rsync', ...COPY_FLAGS, '-e', rsyncRsh(to), ...sources(b.fromRoot, b.rels), remoteSpec(to, `${b.toRoot.replace(/\/+$/, '')}/`)];
}

/** Local rsync: pulls the batch from the source host into `localDir` (same relative layout). */
export function pullCopyArgv(b: CopyBatch, from: RshHost, localDir: string): string[] {
  return [
    'rsync',
    ...COPY_FLAGS,
    '-e',
    rsyncRsh(from),
    ...sources(b.fromRoot, b.rels).map((s) => remoteSpec(from, s)),
    `${localDir.replace(/\/+$/, '')}/`,
  ];
}

/** Local rsync: pushes what pullCopyArgv fetched to the target. */
export function pushCopyArgv(b: CopyBatch, localDir: string, to: RshHost): string[] {
  return ['rsync', ...COPY_FLAGS, '-e', rsyncRsh(to), ...sources(localDir, b.rels), remoteSpec(to, `${b.toRoot.replace(/\/+$/, '')}/`)];
}

// ---------------------------------------------------------------- probing and verifying (one command per host)

export interface ProbedPath {
  path: string;
  kind: 'dir' | 'file' | 'symlink' | 'other' | 'missing';
  /** `du -sb`: bytes on disk the copy will need (apparent sizes). */
  bytes: number;
}

const PROBE_SH = String.raw`
for p in "$@"; do
  if [ -L "$p" ]; then k=l; elif [ -d "$p" ]; then k=d; elif [ -f "$p" ]; then k=f; elif [ -e "$p" ]; then k=o; else printf '%s\t-\t0\n' "$p"; continue; fi
  b=$(du -sb -- "$p" 2>/dev/null | cut -f1); [ -n "$b" ] || b=0
  printf '%s\t%s\t%s\n' "$p" "$k" "$b"
done
`;

/** Existence, kind and size of every path, in one round trip. */
export function probeCommand(paths: readonly string[]): RemoteCommand {
  return { argv: ['sh', '-c', PROBE_SH, 'man8s-probe', ...paths] };
}

const KIND: Record<string, ProbedPath['kind']> = { d: 'dir', f: 'file', l: 'symlink', o: 'other', '-': 'missing' };

export function parseProbe(out: string): Map<string, ProbedPath> {
  const map = new Map<string, ProbedPath>();
  for (const line of out.split('\n')) {
    const [path, k, bytes] = line.split('\t');
    if (!path || !k) continue;
    map.set(path, { path, kind: KIND[k] ?? 'other', bytes: Number(bytes ?? 0) || 0 });
  }
  return map;
}

export interface Manifest {
  path: string;
  exists: boolean;
  /** Entries below and including the path (files, folders, links, sockets…). */
  entries: number;
  /** Sum of regular file sizes. */
  bytes: number;
  /**
   * sha256 of the sorted listing of type, mode, uid, gid, size, link count and link target of every
   * entry (and with --checksum, of every file's sha256): equal digests = equal trees, ownership and all.
   */
  digest: string;
}

/**
 * Paths in the listing are relative to the unit's parent, so hosts with different storage paths compare
 * line for line. A folder's size and link count are left out: they depend on the filesystem (ext4 vs
 * btrfs), not on the content. Times are left out too: rsync -a keeps them, and a folder's mtime changes
 * whenever the container touches it, which proves nothing about the data.
 */
const MANIFEST_SH = String.raw`
sum=$1; shift
for p in "$@"; do
  if [ ! -e "$p" ] && [ ! -L "$p" ]; then printf '%s\t-\t0\t0\t-\n' "$p"; continue; fi
  n=$(find "$p" | wc -l | tr -d ' ')
  b=$(find "$p" -type f -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')
  d=$( { (cd "$(dirname "$p")" && find "$(basename "$p")" \( -type d -printf '%y %m %U %G %P\n' \) -o -printf '%y %m %U %G %s %n %P -> %l\n') | LC_ALL=C sort
         if [ "$sum" = 1 ]; then (cd "$(dirname "$p")" && find "$(basename "$p")" -type f -exec sha256sum -- {} +) | LC_ALL=C sort; fi
       } | sha256sum | cut -c1-64)
  printf '%s\t%s\t%s\t%s\t%s\n' "$p" d "$n" "$b" "$d"
done
`;

export function manifestCommand(paths: readonly string[], checksum: boolean): RemoteCommand {
  return { argv: ['sh', '-c', MANIFEST_SH, 'man8s-manifest', checksum ? '1' : '0', ...paths] };
}

export function parseManifest(out: string): Map<string, Manifest> {
  const map = new Map<string, Manifest>();
  for (const line of out.split('\n')) {
    const [path, k, n, b, d] = line.split('\t');
    if (!path || !k) continue;
    map.set(path, { path, exists: k !== '-', entries: Number(n) || 0, bytes: Number(b) || 0, digest: d ?? '' });
  }
  return map;
}

export interface VerifyResult {
  ok: boolean;
  entries: number;
  bytes: number;
  /** One line per unit that differs. */
  differences: string[];
}

/** Pure: the source's manifest of each unit against the target's. */
export function compareManifests(units: ReadonlyArray<Pick<CopyUnit, 'fromPath' | 'toPath'>>, src: Map<string, Manifest>, dst: Map<string, Manifest>): VerifyResult {
  const differences: string[] = [];
  let entries = 0;
  let bytes = 0;
  for (const u of units) {
    const a = src.get(u.fromPath);
    const b = dst.get(u.toPath);
    if (!a || !a.exists) {
      if (b?.exists) differences.push(`${u.toPath}: exists on the target but not on the source`);
      continue;
    }
    entries += a.entries;
    bytes += a.bytes;
    if (!b || !b.exists) differences.push(`${u.toPath}: missing on the target`);
    else if (a.entries !== b.entries) differences.push(`${u.toPath}: ${a.entries} entries on the source, ${b.entries} on the target`);
    else if (a.bytes !== b.bytes) differences.push(`${u.toPath}: ${a.bytes} bytes on the source, ${b.bytes} on the target`);
    else if (a.digest !== b.digest) differences.push(`${u.toPath}: same count and size but different ownership, modes, links or content`);
  }
  return { ok: differences.length === 0, entries, bytes, differences };
}

// ---------------------------------------------------------------- running rsync

export interface CopyRun {
  stats: RsyncStats;
  seconds: number;
}

const EXIT_MEANING: Record<number, string> = {
  12: 'error in the rsync protocol data stream (often: ssh from the source to the target failed)',
  23: 'partial transfer: some files could not be copied',
  24: 'some source files vanished during the copy',
  255: 'ssh failed',
};

function copyError(where: string, code: number, stderr: string, direct: boolean): UserError {
  const last = stderr.trim().split('\n').filter(Boolean).slice(-3).join(' / ');
  let fix = 'run again with --verbose to see rsync and ssh output';
  if (/Permission denied \(publickey|Host key verification failed|Could not resolve|Connection refused|No route/i.test(stderr) && direct) {
    fix =
      'the source host could not ssh to the target: give the source host\'s root a key the target accepts (authorized_keys), or copy through this machine with --via-local';
  } else if (/No space left/i.test(stderr)) fix = 'free disk space on the target';
  else if (/rsync: (command )?not found|rsync: not found/i.test(stderr) || code === 127) fix = 'install rsync on both hosts';
  return new UserError(`${where}: copy failed (rsync exit ${code}: ${EXIT_MEANING[code] ?? 'error'})${last ? `: ${last}` : ''}; ${fix}`);
}

/** A remote process's pid file, so a resumed or aborted run can stop an rsync a killed run left behind. */
export function pidFile(statePath: string, name: string): string {
  return `${statePath}/migrate/${name}.rsync.pid`;
}

/** Kills the rsync a previous run started on the host, if it still runs. */
export function killLeftoverCommand(pidPath: string): RemoteCommand {
  const script = String.raw`
[ -f "$1" ] || exit 0
pid=$(cat "$1")
case $pid in ''|*[!0-9]*) rm -f "$1"; exit 0;; esac
if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q rsync; then
  kill -TERM -"$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
  i=0; while [ -d "/proc/$pid" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null
  echo killed "$pid"
fi
rm -f "$1"
`;
  return { argv: ['sh', '-c', script, 'man8s-kill-rsync', pidPath] };
}

function progressSplitter(onProgress?: (p: RsyncProgress) => void): { feed: (chunk: Buffer) => void; text: () => string } {
  let partial = '';
  let all = '';
  return {
    feed(chunk) {
      const s = chunk.toString('utf8');
      all += s;
      const parts = (partial + s).split(/[\r\n]/);
      partial = parts.pop() ?? '';
      if (!onProgress) return;
      for (const p of parts) {
        const prog = parseProgress2(p);
        if (prog) onProgress(prog);
      }
    },
    text: () => all,
  };
}

/** The argv run on the source host for a direct copy: rsync in its own process group, pid recorded, waited for. */
export function directCopyCommand(pidPath: string, rsyncArgv: readonly string[]): string[] {
  return ['setsid', '--wait', 'sh', '-c', 'p=$1; shift; mkdir -p "$(dirname "$p")"; echo $$ >"$p"; exec "$@"', 'man8s-copy', pidPath, ...rsyncArgv];
}

/**
 * The argv run on the source host to prove, before anything changes, that it can reach the target the
 * way the copy will (same ssh options, same pinned host key).
 */
export function reachTargetArgv(to: RshHost): string[] {
  return [...rshArgv(to), to.alias, 'true'];
}

/**
 * The refusal when the source cannot reach the target (reachTargetArgv failed): ssh's own last word
 * (its `Warning:` lines are noise), and the two ways out.
 */
export function directReachError(from: string, to: string, rsh: RshHost, r: { code: number; stderr: string }): UserError {
  const why = r.stderr.trim().split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('Warning:')).slice(-1)[0] ?? `ssh exit ${r.code}`;
  return new UserError(
    `${from} cannot ssh to ${to} (${rsh.user ? `${rsh.user}@` : ''}${rsh.alias} port ${rsh.port}) for the direct copy: ${why}; ` +
      `give ${from}'s root a key that ${to} accepts (its authorized_keys), or copy through this machine with --via-local`,
  );
}

/**
 * Runs a direct copy on the source host. `setsid` makes rsync lead its own process group, whose id goes
 * to the pid file: a later run kills the group (rsync and its ssh) if this one was killed mid-copy.
 * `--wait` matters: the login shell is already a group leader, so setsid forks, and without it the
 * parent would exit 0 at once while rsync went on unobserved (its exit code lost).
 */
export async function runDirectCopy(
  conn: Connection,
  argv: string[],
  o: { pidPath: string; okCodes: number[]; onProgress?: (p: RsyncProgress) => void; signal?: AbortSignal },
): Promise<CopyRun> {
  const started = Date.now();
  const out = progressSplitter(o.onProgress);
  let stderr = '';
  const code = await conn.stream(directCopyCommand(o.pidPath, argv), {
    onStdout: out.feed,
    onStderr: (c) => (stderr += c.toString('utf8')),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (o.signal?.aborted) throw new UserError(`${conn.host}: copy interrupted`, 130);
  if (code !== 0 && !o.okCodes.includes(code)) throw copyError(`${conn.host} → target`, code, stderr, true);
  return { stats: parseStats(out.text()), seconds: (Date.now() - started) / 1000 };
}

/** Runs a local rsync (via-local mode). */
export function runLocalCopy(
  argv: string[],
  o: { label: string; okCodes: number[]; onProgress?: (p: RsyncProgress) => void; signal?: AbortSignal },
): Promise<CopyRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...(o.signal ? { signal: o.signal } : {}) });
    const out = progressSplitter(o.onProgress);
    let stderr = '';
    child.stdout.on('data', out.feed);
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') reject(new UserError(`${o.label}: rsync is not installed on this machine; install rsync (needed by --via-local)`));
      else if (err.name === 'AbortError') reject(new UserError(`${o.label}: copy interrupted`, 130));
      else reject(err);
    });
    child.on('close', (code, signal) => {
      const c = code ?? (signal ? 20 : 255);
      if (c !== 0 && !o.okCodes.includes(c)) reject(copyError(o.label, c, stderr, false));
      else resolve({ stats: parseStats(out.text()), seconds: (Date.now() - started) / 1000 });
    });
  });
}
