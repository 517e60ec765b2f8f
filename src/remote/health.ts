/**
 * "Is it up?" after a deploy step, in ONE remote command per dependency level. The script on the host
 * waits until every container is running, takes a snapshot, waits `settleSec`, then waits for any
 * healthcheck still `starting`, and prints both snapshots. The verdict is a pure function here.
 *
 * Running once is not enough: a container whose command fails right away is restarted by its
 * `unless-stopped` policy and looks `running` between crashes. Equal StartedAt and RestartCount across
 * the settle window is what tells a service that stays up from a crash loop.
 */
import { quoteArgv } from './quote.js';
import { engineCli, type EngineTarget } from './engine.js';
import type { RemoteCommand } from './transport.js';

// `json .State` carries Health only when the image has a healthcheck; the other fields exist on both engines.
const FORMAT = '{{.Name}}|{{.State.Status}}|{{.State.StartedAt}}|{{.RestartCount}}|{{.State.ExitCode}}|{{.Image}}|{{json .State}}';

const WAIT_SH = String.raw`
timeout=$1; settle=$2; shift 2
snap() {
  # docker prints names with a leading /, nerdctl without.
  inspect "$@" 2>/dev/null | sed 's|^/||' | while IFS='|' read -r n st sa rc ec im js; do
    h=$(printf '%s' "$js" | sed -n 's/.*"Health":{"Status":"\([a-z]*\)".*/\1/p')
    printf '%s|%s|%s|%s|%s|%s|%s\n' "$n" "$st" "$sa" "$rc" "$ec" "$h" "$im"
  done
}
end=$(( $(date +%s) + timeout ))
while :; do
  s=$(snap "$@")
  up=$(printf '%s\n' "$s" | awk -F'|' '$2 == "running"' | grep -c .)
  [ "$up" -eq $# ] && break
  [ "$(date +%s)" -ge "$end" ] && break
  sleep 1
done
before=$s
sleep "$settle"
while :; do
  s=$(snap "$@")
  printf '%s\n' "$s" | awk -F'|' '$6 == "starting"' | grep -q . || break
  [ "$(date +%s)" -ge "$end" ] && break
  sleep 1
done
printf 'BEFORE\n%s\nAFTER\n%s\n' "$before" "$s"
`;

export interface WaitOptions {
  /** Give up after this long (whole wait). */
  timeoutSec: number;
  /** How long a container must stay up, unrestarted, to count as started. */
  settleSec: number;
}

export function waitRunningCommand(t: EngineTarget, names: readonly string[], o: WaitOptions): RemoteCommand {
  if (names.length === 0) throw new Error('waitRunningCommand: no containers');
  const inspect = `inspect() { ${quoteArgv([...engineCli(t), 'inspect', '--format', FORMAT])} "$@"; }`;
  return { argv: ['sh', '-c', `${inspect}\n${WAIT_SH}`, 'man8s-wait', String(o.timeoutSec), String(o.settleSec), ...names] };
}

interface Snapshot {
  status: string;
  startedAt: string;
  restarts: number;
  exitCode: string;
  health: string;
  image: string;
}

function parseSnapshots(block: string): Map<string, Snapshot> {
  const map = new Map<string, Snapshot>();
  for (const line of block.split('\n')) {
    const [name, status, startedAt, restarts, exitCode, health, image] = line.split('|');
    if (!name || status === undefined) continue;
    map.set(name, { status, startedAt: startedAt ?? '', restarts: Number(restarts ?? 0), exitCode: exitCode ?? '', health: health ?? '', image: image ?? '' });
  }
  return map;
}

/** `imageId` is the engine's id of the image the container runs (docker: sha256:…). */
export type WaitVerdict = { name: string; ok: true; healthy: boolean; imageId: string } | { name: string; ok: false; reason: string };

/** Each container's verdict from the script's output. */
export function parseWaitOutput(stdout: string, names: readonly string[], o: WaitOptions): WaitVerdict[] {
  const at = stdout.indexOf('BEFORE\n');
  const split = stdout.indexOf('\nAFTER\n');
  const before = parseSnapshots(at >= 0 && split > at ? stdout.slice(at + 7, split) : '');
  const after = parseSnapshots(split >= 0 ? stdout.slice(split + 7) : '');
  return names.map((name): WaitVerdict => {
    const a = after.get(name);
    const b = before.get(name);
    if (!a) return { name, ok: false, reason: 'container not found after compose up' };
    if (a.status !== 'running') {
      const code = a.exitCode !== '' && a.status === 'exited' ? ` with code ${a.exitCode}` : '';
      return { name, ok: false, reason: `${a.status}${code}${a.restarts > 0 ? ` after ${a.restarts} restarts` : ''}` };
    }
    if (!b || b.status !== 'running') return { name, ok: false, reason: `not running within ${o.timeoutSec}s` };
    if (b.startedAt !== a.startedAt || b.restarts !== a.restarts) {
      return { name, ok: false, reason: `restarting: its process exited and was restarted within ${o.settleSec}s (crash loop; see man8s logs ${name})` };
    }
    if (a.health === 'unhealthy') return { name, ok: false, reason: 'healthcheck reports unhealthy' };
    if (a.health === 'starting') return { name, ok: false, reason: `healthcheck still starting after ${o.timeoutSec}s` };
    return { name, ok: true, healthy: a.health === 'healthy', imageId: a.image };
  });
}
