import type { HostPlanView } from './format.js';

/** The plan for scripts (`plan --json`): decisions and reasons, not the full desired/observed state. */
export function planJson(view: HostPlanView): unknown {
  const { plan } = view;
  return {
    host: plan.host,
    destination: view.destination,
    errors: plan.errors,
    warnings: plan.warnings,
    containers: plan.containers.map((c) => ({
      name: c.name,
      level: c.level,
      action: c.action,
      reasons: c.reasons,
      drift: c.drift,
      fileChanges: c.fileChanges,
      image: c.desired.image,
      specHash: c.desired.specHash,
      filesHash: c.desired.filesHash,
      ...(c.observed ? { current: { id: c.observed.id, state: c.observed.state, image: c.observed.image } } : {}),
    })),
    orphanContainers: plan.orphanContainers.map((c) => ({ name: c.name, id: c.id, state: c.state, image: c.image })),
    orphanFolders: plan.orphanFolders,
  };
}
