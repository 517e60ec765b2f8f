/**
 * What a deploy writes back: hosts/<host>/deployed.yaml (see src/git/deployed.ts). Pure: built from the
 * host's plan and what applying it did.
 */
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { Fleet, HostSpec } from '../fleet/model.js';
import { LABEL_FILES_HASH, LABEL_SPEC_HASH } from '../man8s/render.js';
import type { DeployedContainer, DeployedRecord } from '../git/deployed.js';
import type { HostState } from '../plan/run.js';
import type { HostApplyResult } from './apply-host.js';

/** Who deployed: the CI actor when there is one, else user@machine. */
export function deployer(env: NodeJS.ProcessEnv = process.env): string {
  const ci = env.GITHUB_ACTOR ?? env.GITEA_ACTOR ?? env.GITLAB_USER_LOGIN;
  return ci ? `${ci} (CI)` : `${userInfo().username}@${hostname()}`;
}

/**
 * The record after applying `result`. A container that failed or was skipped keeps what runs there:
 * its previous record, or failing that the hashes on the running container's labels. With --only,
 * containers outside the selection keep their previous entries.
 */
export function buildRecord(state: HostState, result: HostApplyResult | null, commit: string, now: Date, by: string): DeployedRecord {
  const previous = state.deployed?.containers ?? {};
  const containers: Record<string, DeployedContainer> = {};
  const planned = new Map(state.plan.containers.map((c) => [c.name, c]));
  for (const want of state.desired.containers) {
    const c = planned.get(want.name);
    if (!c) {
      if (previous[want.name]) containers[want.name] = previous[want.name]!;
      continue;
    }
    const outcome = result?.outcomes.find((o) => o.name === want.name);
    const res = outcome?.result ?? 'unchanged';
    if (res === 'failed' || res === 'skipped') {
      const before = previous[want.name];
      const labels = c.observed?.labels ?? {};
      containers[want.name] = {
        spec_hash: before?.spec_hash ?? labels[LABEL_SPEC_HASH] ?? '',
        files_hash: before?.files_hash ?? labels[LABEL_FILES_HASH] ?? '',
        image: before?.image ?? c.observed?.image ?? '',
        ...(before?.image_id ? { image_id: before.image_id } : {}),
        result: res,
        ...(outcome?.error ? { error: outcome.error } : {}),
      };
      continue;
    }
    const imageId = outcome?.imageId ?? c.observed?.imageId;
    containers[want.name] = { spec_hash: want.specHash, files_hash: want.filesHash, image: want.image, ...(imageId ? { image_id: imageId } : {}), result: res };
  }
  return { commit, deployed_at: now.toISOString(), deployed_by: by, containers };
}

/**
 * Whether writing `next` records anything new (a no-op deploy on a new commit writes nothing). The image
 * id counts: `man8s pull` re-creates a container with the same spec on a new image, and that is recorded.
 */
export function recordChanged(prev: DeployedRecord | null, next: DeployedRecord): boolean {
  if (!prev) return true;
  const key = (r: DeployedRecord) =>
    JSON.stringify(Object.entries(r.containers).sort(([a], [b]) => a.localeCompare(b)).map(([n, c]) => [n, c.spec_hash, c.files_hash, c.image, c.image_id ?? '', c.result === 'failed' || c.result === 'skipped']));
  return key(prev) !== key(next);
}

/**
 * Where a host's record lives: hosts/<host>/ in git, or with --sandbox a git-ignored folder, so trying a
 * fleet in the sandbox never writes sandbox state into the fleet's history.
 */
export function recordDir(fleet: Fleet, host: HostSpec, sandbox: boolean): string {
  return sandbox ? join(fleet.repoRoot, '.man8s', 'sandbox', 'deployed', host.name) : host.dir;
}
