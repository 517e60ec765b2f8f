/**
 * Preflight: every check a migration must pass before anything changes, each failure naming its cause
 * and its fix. Local checks (git, the fleet's rules) run first, then one round of remote facts per host
 * in parallel: observe, sizes of every source path (`du -sb`, one command), what the target already has,
 * and whether the target can get the image (present, or a pull that works: the one change preflight makes).
 */
import { existsSync } from 'node:fs';
import { relative, join } from 'node:path';
import type { Fleet } from '../fleet/model.js';
import { UserError } from '../errors.js';
import { getContainer, getHost } from '../man8s/lookup.js';
import { uncommittedChanges, type FleetRepo } from '../git/repo.js';
import { observeHost } from '../remote/observe.js';
import type { Observed } from '../remote/observed.js';
import { engineCli, engineTarget } from '../remote/engine.js';
import { hostPaths } from '../remote/paths.js';
import type { Connection } from '../remote/transport.js';
import { affectedContainers, formatBytes, movedFleet, movePlan, moveProblems, type AffectedContainer, type CopyUnit, type MovePlan } from './plan.js';
import { manifestCommand, parseManifest, parseProbe, probeCommand, type Manifest, type ProbedPath } from './copy.js';
import { mountListCommand, mountUsers, parseMountList } from './host-mounts.js';
import { listRecordsCommand, parseRecordList } from './state.js';
import { movedFolders } from './git-move.js';

export interface PreflightOptions {
  name: string;
  from: string;
  to: string;
  withDeps: boolean;
  force: boolean;
  viaLocal: boolean;
}

/** The checks that need no host: the fleet and git. Throws the first problem as a UserError. */
export async function localPreflight(fleet: Fleet, repo: FleetRepo, o: PreflightOptions): Promise<{ plan: MovePlan; after: Fleet; affected: AffectedContainer[] }> {
  if (o.from === o.to) throw new UserError(`${o.name}: source and target are both ${o.from}; name another host to move it to`);
  const from = getHost(fleet, o.from);
  const to = getHost(fleet, o.to);
  getContainer(fleet, o.from, o.name);
  const confDir = relative(repo.root, join(from.dir, 'conf', o.name));
  const tracked = (await repo.git.raw(['ls-files', '--', confDir])).trim();
  if (tracked === '') {
    throw new UserError(`${o.name}: ${confDir} is not committed in git; commit it first (man8s moves it with git mv and commits the move)`);
  }
  const dirty = await uncommittedChanges(repo, [from.dir, to.dir]);
  if (dirty.length > 0) {
    throw new UserError(
      `uncommitted changes under hosts/${o.from} or hosts/${o.to} (${dirty.slice(0, 5).join(', ')}${dirty.length > 5 ? ', …' : ''}); ` +
        'commit or stash them first: the migration commits these folders',
    );
  }
  const plan = movePlan(fleet, o.name, o.from, o.to, o.withDeps);
  if (plan.leftBehind.length > 0) {
    throw new UserError(
      `${o.name} is tied by require to containers on ${o.from} that would be left behind: ` +
        `${plan.leftBehind.map((n) => `${n.name} (${n.why})`).join(', ')}; move them together with --with-deps`,
    );
  }
  const inGit = plan.group.filter((n) => to.containers.has(n) || to.broken.has(n));
  if (inGit.length > 0) {
    throw new UserError(`${o.to} already has ${inGit.join(', ')} in git (hosts/${o.to}/conf); rename or remove it there first`);
  }
  // git mv needs every destination folder free, plugin too; checked now, not at the switch, when the
  // container is already stopped. A plugin folder the source lacks would become the mover's on the target.
  const taken = movedFolders({ fromDir: from.dir, toDir: to.dir, group: plan.group }).filter((f) => existsSync(f.to)).map((f) => relative(repo.root, f.to));
  if (taken.length > 0) {
    throw new UserError(
      `${taken.join(', ')} already exist${taken.length > 1 ? '' : 's'} in the work tree, and the migration moves ${plan.group.join(', ')}'s conf and plugin folders there (git mv); ` +
        `remove or rename ${taken.length > 1 ? 'them' : 'it'} first (git rm -r or git mv, then commit)`,
    );
  }
  const after = movedFleet(fleet, plan.group, o.from, o.to);
  const problems = moveProblems(fleet, after);
  if (problems.length > 0) {
    throw new UserError(`after the move the fleet would be invalid; fix these first:\n${problems.join('\n')}`);
  }
  return { plan, after, affected: affectedContainers(fleet, after, plan.group, o.to) };
}

export type ImageStatus = { image: string; status: 'present' | 'pulled' } | { image: string; status: 'missing'; error: string };

export interface RemoteFacts {
  fromObserved: Observed;
  toObserved: Observed;
  source: Map<string, ProbedPath>;
  target: Map<string, ProbedPath>;
  images: ImageStatus[];
  /** Bytes the copy needs (du -sb of every source path that exists). */
  bytes: number;
  /** Target paths that already exist (refused unless --force). */
  targetHas: string[];
  /** Target paths that did not exist: the only ones a rollback may remove. */
  createdOnTarget: string[];
  /** The plan's units, each custom one's sharedWith completed by what the source's engine reports. */
  units: CopyUnit[];
  /** Custom paths the target already has with the same content: copied (a no-op), left in place on both. */
  sameOnBoth: string[];
}

interface CustomPathFacts {
  units: CopyUnit[];
  sameOnBoth: string[];
  /** Custom target paths that only the group's own (--force replaced) containers mount. */
  owned: string[];
  problems: string[];
}

const equalTrees = (a?: Manifest, b?: Manifest) => !!a?.exists && !!b?.exists && a.entries === b.entries && a.bytes === b.bytes && a.digest === b.digest;

/**
 * Custom absolute sources are host paths, not folders man8s owns: the target may have its own (even
 * /etc/localtime), and containers man8s does not know may use them on either host. So: a custom path the
 * target already has is overwritten only if it is explicitly the group's (a group member on the target
 * mounts exactly it, and nothing else there does) and --force is given; one with the same content on
 * both (content checksums) is harmless; anything else is refused, --force or not. On the source, every
 * container the engine reports mounting the path joins sharedWith, so the path is never renamed there.
 */
async function customPathFacts(
  fleet: Fleet,
  plan: MovePlan,
  o: PreflightOptions,
  conns: { from: Connection; to: Connection },
  observed: { from: Observed; to: Observed },
  present: readonly CopyUnit[],
): Promise<CustomPathFacts> {
  const facts: CustomPathFacts = { units: plan.units, sameOnBoth: [], owned: [], problems: [] };
  if (!plan.units.some((u) => u.kind === 'custom')) return facts;
  const there = present.filter((u): u is Extract<CopyUnit, { kind: 'custom' }> => u.kind === 'custom');
  const cli = (host: string, obs: Observed) => engineCli(engineTarget(fleet.hosts.get(host)!.settings, obs.engine.compose));
  const [fromMounts, toMounts, fromTrees, toTrees] = await Promise.all([
    conns.from.runCommand(mountListCommand(cli(o.from, observed.from)), { timeoutMs: 120_000 }),
    conns.to.runCommand(mountListCommand(cli(o.to, observed.to)), { timeoutMs: 120_000 }),
    there.length ? conns.from.runCommand(manifestCommand(there.map((u) => u.fromPath), true), { timeoutMs: 3600_000 }) : undefined,
    there.length ? conns.to.runCommand(manifestCommand(there.map((u) => u.toPath), true), { timeoutMs: 3600_000 }) : undefined,
  ]);
  for (const [host, r] of [[o.from, fromMounts], [o.to, toMounts]] as const) {
    if (r.code !== 0) facts.problems.push(`${host}: listing the containers' mounts failed (exit ${r.code}): ${r.stderr.trim()}; man8s must know who else uses the custom mount sources`);
  }
  const usersOnSource = parseMountList(fromMounts.stdout);
  facts.units = plan.units.map((u) =>
    u.kind === 'custom' ? { ...u, sharedWith: [...new Set([...u.sharedWith, ...mountUsers(usersOnSource, u.fromPath, plan.group)])].sort() } : u,
  );
  const mountsOnTarget = parseMountList(toMounts.stdout);
  const src = parseManifest(fromTrees?.stdout ?? '');
  const dst = parseManifest(toTrees?.stdout ?? '');
  for (const u of there) {
    if (equalTrees(src.get(u.fromPath), dst.get(u.toPath))) {
      facts.sameOnBoth.push(u.toPath);
      continue;
    }
    const others = mountUsers(mountsOnTarget, u.toPath, plan.group);
    const own = others.length === 0 && mountsOnTarget.some((m) => plan.group.includes(m.container) && m.sources.includes(u.toPath));
    if (own) {
      facts.owned.push(u.toPath);
      continue;
    }
    facts.problems.push(
      `${o.to}: ${u.toPath} (custom source of ${u.container}:${u.target}) already exists there with other content` +
        `${others.length ? ` and is mounted by ${others.join(', ')}` : ''}; man8s never overwrites a host path that is not ${u.container}'s own, even with --force: ` +
        `if it is ${u.container}'s old data, move it aside on ${o.to} (mv ${u.toPath} ${u.toPath}.old) and migrate again; if ${o.to} needs its own, leave it and change the mount's source`,
    );
  }
  return facts;
}

/** Disk margin on top of the data: 5 % or 256 MiB, whichever is larger (filesystem metadata, logs meanwhile). */
export function diskNeeded(bytes: number): number {
  return bytes + Math.max(Math.ceil(bytes * 0.05), 256 * 1024 * 1024);
}

async function checkImage(conn: Connection, fleet: Fleet, host: string, image: string, compose: Observed['engine']['compose']): Promise<ImageStatus> {
  const t = engineTarget(fleet.hosts.get(host)!.settings, compose);
  const have = await conn.run([...engineCli(t), 'image', 'inspect', '--format', '{{.Id}}', image], { timeoutMs: 60_000 });
  if (have.code === 0) return { image, status: 'present' };
  const pull = await conn.run([...engineCli(t), 'pull', image], { timeoutMs: 15 * 60_000 });
  if (pull.code === 0) return { image, status: 'pulled' };
  return { image, status: 'missing', error: (pull.stderr || pull.stdout).trim().split('\n').slice(-2).join(' / ') };
}

function observeOf(fleet: Fleet, host: string, conn: Connection): Promise<Observed> {
  const s = fleet.hosts.get(host)!.settings;
  return observeHost(conn, { storagePath: s.storage_path, engine: s.engine, namespace: s.nerdconfig.namespace, snapshotter: s.nerdconfig.snapshotter });
}

/** The remote checks; throws a UserError listing every problem found. */
export async function remotePreflight(fleet: Fleet, plan: MovePlan, o: PreflightOptions, conns: { from: Connection; to: Connection }): Promise<RemoteFacts> {
  const fromPaths = plan.units.map((u) => u.fromPath);
  const toPaths = plan.units.map((u) => u.toPath);
  const fromState = hostPaths(fleet.hosts.get(o.from)!.settings.storage_path).state;
  const toState = hostPaths(fleet.hosts.get(o.to)!.settings.storage_path).state;
  const [fromObserved, toObserved, srcOut, dstOut, fromRecords, toRecords] = await Promise.all([
    observeOf(fleet, o.from, conns.from),
    observeOf(fleet, o.to, conns.to),
    conns.from.runCommand(probeCommand(fromPaths), { timeoutMs: 30 * 60_000 }),
    conns.to.runCommand(probeCommand(toPaths), { timeoutMs: 30 * 60_000 }),
    conns.from.runCommand(listRecordsCommand(fromState), { timeoutMs: 60_000 }),
    conns.to.runCommand(listRecordsCommand(toState), { timeoutMs: 60_000 }),
  ]);
  const problems: string[] = [];
  for (const [host, out] of [[o.from, fromRecords], [o.to, toRecords]] as const) {
    for (const r of parseRecordList(out.stdout)) {
      problems.push(
        `${host}: an unfinished migration of ${r.name} (${r.from} → ${r.to}, phase ${r.phase}) is recorded there; ` +
          `finish it with man8s migrate --resume ${r.name} ${r.from} ${r.to}, or undo it with man8s migrate --abort ${r.name} ${r.from} ${r.to}`,
      );
    }
  }
  if (!toObserved.engine.present) problems.push(`${o.to}: the container engine does not answer (${toObserved.engine.error ?? 'not installed'}); install or start it`);
  const source = parseProbe(srcOut.stdout);
  const target = parseProbe(dstOut.stdout);
  if (srcOut.code !== 0) problems.push(`${o.from}: measuring the data failed (exit ${srcOut.code}): ${srcOut.stderr.trim()}`);
  if (dstOut.code !== 0) problems.push(`${o.to}: checking for existing data failed (exit ${dstOut.code}): ${dstOut.stderr.trim()}`);

  for (const u of plan.units) {
    if (u.kind === 'custom' && u.file && source.get(u.fromPath)?.kind !== 'file') {
      problems.push(`${o.from}: file mount ${u.fromPath} of ${u.container} (${u.target}) is missing on the source; create it there or drop the mount`);
    }
  }
  const bytes = plan.units.reduce((n, u) => n + (source.get(u.fromPath)?.bytes ?? 0), 0);
  const onTarget = (u: CopyUnit) => (target.get(u.toPath)?.kind ?? 'missing') !== 'missing';
  const createdOnTarget = plan.units.filter((u) => !onTarget(u)).map((u) => u.toPath);
  const custom = await customPathFacts(fleet, plan, o, conns, { from: fromObserved, to: toObserved }, plan.units.filter(onTarget));
  problems.push(...custom.problems);
  // What the copy overwrites: the group's own storage folders, and custom paths only its own container mounts.
  const targetHas = plan.units.filter((u) => onTarget(u) && (u.kind === 'storage' || custom.owned.includes(u.toPath))).map((u) => u.toPath);
  const running = toObserved.containers.concat(toObserved.unlabeled).filter((c) => plan.group.includes(c.name)).map((c) => c.name);
  if (!o.force) {
    if (running.length > 0) problems.push(`${o.to}: already has a container named ${running.join(', ')}; remove it there, or pass --force to replace it`);
    if (targetHas.length > 0) {
      problems.push(`${o.to}: already has ${targetHas.join(', ')}; remove ${targetHas.length > 1 ? 'them' : 'it'} (man8s gc ${o.to} lists migration leftovers), or pass --force to overwrite`);
    }
  }
  const need = diskNeeded(bytes);
  if (toObserved.disk && toObserved.disk.availableBytes < need) {
    problems.push(
      `${o.to}: not enough free disk: the data is ${formatBytes(bytes)} (+ margin: ${formatBytes(need)}) but only ${formatBytes(toObserved.disk.availableBytes)} is free under ${toObserved.storage.path}; free some space first`,
    );
  }
  const images = [...new Set(plan.group.map((n) => fleet.hosts.get(o.from)!.containers.get(n)!.config.image))];
  const imageStatus = problems.length > 0 ? [] : await Promise.all(images.map((i) => checkImage(conns.to, fleet, o.to, i, toObserved.engine.compose)));
  for (const s of imageStatus) {
    if (s.status === 'missing') {
      problems.push(`${o.to}: image ${s.image} is not there and cannot be pulled (${s.error}); push it to a registry ${o.to} can reach, or copy it (docker save | ssh ${o.to} docker load)`);
    }
  }
  if (problems.length > 0) throw new UserError(`cannot migrate ${o.name} from ${o.from} to ${o.to}:\n  ${problems.join('\n  ')}`);
  return { fromObserved, toObserved, source, target, images: imageStatus, bytes, targetHas, createdOnTarget, units: custom.units, sameOnBoth: custom.sameOnBoth };
}

/** Why a custom source stays in place on the source after the move, if it does. */
function customNote(u: Extract<CopyUnit, { kind: 'custom' }>, facts: RemoteFacts, plan: MovePlan): string {
  if (facts.sameOnBoth.includes(u.toPath)) return `; ${plan.to} already has it with the same content: left in place on both`;
  if (u.sharedWith.length) return `; also used by ${u.sharedWith.join(', ')} on ${plan.from}, left in place there`;
  if (!facts.createdOnTarget.includes(u.toPath)) return `; ${plan.to} had its own: left in place on ${plan.from}`;
  return '';
}

/** The plan shown before anything changes. */
export function formatMigrationPlan(plan: MovePlan, facts: RemoteFacts, affected: AffectedContainer[], o: PreflightOptions & { checksum: boolean }): string {
  const lines: string[] = [];
  lines.push(`migrate ${plan.group.length > 1 ? `${plan.group.join(', ')} (with --with-deps)` : plan.name}: ${plan.from} → ${plan.to}`);
  lines.push(`  copy (${o.viaLocal ? `through this machine: ${plan.from} → here → ${plan.to}` : `direct: ${plan.from} runs rsync to ${plan.to}`}):`);
  const width = Math.max(...facts.units.map((u) => u.fromPath.length));
  for (const u of facts.units) {
    const p = facts.source.get(u.fromPath);
    if (!p || p.kind === 'missing') continue;
    const label = u.kind === 'custom' ? `  custom source of ${u.container}:${u.target}${customNote(u, facts, plan)}` : '';
    lines.push(`    ${u.fromPath.padEnd(width)}  ${formatBytes(p.bytes).padStart(9)}${u.fromPath !== u.toPath ? `  → ${u.toPath}` : ''}${label}`);
  }
  const free = facts.toObserved.disk ? `; ${plan.to} has ${formatBytes(facts.toObserved.disk.availableBytes)} free` : '';
  lines.push(`  total ${formatBytes(facts.bytes)}${free}`);
  for (const i of facts.images) lines.push(`  image ${i.image}: ${i.status === 'pulled' ? `pulled on ${plan.to}` : `already on ${plan.to}`}`);
  if (facts.targetHas.length > 0) lines.push(`  --force: overwriting on ${plan.to}: ${facts.targetHas.join(', ')}`);
  lines.push(
    affected.length > 0
      ? `  redeploy (their dns/local_access address changes): ${affected.map((a) => `${a.host}/${a.name}`).join(', ')}`
      : '  no other container addresses it by dns/local_access',
  );
  lines.push(
    `  steps: copy while running → stop on ${plan.from} → final copy → verify${o.checksum ? ' (checksums)' : ''} → git mv → deploy on ${plan.to}` +
      ` → remove the container on ${plan.from} (its data stays, renamed *.man8s-migrated-<time>, until man8s gc ${plan.from}) → commit`,
  );
  return lines.join('\n');
}
