import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parse } from 'yaml';
import type { Argv, CommandModule } from 'yargs';
import { ExitCode, UserError } from '../../errors.js';
import type { Engine } from '../../fleet/model.js';
import { findRepoRoot, isInside } from '../../fleet/repo.js';
import { FLEET_SETTINGS_FILE, HOST_FILE } from '../../fleet/load.js';
import { formatDiagnostic } from '../../fleet/model.js';
import { assertSafeName } from '../../remote/paths.js';
import { pullTreesArgv, runRsync } from '../../remote/rsync.js';
import { connectHost } from '../../remote/transport.js';
import { readSandboxOverlay } from '../../sandbox/overlay.js';
import { commitImport, decideImport, importedHostYaml, MBCTL_CONFIG, probeForImport } from '../../ops/import.js';
import { loadCheckedFleet } from '../context.js';
import type { GlobalOptions } from '../global.js';
import { connectSettings, withRemoteOptions, type RemoteOptions } from '../remote-options.js';

interface ImportArgs extends GlobalOptions, RemoteOptions {
  host: string;
  ssh?: string;
  'dry-run': boolean;
  'mbctl-config': string;
  engine?: Engine;
  commit: boolean;
}

/** man8s.yaml's `fleet:` and `defaults.ssh_config`, read before the new host exists (the loader validates it after). */
function fleetSettings(repoRoot: string): { fleet?: string; sshConfig?: string } {
  const file = join(repoRoot, FLEET_SETTINGS_FILE);
  if (!existsSync(file)) return {};
  try {
    const data = (parse(readFileSync(file, 'utf8')) ?? {}) as { fleet?: unknown; defaults?: { ssh_config?: unknown } };
    return {
      ...(typeof data.fleet === 'string' ? { fleet: data.fleet } : {}),
      ...(typeof data.defaults?.ssh_config === 'string' ? { sshConfig: resolve(repoRoot, data.defaults.ssh_config) } : {}),
    };
  } catch {
    return {}; // the loader reports man8s.yaml problems with their line
  }
}

export const importCommand: CommandModule<GlobalOptions, ImportArgs> = {
  command: 'import <host>',
  describe: 'Bring a host managed by hand (mbctl) into the fleet: its settings, conf/ and plugin/ into hosts/<host>/, validated and committed',
  builder: (y: Argv<GlobalOptions>) =>
    withRemoteOptions(y)
      .positional('host', { type: 'string', demandOption: true, describe: 'Name of the new host (its folder under the fleet root)' })
      .option('ssh', { type: 'string', describe: 'ssh destination (alias or user@host[:port]); default: the host name; written to host.yaml' })
      .option('dry-run', { type: 'boolean', default: false, describe: 'Show host.yaml and the files it would copy; write and commit nothing' })
      .option('mbctl-config', { type: 'string', default: MBCTL_CONFIG, describe: "mbctl's config file on the host" })
      .option('engine', { choices: ['nerdctl', 'docker'] as const, describe: 'Engine for host.yaml (default: nerdctl if installed, else docker)' })
      .option('commit', { type: 'boolean', default: true, describe: 'Commit hosts/<host>/ (--no-commit leaves it for you to review)' })
      .example('$0 import relink --ssh root@relink.example.org', 'Import relink, reached as root@relink.example.org')
      .example('$0 import relink --dry-run', 'Show what it would write') as Argv<ImportArgs>,
  handler: async (args) => {
    const name = args.host;
    try {
      assertSafeName(name, 'host name');
    } catch {
      throw new UserError(`"${name}" cannot be a host name (a folder name of letters, digits, . _ -)`);
    }
    const cwd = process.cwd();
    const explicit = args.fleet !== undefined ? resolve(cwd, args.fleet) : undefined;
    const repoRoot = findRepoRoot(cwd, explicit);
    const fs = fleetSettings(repoRoot);
    const fleetRoot = explicit ?? resolve(repoRoot, fs.fleet ?? 'hosts');
    const hostDir = join(fleetRoot, name);
    const shown = relative(cwd, hostDir) || hostDir;
    if (existsSync(hostDir)) throw new UserError(`${shown} already exists: import only adds new hosts (remove it first, or import under another name)`);

    // --sandbox reaches the sandbox host of that name; host.yaml still gets what the user said (--ssh).
    const overlay = args.sandbox ? readSandboxOverlay(repoRoot).hosts[name] : undefined;
    if (args.sandbox && !overlay) throw new UserError(`--sandbox: no sandbox host ${name}`);
    const dest = overlay?.ssh ?? args.ssh ?? name;
    const configFile = overlay?.sshConfig ?? fs.sshConfig;
    const cs = connectSettings(args);
    const conn = await connectHost(dest, {
      host: name,
      ...(configFile ? { configFile } : {}),
      ...(cs.acceptNewHostKeys ? { acceptNewHostKeys: true } : {}),
      ...(cs.logger ? { logger: cs.logger } : {}),
    });
    let created = false;
    try {
      const probe = await probeForImport(conn, args['mbctl-config']);
      const decided = decideImport({ host: name, ...(args.ssh ? { ssh: args.ssh } : {}), configPath: args['mbctl-config'], probe, ...(args.engine ? { engine: args.engine } : {}) });
      const from = `${args.ssh ?? name}:${args['mbctl-config']}`;
      const hostYaml = importedHostYaml(decided, from);
      const storagePath = decided.settings.storage_path ?? '/var/lib/man8s';
      for (const n of decided.notes) process.stderr.write(`man8s: ${name}: ${n}\n`);

      if (!args['dry-run']) {
        mkdirSync(hostDir, { recursive: true });
        created = true;
      }
      const rsync = await runRsync(
        pullTreesArgv({ host: conn.resolved, storagePath, localDir: args['dry-run'] ? join(fleetRoot, `.${name}.import-dry-run`) : hostDir, dryRun: args['dry-run'] }),
        { label: name },
      );
      conn.recordExternal({ connections: 1, bytesSent: rsync.stats.bytesSent ?? 0, bytesReceived: rsync.stats.bytesReceived ?? 0 });
      const files = rsync.items.filter((i) => i.action !== 'deleted' && i.kind !== 'dir').map((i) => i.path).sort();
      const containers = [...new Set(files.filter((f) => f.startsWith('conf/')).map((f) => f.split('/')[1]!))].sort();

      if (args['dry-run']) {
        process.stdout.write(`would write ${shown}/${HOST_FILE}:\n${hostYaml.replace(/^/gm, '  ')}\n`);
        process.stdout.write(`would copy ${files.length} file${files.length === 1 ? '' : 's'} from ${name}:${storagePath}/ (containers: ${containers.join(', ') || 'none'}):\n`);
        for (const f of files) process.stdout.write(`  ${shown}/${f}\n`);
        return;
      }
      writeFileSync(join(hostDir, HOST_FILE), hostYaml);

      const { diagnostics } = await loadCheckedFleet(args, cwd);
      const mine = diagnostics.filter((d) => isInside(resolve(cwd, d.file), hostDir));
      if (mine.length > 0) {
        created = false; // keep the files: they are what the host has, and the user fixes them in place
        process.stdout.write(`imported ${name} into ${shown} (${containers.length} containers), but it does not validate:\n`);
        for (const d of mine) process.stdout.write(`${formatDiagnostic(d)}\n`);
        process.stdout.write(`fix these, then commit ${shown} yourself (git add ${shown} && git commit)\n`);
        process.exitCode = ExitCode.error;
        return;
      }
      created = false;
      let commit: string | null = null;
      if (args.commit) commit = await commitImport(repoRoot, hostDir, `man8s import ${name} from ${args.ssh ?? name}`, shown);
      process.stdout.write(
        `imported ${name} into ${shown}: ${containers.length} container${containers.length === 1 ? '' : 's'} (${containers.join(', ') || 'none'}), ${files.length} files` +
          `${commit ? `; committed ${commit.slice(0, 12)}` : args.commit ? '' : '; not committed (--no-commit)'}\n` +
          `next: man8s plan ${name} shows how the host differs from git (containers made by mbctl are re-created once to get man8s's labels)\n`,
      );
    } finally {
      // A failed import leaves nothing half-written behind.
      if (created) rmSync(hostDir, { recursive: true, force: true });
      await conn.close();
    }
  },
};
