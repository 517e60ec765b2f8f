/**
 * Per-host deploy lock: a folder under /run/lock (tmpfs, so a reboot ends every holder), taken with
 * `mkdir` (atomic) inside `flock` on a guard file, so that "is the holder stale? then take it over" is
 * one atomic step on the host even when two deploys race for a stale lock.
 *
 * Lock folder contents:
 *   holder.json  who/host/pid/commit/startedAt/ttl/token, for messages
 *   token        the holder's random token: release and refresh only act on a lock they own
 *   expires      epoch seconds (host clock), startedAt + ttl
 *   session      "pid starttime" of the sshd process serving the holder's connection
 *
 * Stale = past `expires`, or the holder's sshd session process is gone (its connection dropped: laptop
 * closed, CI job killed). The session is found from the host side by walking up the lock command's
 * parents to the nearest sshd process; its start time guards against pid reuse. When no sshd ancestor
 * exists (run locally), the session is "unknown" and only the TTL applies.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { UserError } from '../errors.js';
import { LOCK_DIR } from './paths.js';
import type { RemoteCommand } from './transport.js';

export interface LockHolder {
  /** user@machine of whoever runs man8s. */
  who: string;
  /** The fleet host the lock is for. */
  host: string;
  /** Local process id of the man8s run. */
  pid: number;
  commit?: string;
  /** ISO time on the machine running man8s. */
  startedAt: string;
  /** Seconds until the lock counts as stale even with a live session. */
  ttl: number;
  token: string;
}

export type LockResponseStatus = 'taken' | 'took-over' | 'held' | 'released' | 'not-owner' | 'free' | 'refreshed' | 'stale';

export interface LockResponse {
  status: LockResponseStatus;
  /** Why a lock is held/stale: expired, session-gone, session-alive, session-unknown. */
  reason?: string;
  /** The holder found on the host (the previous one for took-over). */
  holder?: LockHolder;
  /** Seconds until the found lock expires (negative when expired). */
  expiresIn?: number;
}

export function newLockHolder(o: { host: string; ttlSec?: number; commit?: string; now?: Date; who?: string }): LockHolder {
  return {
    who: o.who ?? `${userInfo().username}@${hostname()}`,
    host: o.host,
    pid: process.pid,
    ...(o.commit ? { commit: o.commit } : {}),
    startedAt: (o.now ?? new Date()).toISOString(),
    ttl: o.ttlSec ?? 3600,
    token: randomBytes(12).toString('hex'),
  };
}

/**
 * Shell functions shared by the lock commands and the observe script: `lock_state DIR` prints
 * `status=… reason=… expires_in=…` and `holder=<json>` lines.
 */
export const LOCK_STATE_SH = String.raw`
man8s_stat_field() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f "$2"; }
man8s_session() {
  p=$$
  while [ "$p" -gt 1 ] 2>/dev/null; do
    c=$(cat "/proc/$p/comm" 2>/dev/null) || break
    case $c in sshd*) echo "$p $(man8s_stat_field "$p" 20)"; return 0;; esac
    p=$(man8s_stat_field "$p" 2)
  done
  echo "0 0"
}
man8s_alive() {
  [ "$1" -gt 0 ] 2>/dev/null || return 2
  t=$(man8s_stat_field "$1" 20)
  [ -n "$t" ] && [ "$t" = "$2" ]
}
lock_state() {
  if [ ! -d "$1" ]; then echo "status=free"; return 0; fi
  now=$(date +%s)
  exp=$(cat "$1/expires" 2>/dev/null) || exp=0
  case $exp in ''|*[!0-9]*) exp=0;; esac
  spid=0; sstart=0
  [ -r "$1/session" ] && read -r spid sstart <"$1/session"
  if [ "$now" -ge "$exp" ]; then st="status=stale reason=expired"
  else
    man8s_alive "$spid" "$sstart"; rc=$?
    if [ $rc -eq 1 ]; then st="status=stale reason=session-gone"
    elif [ $rc -eq 0 ]; then st="status=held reason=session-alive"
    else st="status=held reason=session-unknown"; fi
  fi
  echo "$st expires_in=$((exp - now))"
  printf 'holder=%s\n' "$(head -n 1 "$1/holder.json" 2>/dev/null)"
}
`;

/** Serialises the critical section when flock exists (util-linux / busybox); mkdir alone is still atomic. */
const GUARD_SH = String.raw`
mkdir -p "$(dirname "$L")"
if command -v flock >/dev/null 2>&1; then exec 9>"$L.guard"; flock -w 30 9 || { echo "status=error reason=guard-timeout"; exit 4; }; fi
`;

/**
 * `take_lock DIR HOLDER_JSON TTL FORCE TOKEN` (a subshell, so the guard's flock ends with it): prints
 * `status=taken`, or `status=took-over reason=<why>` + the previous holder (stale, or force), or
 * `status=held …` + the holder and returns 3. Shared by takeLockCommand and the observe script, which
 * takes the lock and observes in one round trip.
 */
export const TAKE_LOCK_SH = String.raw`
take_lock() (
  L=$1; J=$2; TTL=$3; FORCE=$4; TOKEN=$5
${GUARD_SH}
  prev=""
  if [ -d "$L" ]; then
    st=$(lock_state "$L")
    case $st in
      status=held*) if [ "$FORCE" != 1 ]; then printf "%s\n" "$st"; exit 3; fi;;
    esac
    prev=$st; rm -rf "$L"
  fi
  mkdir "$L" || { echo "status=error reason=mkdir-failed"; exit 4; }
  printf "%s\n" "$J" >"$L/holder.json"
  printf "%s\n" "$TOKEN" >"$L/token"
  man8s_session >"$L/session"
  echo $(( $(date +%s) + TTL )) >"$L/expires"
  if [ -n "$prev" ]; then
    printf "%s\n" "$prev" | sed "1s/^status=[a-z]*/status=took-over/"
  else echo "status=taken"; fi
)
`;

/** Takes the lock (see TAKE_LOCK_SH for what it prints); exit 3 = held by another live deploy. */
export function takeLockCommand(holder: LockHolder, o: { dir?: string; force?: boolean } = {}): RemoteCommand {
  const script = [LOCK_STATE_SH, TAKE_LOCK_SH, 'take_lock "$@"'].join('\n');
  return { argv: ['sh', '-c', script, 'man8s-lock', o.dir ?? LOCK_DIR, JSON.stringify(holder), String(holder.ttl), o.force ? '1' : '0', holder.token] };
}

/** Releases a lock this run owns (token), or any lock with force (`man8s unlock`). Exit 3 = not ours. */
export function releaseLockCommand(token: string | undefined, o: { dir?: string; force?: boolean } = {}): RemoteCommand {
  const script = [
    LOCK_STATE_SH,
    'L=$1; TOKEN=$2; FORCE=$3',
    GUARD_SH,
    'if [ ! -d "$L" ]; then echo "status=free"; exit 0; fi',
    'if [ "$FORCE" = 1 ] || [ "$(cat "$L/token" 2>/dev/null)" = "$TOKEN" ]; then',
    '  st=$(lock_state "$L"); rm -rf "$L"',
    '  printf "%s\\n" "$st" | sed "1s/^status=[a-z]*/status=released/"; exit 0',
    'fi',
    'lock_state "$L" | sed "1s/^status=[a-z]*/status=not-owner/"; exit 3',
  ].join('\n');
  return { argv: ['sh', '-c', script, 'man8s-unlock', o.dir ?? LOCK_DIR, token ?? '', o.force ? '1' : '0'] };
}

/** Extends a lock this run owns by its TTL from now (long deploys). Exit 3 = not ours any more. */
export function refreshLockCommand(holder: LockHolder, o: { dir?: string } = {}): RemoteCommand {
  const script = [
    'L=$1; TOKEN=$2; TTL=$3',
    'if [ "$(cat "$L/token" 2>/dev/null)" != "$TOKEN" ]; then echo "status=not-owner"; exit 3; fi',
    'echo $(( $(date +%s) + TTL )) >"$L/expires.new" && mv -f "$L/expires.new" "$L/expires"',
    'echo "status=refreshed"',
  ].join('\n');
  return { argv: ['sh', '-c', script, 'man8s-lock-refresh', o.dir ?? LOCK_DIR, holder.token, String(holder.ttl)] };
}

export function readLockCommand(o: { dir?: string } = {}): RemoteCommand {
  return { argv: ['sh', '-c', `${LOCK_STATE_SH}\nlock_state "$1"`, 'man8s-lock-state', o.dir ?? LOCK_DIR] };
}

function parseHolder(json: string): LockHolder | undefined {
  if (!json) return undefined;
  try {
    const h = JSON.parse(json) as Partial<LockHolder>;
    if (typeof h !== 'object' || h === null || typeof h.who !== 'string') return undefined;
    return h as LockHolder;
  } catch {
    return undefined;
  }
}

/** Pure: parses what the lock commands (and observe's lock section) print. */
export function parseLockResponse(text: string): LockResponse {
  let status: LockResponseStatus | undefined;
  const out: Omit<LockResponse, 'status'> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('holder=')) {
      const h = parseHolder(line.slice('holder='.length));
      if (h) out.holder = h;
      continue;
    }
    for (const m of line.matchAll(/(\w+)=(\S*)/g)) {
      if (m[1] === 'status') status = m[2] as LockResponseStatus;
      else if (m[1] === 'reason') out.reason = m[2]!;
      else if (m[1] === 'expires_in') out.expiresIn = Number(m[2]);
    }
  }
  if (!status) throw new Error(`unexpected lock response: ${JSON.stringify(text.slice(0, 200))}`);
  return { status, ...out };
}

export function describeHolder(h: LockHolder): string {
  return `${h.who} (pid ${h.pid}${h.commit ? `, commit ${h.commit.slice(0, 12)}` : ''}, since ${h.startedAt})`;
}

/** The message for a lock another deploy holds. */
export function lockHeldError(host: string, r: LockResponse): UserError {
  const by = r.holder ? describeHolder(r.holder) : 'an unknown holder';
  return new UserError(
    `${host}: locked by ${by}; wait for it to finish (--lock-wait), or if it is gone run: man8s unlock ${host}`,
  );
}
