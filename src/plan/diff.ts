/**
 * The plan: a pure function of what git wants (DesiredHost), what the host has (Observed) and what man8s
 * last deployed there (deployed.yaml). No I/O, so every decision here is unit-tested without hosts.
 *
 * Per container, the least disruptive action that makes the host match git:
 *   create    no container of that name on the host
 *   recreate  the rendered service changed (spec hash: image, env, ports, mounts…), or the container was
 *             made outside man8s (no identity labels)
 *   restart   only conf/plugin files changed (the container reads them at start)
 *   start     exists, stopped, and autostart is on
 *   none      nothing to do (files may still be synced when the container is stopped on purpose)
 */
import type { HostSpec, SyncedType, TreeEntry } from '../fleet/model.js';
import { SYNCED_TYPES } from '../fleet/model.js';
import { withoutEmptyFolders } from '../fleet/tree.js';
import type { DesiredContainer, DesiredHost } from '../man8s/render.js';
import { LABEL_SPEC_HASH, treesHash } from '../man8s/render.js';
import { canonicalYggaddr, yggaddrProblem } from '../man8s/ygg.js';
import type { Observed, ObservedContainer } from '../remote/observed.js';
import type { DeployedRecord } from '../git/deployed.js';

export type Action = 'create' | 'recreate' | 'restart' | 'start' | 'none';

export interface FileChange {
  type: SyncedType;
  /** Relative to `<type>/<name>/`. */
  path: string;
  change: 'added' | 'changed' | 'removed';
  kind: TreeEntry['kind'];
}

export interface ContainerPlan {
  name: string;
  level: number;
  action: Action;
  /** Why, in words a person reads in the plan ("image nginx:1.28 → nginx:1.29"). */
  reasons: string[];
  /** conf/plugin entries that differ between git and the host: what the sync will change. */
  fileChanges: FileChange[];
  /** The host's conf/plugin files were edited since man8s last deployed them: the sync overwrites that. */
  drift: boolean;
  /** files-hash of the container's files on the host now (what a rollback puts back). */
  hostFilesHash: string;
  desired: DesiredContainer;
  observed?: ObservedContainer;
}

export interface OrphanFolder {
  type: SyncedType;
  name: string;
}

export interface HostPlan {
  host: string;
  /** Every container in git for this host (or the --only selection), in dependency order. */
  containers: ContainerPlan[];
  /** Containers labelled as man8s's whose name git no longer has on this host. */
  orphanContainers: ObservedContainer[];
  /** conf/plugin folders on the host that git no longer has. */
  orphanFolders: OrphanFolder[];
  /** Problems that stop a deploy of this host (wrong yggdrasil address, no engine…). */
  errors: string[];
  warnings: string[];
}

export interface PulledImage {
  before: string;
  after: string;
}

export interface PlanInput {
  host: HostSpec;
  desired: DesiredHost;
  observed: Observed;
  deployed: DeployedRecord | null;
  /** `--only`: plan just these containers (orphans are then not reported either). */
  only?: readonly string[];
  /**
   * Images pulled just before observing (`--pull`), with their ids before and after the pull. A container
   * is re-created when its image moved in this pull, or when it runs an older id than its tag now names.
   */
  pulled?: Record<string, PulledImage>;
}

export function planHost(input: PlanInput): HostPlan {
  const { host, desired, observed, deployed } = input;
  const only = input.only && input.only.length > 0 ? new Set(input.only) : undefined;
  const configFile = host.settings.config_file;
  const byName = new Map<string, ObservedContainer>();
  // A labelled container wins over an unlabelled one of the same name (the engine allows only one anyway).
  for (const c of observed.unlabeled) byName.set(c.name, c);
  for (const c of observed.containers) byName.set(c.name, c);

  const containers: ContainerPlan[] = [];
  for (const want of desired.containers) {
    if (only && !only.has(want.name)) continue;
    const spec = host.containers.get(want.name)!;
    const hostTrees = withoutEmptyHostFolders(treesOnHost(observed, want.name), spec.trees);
    const fileChanges = diffTrees(spec.trees, hostTrees);
    const hostFilesHash = treesHash(hostTrees, configFile);
    const lastFilesHash = deployed?.containers[want.name]?.files_hash;
    const drift = lastFilesHash !== undefined && hostFilesHash !== lastFilesHash && hostFilesHash !== want.filesHash;
    const have = byName.get(want.name);
    // container.yaml is synced too, but it is man8s's input: its effect on the container is the spec hash.
    const contentChanges = fileChanges.filter((c) => !(c.type === 'conf' && c.path === configFile));
    const stale = input.pulled && have?.managed ? staleImage(input.pulled, observed, want, have) : undefined;
    const startedWith = observed.startedFiles?.[want.name];
    const { action, reasons } = decide(want, have, contentChanges, stale, startedWith);
    containers.push({ name: want.name, level: want.level, action, reasons, fileChanges, drift, hostFilesHash, desired: want, ...(have ? { observed: have } : {}) });
  }

  const inGit = new Set(desired.containers.map((c) => c.name));
  const orphanContainers = only ? [] : observed.containers.filter((c) => !inGit.has(c.name));
  const orphanFolders: OrphanFolder[] = [];
  if (!only) {
    for (const type of SYNCED_TYPES) {
      for (const name of Object.keys(observed.trees[type] ?? {}).sort()) {
        if (!inGit.has(name)) orphanFolders.push({ type, name });
      }
    }
  }
  return { host: host.name, containers, orphanContainers, orphanFolders, ...hostProblems(host, observed) };
}

/**
 * After a pull, why the container's image is stale, if it is: the tag moved in this pull (works on every
 * engine), or the container runs another id than the tag names now (docker reports ids per container;
 * nerdctl reports only the reference, so there the first test is the one that counts).
 */
function staleImage(pulled: Record<string, PulledImage>, observed: Observed, want: DesiredContainer, have: ObservedContainer): string | undefined {
  const p = pulled[want.image];
  if (p && p.after && p.before !== p.after) return `pulled ${want.image}: new image ${shortId(p.after)} (was ${p.before ? shortId(p.before) : 'not on the host'})`;
  const now = observed.imageIds[want.image];
  const isId = (id: string) => id.startsWith('sha256:');
  if (now && have.image === want.image && isId(have.imageId) && now !== have.imageId) return `pulled ${want.image}: new image ${shortId(now)} (runs ${shortId(have.imageId)})`;
  return undefined;
}

/** The reason a restart is planned when the host has git's files but the container still runs older ones. */
export const NOT_RESTARTED_REASON = 'files synced but the container was not restarted: an earlier deploy stopped midway';

/**
 * `startedWith` is the files-hash man8s recorded when it last (re)started the container: when the host
 * already has git's files but the container was started with others, a deploy synced them and stopped
 * (failure, lost connection, a second Ctrl-C) before restarting it, and the files are not in use yet.
 */
function decide(
  want: DesiredContainer,
  have: ObservedContainer | undefined,
  fileChanges: FileChange[],
  staleImageReason?: string,
  startedWith?: string,
): { action: Action; reasons: string[] } {
  const filesReason = fileChanges.length > 0 ? [describeFileChanges(fileChanges)] : [];
  if (!have) return { action: 'create', reasons: ['not on the host', ...filesReason] };
  if (!have.managed) return { action: 'recreate', reasons: ['made outside man8s (no io.man8s labels)', ...filesReason] };
  if (have.labels[LABEL_SPEC_HASH] !== want.specHash) {
    const why = have.image !== want.image ? `image ${have.image} → ${want.image}` : 'container settings changed (see the compose diff)';
    return { action: 'recreate', reasons: [why, ...filesReason] };
  }
  if (staleImageReason) return { action: 'recreate', reasons: [staleImageReason, ...filesReason] };
  if (fileChanges.length > 0) {
    if (have.running) return { action: 'restart', reasons: filesReason };
    if (want.autostart) return { action: 'start', reasons: [`${have.state}, autostart`, ...filesReason] };
    return { action: 'none', reasons: [`${have.state}, autostart off: files synced, not started`, ...filesReason] };
  }
  if (!have.running && want.autostart) return { action: 'start', reasons: [`${have.state}, autostart`] };
  if (have.running && startedWith !== undefined && startedWith !== want.filesHash) return { action: 'restart', reasons: [NOT_RESTARTED_REASON] };
  return { action: 'none', reasons: [] };
}

function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function describeFileChanges(changes: FileChange[]): string {
  const files = changes.filter((c) => c.kind !== 'dir');
  const shown = files.slice(0, 3).map((c) => `${c.type}/${c.path}`);
  const more = files.length > 3 ? ` and ${files.length - 3} more` : '';
  return files.length === 0 ? 'folders changed' : `files changed: ${shown.join(', ')}${more}`;
}

function treesOnHost(observed: Observed, name: string): Record<SyncedType, TreeEntry[]> {
  return { conf: observed.trees.conf?.[name] ?? [], plugin: observed.trees.plugin?.[name] ?? [] };
}

/**
 * The host's trees without the folders git cannot have (withoutEmptyFolders): mount preparation makes
 * one for every conf/plugin folder mount (`/etc/app: {}` → conf/<name>/etc/app) and the sync keeps them;
 * counting them would plan a restart on every run and make the host's files-hash never match git's.
 */
export function withoutEmptyHostFolders(have: Record<SyncedType, TreeEntry[]>, want: Record<SyncedType, TreeEntry[]>): Record<SyncedType, TreeEntry[]> {
  const out = {} as Record<SyncedType, TreeEntry[]>;
  for (const type of SYNCED_TYPES) out[type] = withoutEmptyFolders(have[type] ?? [], new Set((want[type] ?? []).map((e) => e.path)));
  return out;
}

/** What the sync changes on the host: entries compared by kind, content (or link target) and mode. */
export function diffTrees(want: Record<SyncedType, TreeEntry[]>, have: Record<SyncedType, TreeEntry[]>): FileChange[] {
  const changes: FileChange[] = [];
  for (const type of SYNCED_TYPES) {
    const haveByPath = new Map((have[type] ?? []).map((e) => [e.path, e]));
    for (const w of want[type] ?? []) {
      const h = haveByPath.get(w.path);
      haveByPath.delete(w.path);
      if (!h) changes.push({ type, path: w.path, change: 'added', kind: w.kind });
      else if (!sameEntry(w, h)) changes.push({ type, path: w.path, change: 'changed', kind: w.kind });
    }
    for (const h of haveByPath.values()) changes.push({ type, path: h.path, change: 'removed', kind: h.kind });
  }
  return changes.sort((a, b) => a.type.localeCompare(b.type) || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Folders compare by kind only (mount preparation may chmod them; git has no folder modes), files by
 * content and executable bit (all git records and all the sync carries), links by target.
 */
function sameEntry(a: TreeEntry, b: TreeEntry): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'symlink') return a.target === b.target;
  if (a.kind === 'file') return a.sha256 === b.sha256 && executable(a) === executable(b);
  return true;
}

function executable(e: TreeEntry): boolean {
  return (e.mode & 0o111) !== 0;
}

function hostProblems(host: HostSpec, observed: Observed): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings = [...observed.warnings];
  const want = host.settings.yggaddr;
  if (observed.ygg.present && observed.ygg.address) {
    const got = yggaddrProblem(observed.ygg.address) ? observed.ygg.address : canonicalYggaddr(observed.ygg.address);
    if (got !== canonicalYggaddr(want)) {
      errors.push(
        `yggdrasil on the host has address ${got} but ${host.file} says yggaddr ${want}: every container address would be wrong; fix yggaddr in host.yaml (or the host's yggdrasil key)`,
      );
    }
  } else {
    warnings.push(`yggdrasil address not readable on the host${observed.ygg.error ? ` (${observed.ygg.error})` : ''}: cannot confirm yggaddr ${want}`);
  }
  if (!observed.engine.present) {
    errors.push(
      `the container engine ${host.settings.engine} does not answer on the host${observed.engine.error ? ` (${observed.engine.error.trim()})` : ''}: install or start it (man8s doctor ${host.name} shows what is missing)`,
    );
  }
  return { errors, warnings };
}

export function hostHasChanges(plan: HostPlan, opts: { prune?: boolean } = {}): boolean {
  return (
    plan.containers.some((c) => c.action !== 'none' || c.fileChanges.length > 0) ||
    (opts.prune === true && (plan.orphanContainers.length > 0 || plan.orphanFolders.length > 0))
  );
}
