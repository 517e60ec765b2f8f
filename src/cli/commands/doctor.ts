import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../../errors.js';
import type { HostSpec } from '../../fleet/model.js';
import { eachHost, openHost, selectHosts } from '../../apply/hosts.js';
import { quoteArgv } from '../../remote/quote.js';
import type { Connection } from '../../remote/transport.js';
import { formatFindings, problemCount, runDoctor, type Finding } from '../../ops/doctor.js';
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
  /** Setup only: what it ran, and whether that worked. */
  fixed: Array<{ check: string; command: string; ok: boolean; error?: string }>;
  findings: Finding[];
}

function destinationOf(conn: Connection): string {
  return `${conn.resolved.user}@${conn.resolved.hostname}:${conn.resolved.port}`;
}

/** Runs setup's safe fixes for every failing finding that has them, then checks again. */
async function setupHost(conn: Connection, host: HostSpec): Promise<HostReport> {
  const before = await runDoctor(conn, host);
  const fixed: HostReport['fixed'] = [];
  for (const f of before) {
    if (f.ok || !f.fixArgv) continue;
    for (const argv of f.fixArgv) {
      const r = await conn.run(argv, { timeoutMs: 120_000 });
      const error = (r.stderr || r.stdout).trim().split('\n').slice(-2).join(' ');
      fixed.push({ check: f.check, command: quoteArgv(argv), ok: r.code === 0, ...(r.code !== 0 ? { error: error || `exit ${r.code}` } : {}) });
      if (r.code !== 0) break;
    }
  }
  return { host: host.name, destination: destinationOf(conn), fixed, findings: fixed.length ? await runDoctor(conn, host) : before };
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
    const done = r.fixed.map((f) => `  ${f.ok ? 'fixed' : 'FAILED'} ${f.check}: ${f.command}${f.error ? ` (${f.error})` : ''}\n`).join('');
    let text = formatFindings(r.host, r.destination, setup ? r.findings.filter((f) => !f.ok) : r.findings, { setupHint: !setup });
    if (setup) {
      const left = r.findings.filter((f) => !f.ok && f.severity === 'error');
      // formatFindings's summary line counts what is left; say plainly that setup cannot do it.
      if (left.length > 0) text += `${r.host}: setup cannot fix ${left.map((f) => f.check).join(', ')}; do the fix shown by hand\n`;
      if (r.fixed.length === 0 && left.length === 0) text = `${r.host} (${r.destination})\n${r.host}: nothing to do, ready for Man8S\n`;
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
      ? "Fix a host's Man8S prerequisites that are safe to fix (networks, storage folders); say what needs a person"
      : "Check a host's Man8S prerequisites: engine and compose, rsync, yggdrasil at host.yaml's address, networks, storage folders",
    builder: (y: Argv<GlobalOptions>) =>
      (setup
        ? withRemoteOptions(y)
            .positional('hosts', { type: 'string', array: true, demandOption: true, describe: 'Hosts to set up' })
            .example('$0 setup relink', 'Create missing man8yggbr/man8br networks and storage folders on relink, then check again')
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
          if (setup) return await setupHost(conn, host);
          return { host: host.name, destination: destinationOf(conn), fixed: [], findings: await runDoctor(conn, host) };
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
