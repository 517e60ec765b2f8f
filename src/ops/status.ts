/**
 * `man8s status`: per host, is it reachable, does its engine answer, is yggdrasil the address git says,
 * what was deployed from which commit compared with HEAD, who holds the deploy lock, and how many of its
 * containers are up. One observe round trip per host; the git side is read locally.
 */
import { relative } from 'node:path';
import type { HostSpec } from '../fleet/model.js';
import type { DeployedRecord } from '../git/deployed.js';
import { DEPLOYED_FILE } from '../git/deployed.js';
import { commitExists, type FleetRepo } from '../git/repo.js';
import { canonicalYggaddr, yggaddrProblem } from '../man8s/ygg.js';
import { describeHolder } from '../remote/lock.js';
import type { Observed } from '../remote/observed.js';

export interface DeployedVsHead {
  /** The commit deployed.yaml records, or null when man8s never deployed this host. */
  commit: string | null;
  deployedAt: string | null;
  head: string | null;
  /** Commits since the deployed one that change this host's folder (deployed.yaml itself not counted); null when unknown. */
  changesSince: number | null;
}

export interface ReachableStatus {
  host: string;
  reachable: true;
  destination: string;
  engine: { kind: string; present: boolean; version: string | null; compose: string | null; composeVersion: string | null; error: string | null };
  yggdrasil: { expected: string; actual: string | null; matches: boolean; error: string | null };
  deployed: DeployedVsHead;
  lock: { status: string; holder: string | null; reason: string | null };
  containers: { up: number; total: number; orphans: number };
  warnings: string[];
}

export interface UnreachableStatus {
  host: string;
  reachable: false;
  error: string;
}

export type HostStatus = ReachableStatus | UnreachableStatus;

/** How the deployed commit relates to HEAD, from git (read only). */
export async function deployedVsHead(repo: FleetRepo | null, host: HostSpec, deployed: DeployedRecord | null, head: string | null): Promise<DeployedVsHead> {
  const base = { commit: deployed?.commit ?? null, deployedAt: deployed?.deployed_at || null, head };
  if (!repo || !deployed || !head) return { ...base, changesSince: null };
  if (!(await commitExists(repo, deployed.commit))) return { ...base, changesSince: null };
  const dir = relative(repo.root, host.dir) || '.';
  const out = await repo.git.raw(['rev-list', '--count', `${deployed.commit}..${head}`, '--', dir, `:(exclude)${dir}/${DEPLOYED_FILE}`]);
  return { ...base, changesSince: Number(out.trim()) };
}

/** Pure: the status of a reachable host. */
export function reachableStatus(host: HostSpec, destination: string, observed: Observed, deployed: DeployedVsHead): ReachableStatus {
  const expected = canonicalYggaddr(host.settings.yggaddr);
  const got = observed.ygg.address;
  const actual = got ? (yggaddrProblem(got) ? got : canonicalYggaddr(got)) : null;
  const inGit = new Set(host.containers.keys());
  const running = new Set(observed.containers.concat(observed.unlabeled).filter((c) => c.running).map((c) => c.name));
  const e = observed.engine;
  return {
    host: host.name,
    reachable: true,
    destination,
    engine: {
      kind: e.kind,
      present: e.present,
      version: e.version || null,
      compose: e.compose ?? null,
      composeVersion: e.composeVersion || null,
      error: e.error ?? null,
    },
    yggdrasil: {
      expected,
      actual,
      matches: actual === expected,
      error: observed.ygg.present ? (observed.ygg.error ?? null) : 'yggdrasilctl not installed',
    },
    deployed,
    lock: {
      status: observed.lock.status,
      holder: observed.lock.holder ? describeHolder(observed.lock.holder) : null,
      reason: observed.lock.reason ?? null,
    },
    containers: {
      up: [...inGit].filter((n) => running.has(n)).length,
      total: inGit.size,
      // As ls counts them: labelled by man8s, or made by mbctl next to a conf folder, and not in git.
      orphans: observed.containers.concat(observed.unlabeled).filter((c) => !inGit.has(c.name)).length,
    },
    warnings: observed.warnings,
  };
}

const short = (c: string | null): string => (c ? c.slice(0, 12) : '-');

function deployedText(d: DeployedVsHead): string {
  if (!d.commit) return `never deployed by man8s (HEAD ${short(d.head)})`;
  const when = d.deployedAt ? ` at ${d.deployedAt}` : '';
  if (d.changesSince === null) return `${short(d.commit)}${when}; not in this clone's history (HEAD ${short(d.head)})`;
  if (d.changesSince === 0) return `${short(d.commit)}${when}; up to date with HEAD ${short(d.head)}`;
  const one = d.changesSince === 1;
  return `${short(d.commit)}${when}; behind HEAD ${short(d.head)}: ${d.changesSince} commit${one ? ' changes' : 's change'} this host since`;
}

/** Pure: the text block of one host. */
export function formatHostStatus(s: HostStatus): string {
  if (!s.reachable) return `${s.host}  unreachable: ${s.error}\n`;
  const e = s.engine;
  const engine = !e.present
    ? `${e.kind} not installed`
    : `${e.kind} ${e.version ?? '?'}${e.error ? ` (not answering: ${e.error})` : ''}, compose ${e.compose ? `${e.compose} ${e.composeVersion ?? ''}`.trim() : 'missing'}`;
  const y = s.yggdrasil;
  const ygg = y.actual
    ? y.matches
      ? `${y.actual} (= host.yaml)`
      : `${y.actual} but host.yaml says ${y.expected}: MISMATCH, fix yggaddr in host.yaml`
    : `not readable (${y.error ?? 'no address'}); host.yaml says ${y.expected}`;
  const lock = s.lock.status === 'free' ? 'free' : `${s.lock.status}${s.lock.reason ? ` (${s.lock.reason})` : ''} by ${s.lock.holder ?? 'unknown holder'}`;
  const c = s.containers;
  const lines = [
    `${s.host}  reachable (${s.destination})`,
    `  engine      ${engine}`,
    `  yggdrasil   ${ygg}`,
    `  deployed    ${deployedText(s.deployed)}`,
    `  lock        ${lock}`,
    `  containers  ${c.up}/${c.total} up${c.orphans ? `, ${c.orphans} orphan${c.orphans === 1 ? '' : 's'} (not in git)` : ''}`,
    ...s.warnings.map((w) => `  warning     ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** A host whose status needs attention: unreachable, engine down, wrong yggdrasil address. */
export function statusIsBad(s: HostStatus): boolean {
  return !s.reachable || !s.engine.present || s.engine.error !== null || (s.yggdrasil.actual !== null && !s.yggdrasil.matches);
}
