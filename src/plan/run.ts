/**
 * Observe a host and plan it: the shared first half of `plan` and `deploy`. One remote command
 * (observe); a second one only when there is something to show as a diff.
 */
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostSpec } from '../fleet/model.js';
import { desiredHost, composeYaml, type DesiredHost } from '../man8s/render.js';
import { readDeployed, type DeployedRecord } from '../git/deployed.js';
import type { Connection } from '../remote/transport.js';
import { observeHost, observeOptions } from '../remote/observe.js';
import type { Observed } from '../remote/observed.js';
import { hostPaths } from '../remote/paths.js';
import { catFilesCommand, parseCatOutput, type RemoteFile } from '../remote/cat.js';
import type { Fleet } from '../fleet/model.js';
import { planHost, type HostPlan, type PulledImage } from './diff.js';
import type { TextDiff } from './format.js';

export interface HostState {
  host: HostSpec;
  desired: DesiredHost;
  observed: Observed;
  deployed: DeployedRecord | null;
  plan: HostPlan;
}

export interface PlanOptions {
  only?: readonly string[];
  /** Holds the host's deployed.yaml (hosts/<host>/, or the sandbox's own folder). */
  recordDir?: string;
  pulled?: Record<string, PulledImage>;
}

/** Observes the host (one remote command) and plans it. */
export async function observeAndPlan(fleet: Fleet, host: HostSpec, conn: Connection, opts: PlanOptions = {}): Promise<HostState> {
  return planObserved(fleet, host, await observeHost(conn, observeOptions(host.settings)), opts);
}

/** Plans a host from what observing it found (deploy observes and takes its lock in one command). */
export async function planObserved(fleet: Fleet, host: HostSpec, observed: Observed, opts: PlanOptions = {}): Promise<HostState> {
  const desired = desiredHost(fleet, host.name);
  const deployed = await readDeployed(opts.recordDir ?? host.dir);
  const plan = planHost({ host, desired, observed, deployed, ...(opts.only ? { only: opts.only } : {}), ...(opts.pulled ? { pulled: opts.pulled } : {}) });
  return { host, desired, observed, deployed, plan };
}

async function localEntry(path: string, kind: string): Promise<Buffer | null> {
  try {
    if (kind === 'symlink') return Buffer.from(`symlink -> ${await readlink(path)}\n`);
    return await readFile(path);
  } catch {
    return null;
  }
}

function remoteEntry(file: RemoteFile | undefined): { content: Buffer | null; note?: string } {
  if (!file || file.kind === 'missing') return { content: null };
  if (file.kind === 'too-big') return { content: null, note: `${file.size} bytes on the host: too big to show` };
  return { content: file.content };
}

/**
 * The host's and git's versions of every changed file and of each compose file a re-create replaces,
 * fetched from the host in one command. Symlinks are shown by target (from the observed tree).
 */
export async function gatherDiffs(state: HostState, conn: Connection): Promise<TextDiff[]> {
  const { host, plan, observed } = state;
  const paths = hostPaths(host.settings.storage_path);
  const wanted: Array<{ label: string; remote?: string; hostLink?: string; local: () => Promise<Buffer | null> }> = [];
  for (const c of plan.containers) {
    for (const f of c.fileChanges) {
      if (f.kind === 'dir') continue;
      const rel = `${f.type}/${c.name}/${f.path}`;
      const hostEntry = (observed.trees[f.type]?.[c.name] ?? []).find((e) => e.path === f.path);
      const gitEntry = state.host.containers.get(c.name)?.trees[f.type].find((e) => e.path === f.path);
      wanted.push({
        label: `${host.name}:${rel}`,
        ...(hostEntry?.kind === 'file' ? { remote: `${paths.storage}/${rel}` } : {}),
        ...(hostEntry?.kind === 'symlink' ? { hostLink: `symlink -> ${hostEntry.target}\n` } : {}),
        local: () => (gitEntry ? localEntry(join(host.dir, f.type, c.name, f.path), gitEntry.kind) : Promise.resolve(null)),
      });
    }
    if (c.action === 'recreate') {
      wanted.push({
        label: `${host.name}:compose ${c.name}`,
        remote: paths.compose(c.name),
        local: async () => Buffer.from(composeYaml(c.desired.compose)),
      });
    }
  }
  if (wanted.length === 0) return [];
  const remotes = wanted.flatMap((w) => (w.remote ? [w.remote] : []));
  let fetched = new Map<string, RemoteFile>();
  if (remotes.length > 0) {
    const cmd = catFilesCommand(remotes);
    const r = await conn.runRaw(cmd.argv, { timeoutMs: 60_000 });
    fetched = parseCatOutput(r.stdout, remotes);
  }
  const diffs: TextDiff[] = [];
  for (const w of wanted) {
    const remote = w.remote ? remoteEntry(fetched.get(w.remote)) : { content: w.hostLink ? Buffer.from(w.hostLink) : null };
    diffs.push({ label: w.label, before: remote.content, after: await w.local(), ...(remote.note ? { note: remote.note } : {}) });
  }
  return diffs;
}
