/**
 * Observes a host in ONE remote command: a POSIX sh script (fed on stdin, GNU find/coreutils assumed, no
 * python or jq) that prints every fact plan needs, and a pure parser that turns its output into Observed.
 *
 * Output framing: a magic line, then sections `@@man8s <name> <rc> <outBytes> <errBytes>\n` followed by
 * exactly that many bytes of stdout and stderr. Byte lengths (not delimiters) make file names with
 * newlines, NULs-free binary junk, or text that looks like a header harmless; inside the tree sections
 * fields are NUL-terminated, the one byte a path cannot contain.
 *
 * Cost: sha256sum reads every conf/plugin file on every observe. Config trees are small (kilobytes to a
 * few MB), so this is milliseconds and buys exact drift detection without trusting mtimes (git checkouts
 * rewrite mtimes; operators edit in place). Data, log and cache trees, which can be huge, are never read.
 */
import type { Engine, MountType, SyncedType, TreeEntry, HostSettings } from '../fleet/model.js';
import { MOUNT_TYPES, SYNCED_TYPES } from '../fleet/model.js';
import { UserError } from '../errors.js';
import { MANAGED_LABEL, type ComposeFlavor } from './engine.js';
import { LOCK_STATE_SH, TAKE_LOCK_SH, parseLockResponse, type LockHolder, type LockResponse } from './lock.js';
import { hostPaths, LOCK_DIR, STARTED_FILES } from './paths.js';
import type { Observed, ObservedContainer } from './observed.js';
import { ENGINE_SH } from './engine-probe.js';
import type { Connection, RemoteCommand } from './transport.js';

export const OBSERVE_MAGIC = 'man8s-observe 1\n';

export const OBSERVE_SCRIPT = String.raw`
SP=$1; ENGINE=$2; NS=$3; SNAP=$4; LOCKDIR=$5; STATE=$6; YGGEP=$7
shift 7; LOCKJ=$1; LOCKTTL=$2; LOCKTOKEN=$3
COMPOSE_CACHE=$STATE/cache/compose-version
T=$(mktemp -d 2>/dev/null || mktemp -d -t man8s.XXXXXX) || { echo "man8s-observe: mktemp failed" >&2; exit 70; }
trap 'rm -rf "$T"' EXIT
${LOCK_STATE_SH}
${TAKE_LOCK_SH}
sec() {
  n=$1; shift
  "$@" >"$T/o" 2>"$T/e"; rc=$?
  printf '@@man8s %s %s %s %s\n' "$n" "$rc" "$(wc -c <"$T/o" | tr -d ' ')" "$(wc -c <"$T/e" | tr -d ' ')"
  cat "$T/o" "$T/e"
}
${ENGINE_SH}
meta() { printf 'hostname=%s\ntime=%s\n' "$(uname -n)" "$(date +%s)"; }
storage() {
  [ -d "$SP" ] || return 3
  find "$SP" -mindepth 1 -maxdepth 1 -printf '%y %P\0'
}
tree() (
  [ -d "$SP/$1" ] || exit 3
  cd "$SP/$1" && find . -mindepth 1 -printf '%y\0%m\0%s\0%P\0%l\0'
)
hashes() (
  [ -d "$SP/$1" ] || exit 3
  cd "$SP/$1" && find . -type f -exec sha256sum -z -- {} +
)
MANAGED=
containers() {
  if [ "$ENGINE" = nerdctl ]; then command -v nerdctl >/dev/null 2>&1 || return 3
  else command -v docker >/dev/null 2>&1 || return 3; fi
  MANAGED=$(e ps -a --no-trunc --filter "label=io.man8s.managed=true" --format '{{.ID}}') || return 1
  named=$(e ps -a --no-trunc --format '{{.ID}} {{.Names}}') || return 1
  extra=$(printf '%s\n' "$named" | while read -r id name; do
    [ -n "$name" ] && [ -d "$SP/conf/$name" ] && echo "$id"
  done)
  all=$(printf '%s\n%s\n' "$MANAGED" "$extra" | grep -v '^$' | sort -u)
  if [ -z "$all" ]; then echo '[]'; return 0; fi
  e inspect $all
}
images() {
  [ -n "$MANAGED" ] || return 0
  e inspect --format '{{.Config.Image}}' $MANAGED | sort -u | while IFS= read -r ref; do
    [ -n "$ref" ] || continue
    id=$(e image inspect --format '{{.Id}}' "$ref" 2>/dev/null) || id=
    printf '%s\t%s\n' "$ref" "$id"
  done
}
ygg() {
  command -v yggdrasilctl >/dev/null 2>&1 || return 3
  to=; command -v timeout >/dev/null 2>&1 && to="timeout 5"
  if [ -n "$YGGEP" ]; then $to yggdrasilctl -endpoint "$YGGEP" -json getSelf; else $to yggdrasilctl -json getSelf; fi
}
disk() {
  d=$SP
  while [ ! -e "$d" ]; do d=$(dirname "$d"); done
  df -Pk "$d"
}
composefiles() (
  [ -d "$STATE/compose" ] || exit 0
  cd "$STATE/compose" && find . -mindepth 2 -maxdepth 2 -name compose.yaml -type f -exec sha256sum -z -- {} +
)
startedfiles() (
  [ -d "$STATE/compose" ] || exit 0
  cd "$STATE/compose" && for f in */${STARTED_FILES}; do
    [ -f "$f" ] && printf '%s %s\n' "$(dirname "$f")" "$(head -c 64 "$f")"
  done
  exit 0
)
printf 'man8s-observe 1\n'
# A deploy takes its lock first, in the same round trip; a lock held by another deploy ends it here.
if [ -n "$LOCKJ" ]; then
  sec takelock take_lock "$LOCKDIR" "$LOCKJ" "$LOCKTTL" 0 "$LOCKTOKEN"
  [ "$rc" -eq 0 ] || exit 0
fi
sec meta meta
sec storage storage
sec tree.conf tree conf
sec hash.conf hashes conf
sec tree.plugin tree plugin
sec hash.plugin hashes plugin
sec engine engine
sec containers containers
sec images images
sec ygg ygg
sec lock lock_state "$LOCKDIR"
sec disk disk
sec compose composefiles
sec started startedfiles
exit 0
`;

export interface ObserveOptions {
  storagePath: string;
  engine: Engine;
  /** nerdctl namespace and snapshotter (ignored for docker). */
  namespace?: string;
  snapshotter?: string;
  lockDir?: string;
  /** Defaults to hostPaths(storagePath).state. */
  stateDir?: string;
  /** yggdrasilctl -endpoint, when the admin socket is not the default. */
  yggEndpoint?: string;
  /** Take the deploy lock for this holder first (lockAndObserveHost). */
  lockFor?: LockHolder;
}

/** The observe options of a fleet host: its storage path, engine and nerdctl namespace/snapshotter. */
export function observeOptions(settings: Pick<HostSettings, 'storage_path' | 'engine' | 'nerdconfig'>): ObserveOptions {
  return { storagePath: settings.storage_path, engine: settings.engine, namespace: settings.nerdconfig.namespace, snapshotter: settings.nerdconfig.snapshotter };
}

export function observeCommand(o: ObserveOptions): RemoteCommand {
  const paths = hostPaths(o.storagePath);
  return {
    argv: [
      'sh',
      '-s',
      '--',
      paths.storage,
      o.engine,
      o.namespace ?? 'man8s.io',
      o.snapshotter ?? 'btrfs',
      o.lockDir ?? LOCK_DIR,
      o.stateDir ?? paths.state,
      o.yggEndpoint ?? '',
      ...(o.lockFor ? [JSON.stringify(o.lockFor), String(o.lockFor.ttl), o.lockFor.token] : []),
    ],
    stdin: OBSERVE_SCRIPT,
  };
}

export interface Section {
  rc: number;
  out: Buffer;
  err: Buffer;
}

/** Pure: splits the framed output into sections. */
export function splitSections(buf: Buffer): Map<string, Section> {
  const start = buf.indexOf(OBSERVE_MAGIC);
  if (start < 0) throw new Error('observe output has no man8s-observe header');
  let pos = start + OBSERVE_MAGIC.length;
  const out = new Map<string, Section>();
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`observe output truncated at byte ${pos}`);
    const header = buf.subarray(pos, nl).toString('latin1');
    const m = /^@@man8s (\S+) (\d+) (\d+) (\d+)$/.exec(header);
    if (!m) throw new Error(`observe output: bad section header ${JSON.stringify(header.slice(0, 80))}`);
    const outLen = Number(m[3]);
    const errLen = Number(m[4]);
    const body = nl + 1;
    if (body + outLen + errLen > buf.length) throw new Error(`observe output truncated in section ${m[1]}`);
    out.set(m[1]!, {
      rc: Number(m[2]),
      out: buf.subarray(body, body + outLen),
      err: buf.subarray(body + outLen, body + outLen + errLen),
    });
    pos = body + outLen + errLen;
  }
  return out;
}

function nulFields(buf: Buffer): string[] {
  const s = buf.toString('utf8');
  const parts = s.split('\0');
  if (parts[parts.length - 1] === '') parts.pop();
  return parts;
}

function keyValues(buf: Buffer): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of buf.toString('utf8').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
  }
  return kv;
}

/** `<hex>  ./path\0` records from sha256sum -z, keyed by path without the leading `./`. */
export function parseSha256z(buf: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (const rec of nulFields(buf)) {
    const m = /^([0-9a-f]{64}) [ *](.*)$/s.exec(rec);
    if (!m) continue;
    out.set(m[2]!.replace(/^\.\//, ''), m[1]!);
  }
  return out;
}

const KINDS: Record<string, TreeEntry['kind']> = { f: 'file', d: 'dir', l: 'symlink' };

/** Pure: one type's find -printf records + hashes → entries per container folder. */
export function parseTree(
  tree: Buffer,
  hashes: Map<string, string>,
  warnings: string[],
  type: SyncedType,
): { byName: Record<string, TreeEntry[]>; stray: string[] } {
  const f = nulFields(tree);
  const byName: Record<string, TreeEntry[]> = {};
  const stray: string[] = [];
  for (let i = 0; i + 4 < f.length; i += 5) {
    const [y, mode, size, rel, target] = [f[i]!, f[i + 1]!, f[i + 2]!, f[i + 3]!, f[i + 4]!];
    const slash = rel.indexOf('/');
    if (slash < 0) {
      if (y === 'd') byName[rel] ??= [];
      else stray.push(`${type}/${rel}`);
      continue;
    }
    const name = rel.slice(0, slash);
    const path = rel.slice(slash + 1);
    const kind = KINDS[y];
    if (!kind) {
      warnings.push(`${type}/${rel}: not a file, folder or symlink (find type ${y}); ignored`);
      continue;
    }
    const entry: TreeEntry = { path, kind, mode: parseInt(mode, 8) };
    if (kind === 'file') {
      entry.size = Number(size);
      const h = hashes.get(rel);
      if (h) entry.sha256 = h;
      else warnings.push(`${type}/${rel}: could not be read to hash it`);
    } else if (kind === 'symlink') entry.target = target;
    (byName[name] ??= []).push(entry);
  }
  for (const list of Object.values(byName)) list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { byName, stray };
}

interface InspectJson {
  Id?: string;
  Name?: string;
  Created?: string;
  Image?: string;
  State?: { Status?: string; Running?: boolean; ExitCode?: number; StartedAt?: string; FinishedAt?: string; Health?: { Status?: string } };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
}

/** Pure: `docker/nerdctl inspect` JSON array → containers. */
export function parseInspect(json: string): ObservedContainer[] {
  const text = json.trim();
  if (text === '') return [];
  const arr = JSON.parse(text) as InspectJson[];
  return arr.map((c) => {
    const labels = c.Config?.Labels ?? {};
    const s = c.State ?? {};
    return {
      name: (c.Name ?? '').replace(/^\//, ''),
      id: c.Id ?? '',
      state: s.Status ?? 'unknown',
      running: s.Running === true,
      ...(s.ExitCode !== undefined ? { exitCode: s.ExitCode } : {}),
      ...(s.StartedAt ? { startedAt: s.StartedAt } : {}),
      ...(s.FinishedAt ? { finishedAt: s.FinishedAt } : {}),
      ...(s.Health?.Status ? { health: s.Health.Status } : {}),
      image: c.Config?.Image ?? '',
      imageId: c.Image ?? '',
      labels,
      created: c.Created ?? '',
      managed: labels[MANAGED_LABEL] === 'true',
    };
  });
}

/** yggdrasil ≥ 0.5 prints {"address": …}; 0.4 printed {"self": {"<address>": {…}}}. */
export function parseYggSelf(json: string): string | undefined {
  try {
    const o = JSON.parse(json) as { address?: unknown; self?: Record<string, unknown> };
    if (typeof o.address === 'string') return o.address;
    if (o.self && typeof o.self === 'object') return Object.keys(o.self).find((k) => k.includes(':'));
  } catch {
    // not JSON
  }
  return undefined;
}

export function parseDf(text: string): { availableBytes: number; totalBytes: number } | undefined {
  const line = text.trim().split('\n')[1];
  const m = line && /^(.*?)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+(.*)$/.exec(line);
  if (!m) return undefined;
  return { totalBytes: Number(m[2]) * 1024, availableBytes: Number(m[4]) * 1024 };
}

function errText(s: Section): string {
  return s.err.toString('utf8').trim().split('\n').slice(-3).join(' ');
}

/** Pure: the whole observe output → Observed. */
export function parseObserveOutput(buf: Buffer, o: { storagePath: string; engine: Engine }): Observed {
  const sections = splitSections(buf);
  const warnings: string[] = [];
  const sec = (name: string): Section => sections.get(name) ?? { rc: 255, out: Buffer.alloc(0), err: Buffer.from(`section ${name} missing`) };

  const meta = keyValues(sec('meta').out);
  const st = sec('storage');
  const folders = Object.fromEntries(MOUNT_TYPES.map((t) => [t, false])) as Record<MountType, boolean>;
  const extras: string[] = [];
  if (st.rc === 0) {
    for (const rec of nulFields(st.out)) {
      const type = rec[0];
      const name = rec.slice(2);
      if (type === 'd' && (MOUNT_TYPES as readonly string[]).includes(name)) folders[name as MountType] = true;
      else extras.push(name);
    }
  }

  const trees = { conf: {}, plugin: {} } as Observed['trees'];
  const strayTreeEntries: string[] = [];
  for (const type of SYNCED_TYPES) {
    const t = sec(`tree.${type}`);
    if (t.rc === 3) continue; // folder missing
    if (t.rc !== 0) warnings.push(`listing ${type}/ failed: ${errText(t)}`);
    const h = sec(`hash.${type}`);
    if (h.rc !== 0 && h.rc !== 3) warnings.push(`hashing ${type}/ files failed: ${errText(h)}`);
    const { byName, stray } = parseTree(t.out, parseSha256z(h.out), warnings, type);
    trees[type] = byName;
    strayTreeEntries.push(...stray);
  }

  const ek = keyValues(sec('engine').out);
  const engine: Observed['engine'] = { kind: o.engine, present: ek.present === '1' };
  if (ek.version) engine.version = ek.version;
  if (ek.compose) engine.compose = ek.compose as ComposeFlavor;
  if (ek.compose_version) engine.composeVersion = ek.compose_version;
  if (ek.error) engine.error = ek.error.trim();

  let all: ObservedContainer[] = [];
  const cs = sec('containers');
  if (cs.rc === 0) {
    try {
      all = parseInspect(cs.out.toString('utf8'));
    } catch (err) {
      warnings.push(`could not parse the engine's container list: ${(err as Error).message}`);
    }
  } else if (cs.rc !== 3) {
    warnings.push(`listing containers failed: ${errText(cs)}`);
    engine.error ??= errText(cs);
  }

  const imageIds: Record<string, string> = {};
  for (const line of sec('images').out.toString('utf8').split('\n')) {
    const tab = line.indexOf('\t');
    if (tab > 0 && line.slice(tab + 1)) imageIds[line.slice(0, tab)] = line.slice(tab + 1);
  }

  const yg = sec('ygg');
  const ygg: Observed['ygg'] = { present: yg.rc !== 3 };
  if (yg.rc === 0) {
    const address = parseYggSelf(yg.out.toString('utf8'));
    if (address) ygg.address = address;
    else ygg.error = errText(yg) || 'yggdrasilctl getSelf printed no address';
  } else if (yg.rc !== 3) ygg.error = errText(yg) || `yggdrasilctl exited ${yg.rc}`;

  let lock: Observed['lock'] = { status: 'free' };
  try {
    lock = parseLockResponse(sec('lock').out.toString('utf8'));
  } catch {
    warnings.push('could not read the lock state');
  }

  const disk = parseDf(sec('disk').out.toString('utf8'));
  const composeFiles: Record<string, string> = {};
  for (const [path, hash] of parseSha256z(sec('compose').out)) {
    const name = path.split('/')[0];
    if (name) composeFiles[name] = hash;
  }
  const startedFiles: Record<string, string> = {};
  for (const line of sec('started').out.toString('utf8').split('\n')) {
    const m = /^(\S+) ([0-9a-f]{64})$/.exec(line);
    if (m) startedFiles[m[1]!] = m[2]!;
  }

  return {
    hostname: meta.hostname ?? '',
    time: Number(meta.time ?? 0),
    storage: { path: o.storagePath, exists: st.rc === 0, folders, extras: extras.sort() },
    trees,
    strayTreeEntries: strayTreeEntries.sort(),
    engine,
    containers: all.filter((c) => c.managed).sort((a, b) => a.name.localeCompare(b.name)),
    unlabeled: all.filter((c) => !c.managed).sort((a, b) => a.name.localeCompare(b.name)),
    imageIds,
    ygg,
    lock,
    ...(disk ? { disk } : {}),
    composeFiles,
    startedFiles,
    warnings,
  };
}

async function runObserve(conn: Connection, o: ObserveOptions & { timeoutMs?: number }): Promise<Buffer> {
  const cmd = observeCommand(o);
  const r = await conn.runRaw(cmd.argv, { stdin: cmd.stdin!, timeoutMs: o.timeoutMs ?? 120_000 });
  if (r.stdout.indexOf(OBSERVE_MAGIC) < 0) {
    const why = r.stderr.toString('utf8').trim().split('\n').slice(-3).join(' ') || `exit ${r.code}`;
    throw new UserError(`${conn.host}: observing the host failed (${why}); the host needs a POSIX sh with GNU find and coreutils`);
  }
  return r.stdout;
}

function parseOrFail(conn: Connection, out: Buffer, o: ObserveOptions): Observed {
  try {
    return parseObserveOutput(out, o);
  } catch (err) {
    throw new UserError(`${conn.host}: could not understand the host's observe output (${(err as Error).message}); run again with --verbose and report it`);
  }
}

/** Observes a host over its connection: one remote command. */
export async function observeHost(conn: Connection, o: ObserveOptions & { timeoutMs?: number }): Promise<Observed> {
  const { lockFor: _none, ...plain } = o;
  return parseOrFail(conn, await runObserve(conn, plain), plain);
}

/**
 * Takes the deploy lock for `holder` and observes, in ONE remote command. When another live deploy
 * holds the lock, nothing is observed: the answer is the lock's state (status held), for the caller to
 * wait and retry.
 */
export async function lockAndObserveHost(conn: Connection, o: ObserveOptions & { timeoutMs?: number }, holder: LockHolder): Promise<{ lock: LockResponse; observed?: Observed }> {
  const out = await runObserve(conn, { ...o, lockFor: holder });
  let lock: LockResponse;
  try {
    const taking = splitSections(out).get('takelock');
    if (!taking) throw new Error('no takelock section');
    lock = parseLockResponse(taking.out.toString('utf8'));
  } catch (err) {
    throw new UserError(`${conn.host}: could not take the deploy lock (${(err as Error).message}); run again with --verbose and report it`);
  }
  if (lock.status !== 'taken' && lock.status !== 'took-over') return { lock };
  return { lock, observed: parseOrFail(conn, out, o) };
}
