import type { Argv, CommandModule } from 'yargs';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { withRemoteOptions, connectSettings, formatStats, type RemoteOptions } from '../remote-options.js';
import { progressMode, withProgress } from '../progress.js';
import { formatTable } from '../table.js';
import { eachHost, selectHosts } from '../../apply/hosts.js';
import { selectChangedHosts } from '../../apply/changed.js';
import { prepareHost, applyPrepared, abandon, newDeployId, committedInputs, type PreparedHost, type AppliedHost } from '../../apply/deploy.js';
import { watchInterruptions, type Interruption } from '../../apply/interrupt.js';
import { confirm } from '../confirm.js';
import { buildRecord, deployer, recordChanged, recordDir } from '../../apply/record.js';
import { applyOutline, type HostApplyResult } from '../../apply/apply-host.js';
import { gatherDiffs } from '../../plan/run.js';
import { formatHostPlan } from '../../plan/format.js';
import { hostHasChanges } from '../../plan/diff.js';
import { planJson } from '../../plan/json.js';
import { openRepo, headCommit, assertCommitted, commitFiles, pushWithRetry } from '../../git/repo.js';
import { writeDeployed, type ContainerResult } from '../../git/deployed.js';
import { ExitCode, UserError } from '../../errors.js';
import { mkdir } from 'node:fs/promises';
import type { ConnectionStats } from '../../remote/transport.js';
import type { HostSpec } from '../../fleet/model.js';

export interface DeployArgs extends GlobalOptions, RemoteOptions {
  hosts: string[];
  all: boolean;
  only: string[];
  pull: boolean;
  prune: boolean;
  yes: boolean;
  json: boolean;
  changed: boolean;
  since?: string;
  push: boolean;
  'allow-dirty': boolean;
  'lock-wait': number;
  'health-timeout': number;
  settle: number;
}

const RESULT_COLUMNS: ContainerResult[] = ['created', 'recreated', 'restarted', 'started', 'unchanged', 'failed', 'skipped'];

function countResults(result: HostApplyResult | null, unchanged: number): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(RESULT_COLUMNS.map((r) => [r, 0]));
  if (!result) counts.unchanged = unchanged;
  else for (const o of result.outcomes) counts[o.result] = (counts[o.result] ?? 0) + 1;
  return counts;
}

function hostTitle(a: AppliedHost | { error: string }): string {
  if ('error' in a) return `error: ${a.error}`;
  if (a.result?.error) return `failed: ${a.result.error}`;
  const counts = countResults(a.result, a.prepared.state.plan.containers.length);
  const said = RESULT_COLUMNS.filter((r) => counts[r]! > 0).map((r) => `${counts[r]} ${r}`);
  if (a.result?.pruned.length) said.push(`${a.result.pruned.length} pruned`);
  return said.join(', ') || 'nothing to do';
}

function commitMessage(applied: AppliedHost[], commit: string): string {
  const parts = [...applied].sort((x, y) => x.prepared.host.name.localeCompare(y.prepared.host.name)).map((a) => {
    const byResult = new Map<string, string[]>();
    for (const o of a.result?.outcomes ?? []) {
      if (o.result === 'unchanged') continue;
      byResult.set(o.result, [...(byResult.get(o.result) ?? []), o.name]);
    }
    const said = [...byResult].map(([r, names]) => `${r} ${names.join(', ')}`).join('; ');
    return `${a.prepared.host.name}${said ? ` (${said})` : ''}`;
  });
  return `deploy ${parts.join(', ')}\n\nDeployed ${commit.slice(0, 12)} by ${deployer()}.\n\n[skip ci]`;
}

export const deployCommand: CommandModule<GlobalOptions, DeployArgs> = {
  command: 'deploy [hosts..]',
  describe: 'Make hosts match git: sync conf/plugin, prepare mounts, compose up in dependency order, then record it as a commit',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('hosts', { type: 'string', array: true, default: [], describe: 'Hosts to deploy' })
      .option('all', { type: 'boolean', default: false, describe: 'Every host of the fleet' })
      .option('only', { type: 'string', array: true, default: [], describe: 'Only these containers' })
      .option('pull', { type: 'boolean', default: false, describe: 'Pull images first (a tag like latest that moved)' })
      .option('prune', { type: 'boolean', default: false, describe: 'Remove orphan containers (never their data) and set orphan folders aside' })
      .option('yes', { alias: 'y', type: 'boolean', default: false, describe: 'Apply without asking (required when not on a terminal)' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the plan and results as JSON' })
      .option('changed', { type: 'boolean', default: false, describe: 'Only hosts changed since the commit in their deployed.yaml (CI)' })
      .option('since', { type: 'string', describe: 'With --changed: compare against this commit instead' })
      .option('push', { type: 'boolean', default: false, describe: 'git push the write-back commit (rebasing and retrying if needed)' })
      .option('allow-dirty', { type: 'boolean', default: false, describe: 'Deploy the work tree even with uncommitted changes' })
      .option('lock-wait', { type: 'number', default: 0, describe: 'Seconds to wait for a host locked by another deploy' })
      .option('health-timeout', { type: 'number', default: 60, describe: 'Seconds a container has to come up (and pass its healthcheck)' })
      .option('settle', { type: 'number', default: 3, describe: 'Seconds a container must stay up, unrestarted, to count as started' })
      .check((a) => {
        if (a.hosts.length > 0 && (a.all || a.changed)) throw new Error('name hosts, or use --all / --changed, not both');
        if (a.hosts.length === 0 && !a.all && !a.changed) throw new Error('say which hosts: name them, or --all, or --changed');
        return true;
      })
      .example('$0 deploy relink', 'Show the plan for relink, ask, apply, commit deployed.yaml')
      .example('$0 deploy --changed --push --yes', 'In CI on every push: the hosts that changed, without a prompt') as Argv<DeployArgs>,
  handler: (args) => runDeploy(args),
};

/**
 * The deploy flow, shared with `man8s pull`: `pick` names exact containers per host (pull's
 * `name`/`host/name` arguments) instead of hosts plus --only.
 */
export async function runDeploy(args: DeployArgs, pick?: Array<{ host: HostSpec; names: string[] }>): Promise<void> {
  const fleet = await loadFleetOrFail(args);
  let hosts = pick ? pick.map((p) => p.host) : selectHosts(fleet, args.all || args.changed ? [] : args.hosts);
  const onlyFor = (host: HostSpec): string[] => (pick ? pick.find((p) => p.host.name === host.name)!.names : args.only);
  const repo = await openRepo(fleet.repoRoot);
  if (!args['allow-dirty']) await assertCommitted(repo, committedInputs(fleet));
  const commit = await headCommit(repo);
  if (args.changed) hosts = await selectChangedHosts(fleet, hosts, args.since, args.sandbox);
  const mode = progressMode(args);
  const out = (text: string) => mode !== 'silent' && process.stdout.write(text);
  if (hosts.length === 0) {
    out('no host to deploy: none changed\n');
    if (args.json) process.stdout.write('{"hosts":[]}\n');
    return;
  }
  const interactive = process.stdin.isTTY && process.stdout.isTTY && !process.env.CI;
  if (!args.yes && !interactive) throw new UserError('not on a terminal, so no one can confirm the plan: pass --yes to deploy without asking');

  // From the first connection to the last commit, Ctrl-C and SIGTERM stop at a safe point.
  const interrupt = watchInterruptions();
  try {
    await deployHosts(args, fleet, hosts, { commit, repo, onlyFor, mode, out, interrupt });
  } finally {
    interrupt.dispose();
  }
}

interface DeployContext {
  commit: string;
  repo: Awaited<ReturnType<typeof openRepo>>;
  onlyFor: (host: HostSpec) => string[];
  mode: ReturnType<typeof progressMode>;
  out: (text: string) => void;
  interrupt: Interruption;
}

function printStats(args: DeployArgs, stats: ConnectionStats[]): void {
  if (args.stats) process.stderr.write(formatStats([...stats].sort((a, b) => a.host.localeCompare(b.host))));
}

async function deployHosts(args: DeployArgs, fleet: Awaited<ReturnType<typeof loadFleetOrFail>>, hosts: HostSpec[], ctx: DeployContext): Promise<void> {
  const { commit, repo, onlyFor, mode, out, interrupt } = ctx;
  const stats: ConnectionStats[] = [];

  // Phase 1: connect, lock, observe, plan — nothing changes on any host.
  const records = (h: HostSpec) => recordDir(fleet, h, args.sandbox);
  const prepared = await eachHost(hosts, args.parallel, (host) =>
    prepareHost(fleet, host, { connect: connectSettings(args), commit, lockWaitSec: args['lock-wait'], recordDir: records, pull: args.pull, signal: interrupt.signal, ...(onlyFor(host).length ? { only: onlyFor(host) } : {}) }),
  );
  const ready = prepared.flatMap((p) => (p.ok ? [p.value] : []));
  const failedEarly = prepared.flatMap((p) => (p.ok ? [] : [{ host: p.host, error: p.error }]));
  stats.push(...prepared.flatMap((p) => (!p.ok && p.stats ? [p.stats] : [])));
  /** Before anything is applied, an interruption releases every lock and ends the run with one line. */
  const stopIfInterrupted = async (hostsHeld: readonly PreparedHost[]) => {
    if (!interrupt.signal.aborted) return;
    for (const p of hostsHeld) stats.push(await abandon(p));
    printStats(args, stats);
    throw new UserError('interrupted: nothing was changed on any host; locks released', ExitCode.interrupted);
  };
  await stopIfInterrupted(ready);

  for (const p of ready) {
    if (interrupt.signal.aborted) break;
    for (const n of p.notes) out(`${p.host.name}: warning: ${n}\n`);
    const diffs = mode === 'silent' || !hostHasChanges(p.state.plan, { prune: args.prune }) ? [] : await gatherDiffs(p.state, p.conn);
    out(`${formatHostPlan({ plan: p.state.plan, destination: p.conn.resolved.destination, diffs }, { prune: args.prune })}\n\n`);
  }
  await stopIfInterrupted(ready);
  for (const f of failedEarly) out(`${f.host}: error: ${f.error}\n\n`);

  const toApply = ready.filter((p) => p.state.plan.errors.length === 0);
  const changing = toApply.filter((p) => hostHasChanges(p.state.plan, { prune: args.prune }));
  const blocked = ready.filter((p) => p.state.plan.errors.length > 0);
  for (const p of blocked) stats.push(await abandon(p));
  if (changing.length > 0 && !args.yes) {
    const answer = await confirm(`Deploy to ${changing.map((p) => p.host.name).join(', ')}? [y/N] `, { signal: interrupt.signal });
    if (answer === 'interrupted') interrupt.interrupt();
    await stopIfInterrupted(toApply);
    if (answer === 'no') {
      for (const p of toApply) stats.push(await abandon(p));
      printStats(args, stats);
      throw new UserError('deploy cancelled; nothing was changed', ExitCode.error);
    }
  }

  // Phase 2: apply, in parallel; a failing host does not stop the others.
  interrupt.firstMessage = 'interrupted: finishing the current step on each host, putting unapplied files back and releasing locks (Ctrl-C again to quit now)';
  const deployId = newDeployId();
  const byName = new Map(toApply.map((p) => [p.host.name, p] as const));
  type Applied = AppliedHost | { error: string; stats: ConnectionStats };
  const applied = await withProgress<Applied>(
    mode,
    toApply.map((p) => p.host.name),
    args.parallel,
    async (name, report) => {
      try {
        return await applyPrepared(fleet, byName.get(name)!, { deployId, prune: args.prune, healthTimeoutSec: args['health-timeout'], settleSec: args.settle, signal: interrupt.signal }, report);
      } catch (err) {
        if (err instanceof UserError) return { error: err.message, stats: byName.get(name)!.conn.stats() };
        throw err;
      }
    },
    (_host, value) => hostTitle(value),
    (name) => applyOutline(byName.get(name)!.state.plan, { prune: args.prune }),
  );
  const done = [...applied.values()].filter((a): a is AppliedHost => !('error' in a));
  stats.push(...[...applied.values()].map((a) => a.stats));

  // Write-back: deployed.yaml per host that changed, one commit for all of them.
  const now = new Date();
  const written: string[] = [];
  const recorded: AppliedHost[] = [];
  for (const a of done) {
    if (a.result?.error) continue;
    const record = buildRecord(a.prepared.state, a.result, commit, now, deployer());
    if (!recordChanged(a.prepared.state.deployed, record)) continue;
    const dir = records(a.prepared.host);
    await mkdir(dir, { recursive: true });
    written.push(await writeDeployed(dir, record));
    recorded.push(a);
  }
  let writeBack: string | null = null;
  if (written.length > 0 && !args.sandbox) {
    writeBack = await commitFiles(repo, written, commitMessage(recorded, commit));
    if (writeBack && args.push) await pushWithRetry(repo);
  }

  const anyFailed =
    failedEarly.length > 0 ||
    blocked.length > 0 ||
    [...applied.values()].some((a) => 'error' in a || a.result?.error || a.result?.outcomes.some((o) => o.result === 'failed' || o.result === 'skipped'));
  if (args.json) {
    process.stdout.write(`${JSON.stringify(deployJson(ready, failedEarly, applied, writeBack), null, 2)}\n`);
  } else {
    out(`\n${summaryTable(ready, failedEarly, applied)}`);
    const problems = [...applied.values()].flatMap((a) => ('error' in a ? [] : (a.result?.outcomes ?? []).filter((o) => o.error).map((o) => `${a.prepared.host.name}: ${o.name}: ${o.result}: ${o.error}`)));
    if (problems.length) out(`\n${problems.join('\n')}\n`);
    if (writeBack) out(`\nrecorded in ${writeBack.slice(0, 12)}${args.push ? ' (pushed)' : ''}: ${written.length} deployed.yaml\n`);
    else if (written.length && args.sandbox) out(`\nrecorded in .man8s/sandbox/deployed/ (sandbox: not committed)\n`);
  }
  printStats(args, stats);
  if (interrupt.signal.aborted) process.exitCode = ExitCode.interrupted;
  else if (anyFailed) process.exitCode = ExitCode.error;
}

function summaryTable(ready: PreparedHost[], failedEarly: Array<{ host: string; error: string }>, applied: Map<string, AppliedHost | { error: string }>): string {
  const rows: string[][] = [];
  for (const p of ready) {
    const a = applied.get(p.host.name);
    if (!a) {
      rows.push([p.host.name, ...RESULT_COLUMNS.map(() => '-'), '-', `not applied: ${p.state.plan.errors.join('; ')}`]);
      continue;
    }
    if ('error' in a || a.result?.error) {
      rows.push([p.host.name, ...RESULT_COLUMNS.map(() => '-'), '-', 'error' in a ? a.error : a.result!.error!]);
      continue;
    }
    const counts = countResults(a.result, p.state.plan.containers.length);
    rows.push([p.host.name, ...RESULT_COLUMNS.map((r) => String(counts[r])), String(a.result?.pruned.length ?? 0), '']);
  }
  for (const f of failedEarly) rows.push([f.host, ...RESULT_COLUMNS.map(() => '-'), '-', f.error]);
  return formatTable(['Host', 'Created', 'Recreated', 'Restarted', 'Started', 'Unchanged', 'Failed', 'Skipped', 'Pruned', 'Error'], rows);
}

function deployJson(ready: PreparedHost[], failedEarly: Array<{ host: string; error: string }>, applied: Map<string, AppliedHost | { error: string }>, writeBack: string | null): unknown {
  return {
    hosts: [
      ...ready.map((p) => {
        const a = applied.get(p.host.name);
        const base = planJson({ plan: p.state.plan, destination: p.conn.resolved.destination, diffs: [] });
        if (!a) return { ...(base as object), applied: false };
        if ('error' in a) return { ...(base as object), applied: false, error: a.error };
        return { ...(base as object), applied: a.result !== null, ...(a.result ? { outcomes: a.result.outcomes, pruned: a.result.pruned, filesSynced: a.result.filesSynced, ...(a.result.error ? { error: a.result.error } : {}) } : {}), stats: a.stats };
      }),
      ...failedEarly.map((f) => ({ host: f.host, error: f.error })),
    ],
    writeBack,
  };
}
