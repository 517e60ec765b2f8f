/**
 * `--changed`: which hosts a CI run on a push must deploy. A host is changed when
 *  - it was never deployed by man8s (no deployed.yaml), or
 *  - files under its folder (other than deployed.yaml) or man8s.yaml changed since the commit its
 *    deployed.yaml records (or since --since REV), or
 *  - what git renders for it differs from what deployed.yaml says was deployed: this catches changes
 *    made elsewhere that reach this host (a container it names in dns/local_access moved host).
 */
import { join } from 'node:path';
import type { Fleet, HostSpec } from '../fleet/model.js';
import { desiredHost } from '../man8s/render.js';
import { openRepo, changedSince, type FleetRepo } from '../git/repo.js';
import { DEPLOYED_FILE, readDeployed, type DeployedRecord } from '../git/deployed.js';
import { recordDir } from './record.js';

export async function selectChangedHosts(fleet: Fleet, hosts: readonly HostSpec[], since?: string, sandbox = false): Promise<HostSpec[]> {
  const repo = await openRepo(fleet.repoRoot);
  const chosen: HostSpec[] = [];
  for (const host of hosts) {
    if (await hostChanged(repo, fleet, host, since, recordDir(fleet, host, sandbox))) chosen.push(host);
  }
  return chosen;
}

async function hostChanged(repo: FleetRepo, fleet: Fleet, host: HostSpec, since: string | undefined, records: string): Promise<boolean> {
  const deployed = await readDeployed(records);
  const base = since ?? deployed?.commit;
  if (!base) return true;
  const files = await changedSince(repo, base, [host.dir, join(fleet.repoRoot, 'man8s.yaml')]);
  if (files.some((f) => !f.endsWith(`/${DEPLOYED_FILE}`))) return true;
  return deployed !== null && renderDiffers(fleet, host, deployed);
}

function renderDiffers(fleet: Fleet, host: HostSpec, deployed: DeployedRecord): boolean {
  const desired = desiredHost(fleet, host.name).containers;
  if (desired.length !== Object.keys(deployed.containers).length) return true;
  return desired.some((c) => {
    const was = deployed.containers[c.name];
    return !was || was.spec_hash !== c.specHash || was.files_hash !== c.filesHash;
  });
}
