import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import type { HostSpec } from '../../fleet/model.js';
import { HOST_FILE } from '../../fleet/load.js';
import { displayPath } from '../../fleet/repo.js';
import { overlayPath } from '../../sandbox/overlay.js';
import { eachHost, openHost, selectHosts } from '../../apply/hosts.js';
import type { Connection } from '../../remote/transport.js';
import { formatFindings, problemCount, runDoctor, type Finding } from '../../ops/doctor.js';
import { applyFix, rewriteYggaddr, type FixRun } from '../../ops/setup.js';
import { withoutHostPrefix } from '../../ops/messages.js';
import { loadFleetOrFail } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { connectSettings, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

interface DoctorArgs extends GlobalOptions, RemoteOptions {
  hosts: string[];
  json: boolean;
}

interface HostReport {
  host: string;
  destination: string;
  /** Setup only: what it ran or wrote, and whether that worked (undo runs included). */
  fixed: FixRun[];
  /** Setup only: what it left alone and why, and what the operator does next. */
  notes: string[];
  findings: Finding[];
}

function destinationOf(conn: Connection): string {
  return `${conn.resolved.user}@${conn.resolved.hostname}:${conn.resolved.port}`;
}

/**
 * The repo side of a wrong yggaddr: the host's address derives from its private key and every container
 * address follows from it, so host.yaml is corrected in place (comments and layout kept) and left for the
 * operator to review and commit, like any change to the fleet. Under --sandbox the overlay sets yggaddr.
 */
function fixHostYaml(host: HostSpec, address: string, overlay: string | null, report: Pick<HostReport, 'fixed' | 'notes'>): HostSpec {
  if (overlay) {
    report.notes.push(
      `--sandbox: yggaddr comes from the sandbox overlay (${displayPath(process.cwd(), overlay)}), not ${host.file}; left it alone (man8s sandbox status shows the real addresses)`,
    );
    return host;
  }
  const path = join(host.dir, HOST_FILE);
  writeFileSync(path, rewriteYggaddr(readFileSync(path, 'utf8'), address, host.file));
  report.fixed.push({ check: 'yggdrasil', command: `wrote yggaddr: ${address} into ${host.file} (was ${host.settings.yggaddr}), the address the host's yggdrasil has`, ok: true });
  report.notes.push(
    `${host.file} changed and not committed: every container address on ${host.name} follows from yggaddr; review it (git diff ${host.file}, man8s plan ${host.name}), then commit it`,
  );
  return { ...host, settings: { ...host.settings, yggaddr: address } };
}

/**
 * Runs setup's fixes for every failing finding that has them, then checks again. Nothing runs on a host
 * where man8s is not root: each fix would fail halfway.
 */
async function setupHost(conn: Connection, host: HostSpec, overlay: string | null): Promise<HostReport> {
  const before = await runDoctor(conn, host);
  const report: HostReport = { host: host.name, destination: destinationOf(conn), fixed: [], notes: [], findings: before };
  if (before.some((f) => f.check === 'ssh user' && !f.ok)) report.notes.push('not root on the host: setup ran nothing there; log in as root (see ssh user), then run setup again');
  else for (const f of before) if (!f.ok && f.fixArgv) report.fixed.push(...(await applyFix((argv) => conn.run(argv, { timeoutMs: 120_000 }), f)));
  const ygg = before.find((f) => !f.ok && f.setYggaddr)?.setYggaddr;
  const checked = ygg ? fixHostYaml(host, ygg, overlay, report) : host;
  if (report.fixed.length > 0) report.findings = await runDoctor(conn, checked);
  return report;
}

function fixLine(f: FixRun): string {
  const tag = f.undo ? (f.ok ? 'undone' : 'UNDO FAILED') : f.ok ? 'fixed' : 'FAILED';
  return `  ${tag} ${f.check}: ${f.command}${f.error ? ` (${f.error})` : ''}\n`;
}

function printReports(outcomes: Array<{ host: string; ok: true; value: HostReport } | { host: string; ok: false; error: string }>, json: boolean, setup: boolean): void {
  if (json) {
    const out = outcomes.map((o) => (o.ok ? { ...o.value, problems: problemCount(o.value.findings) } : { host: o.host, error: withoutHostPrefix(o.host, o.error) }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const blocks = outcomes.map((o) => {
    if (!o.ok) return `${o.host}\n  FAIL  ssh: ${withoutHostPrefix(o.host, o.error)}\n${o.host}: not checked\n`;
    const r = o.value;
    const done = r.fixed.map(fixLine).join('');
    let text = formatFindings(r.host, r.destination, setup ? r.findings.filter((f) => !f.ok) : r.findings, { setupHint: !setup });
    if (setup) {
      const left = r.findings.filter((f) => !f.ok && f.severity === 'error');
      // formatFindings's summary line counts what is left; say plainly that setup cannot do it.
      if (left.length > 0) text += `${r.host}: setup cannot fix ${left.map((f) => f.check).join(', ')}; do the fix shown by hand\n`;
      if (r.fixed.length === 0 && left.length === 0) text = `${r.host} (${r.destination})\n${r.host}: nothing to do, ready for Man8S\n`;
      text += r.notes.map((n) => `${r.host}: ${n}\n`).join('');
    }
    const [head, ...rest] = text.split('\n');
    return `${head}\n${done}${rest.join('\n')}`;
  });
  process.stdout.write(blocks.join('\n'));
}

function hostsCommand(setup: boolean): CommandModule<GlobalOptions, DoctorArgs> {
  return {
    command: setup ? 'setup <hosts..>' : 'doctor [hosts..]',
    describe: setup
      ? "Fix what doctor finds that is safe to fix (networks, storage folders, host.yaml's yggaddr when the host's yggdrasil has another); say what needs a person"
      : "Check a host's Man8S prerequisites: engine and compose, rsync, yggdrasil at host.yaml's address, networks, storage folders",
    builder: (y: Argv<GlobalOptions>) =>
      (setup
        ? withRemoteOptions(y)
            .positional('hosts', { type: 'string', array: true, demandOption: true, describe: 'Hosts to set up' })
            .example('$0 setup relink', 'Create missing man8yggbr/man8br networks and storage folders on relink, then check again')
            .example('$0 setup relink lothric', "Also: a wrong yggaddr in host.yaml is rewritten to the host's real address, for you to review and commit")
        : withRemoteOptions(y)
            .positional('hosts', { type: 'string', array: true, default: [], describe: 'Hosts to check (default: all)' })
            .example('$0 doctor relink', 'Every prerequisite of relink, each problem with its fix')
            .example('$0 doctor --json', 'The whole fleet, for scripts (exit 1 when anything is wrong)')
      ).option('json', { type: 'boolean', default: false, describe: 'Print JSON: per host its findings (and for setup what it ran)' }) as Argv<DoctorArgs>,
    handler: async (args) => {
      const fleet = await loadFleetOrFail(args);
      const hosts = selectHosts(fleet, args.hosts);
      const settings = connectSettings(args);
      const outcomes = await eachHost(hosts, args.parallel, async (host): Promise<HostReport> => {
        const conn = await openHost(host, settings);
        try {
          if (setup) return await setupHost(conn, host, args.sandbox ? overlayPath(fleet.repoRoot) : null);
          return { host: host.name, destination: destinationOf(conn), fixed: [], notes: [], findings: await runDoctor(conn, host) };
        } finally {
          await conn.close();
        }
      });
      printReports(outcomes, args.json, setup);
      const bad = outcomes.some((o) => !o.ok || problemCount(o.value.findings).errors > 0 || o.value.fixed.some((f) => !f.ok));
      if (bad) process.exitCode = ExitCode.error;
    },
  };
}

export const doctorCommand = hostsCommand(false);
export const setupCommand = hostsCommand(true);
