import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { UserError } from '../../errors.js';
import type { GlobalOptions } from '../global.js';
import {
  PACKAGES,
  checkPlatform,
  ensurePackages,
  findRepoRoot,
  fleetHostNames,
  missingPackages,
  sandboxDown,
  sandboxImages,
  sandboxReset,
  sandboxStatus,
  sandboxUp,
  type SandboxStatus,
} from '../../sandbox/index.js';

interface UpArgs extends GlobalOptions {
  hosts?: string;
  'from-fleet': boolean;
  install: boolean;
  image?: string[];
}
interface StatusArgs extends GlobalOptions {
  json: boolean;
}
interface ImagesArgs extends GlobalOptions {
  image: string[];
}
interface PrereqArgs extends GlobalOptions {
  install: boolean;
  list: boolean;
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const say = (line: string) => process.stderr.write(`sandbox: ${line}\n`);

/** The sandbox lives in the repo holding the fleet (or the current directory's repo). */
function repoRootOf(argv: GlobalOptions): string {
  return findRepoRoot(argv.fleet ? resolve(argv.fleet) : process.cwd());
}

function hostList(argv: UpArgs, repoRoot: string): string[] {
  if (argv.hosts && argv['from-fleet']) throw new UserError('sandbox up: give --hosts or --from-fleet, not both');
  if (argv['from-fleet']) return fleetHostNames(argv.fleet ? resolve(argv.fleet) : resolve(repoRoot, 'hosts'));
  if (argv.hosts) return argv.hosts.split(',').map((h) => h.trim()).filter(Boolean);
  return ['a', 'b', 'c'];
}

function printStatus(s: SandboxStatus): void {
  if (s.state === 'down') {
    out(`no sandbox is running for ${s.repoRoot}`);
    return;
  }
  const yes = (b: boolean) => (b ? 'ok' : 'DOWN');
  const want = s.hosts.length - 1;
  const rows = [
    ['HOST', 'ADDRESS', 'SSH', 'YGGADDR', 'SSHD', 'ENGINE', 'YGGDRASIL'],
    ...s.hosts.map((h) => [
      h.name,
      h.address,
      h.ssh,
      h.yggaddr ?? '-',
      yes(h.sshd),
      yes(h.engine),
      h.yggdrasil ? `ok, ${h.yggPeers}/${want} peers` : 'DOWN',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) out(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
  out(`sandbox ${s.state}, ${s.healthy ? 'healthy' : 'NOT healthy'}${s.sshConfig ? `; ssh -F ${s.sshConfig} <SSH>` : ''}`);
}

const up: CommandModule<GlobalOptions, UpArgs> = {
  command: 'up',
  describe: 'Start local test hosts (network namespaces with sshd, docker, yggdrasil) and write .man8s/sandbox.json',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .option('hosts', { type: 'string', describe: 'Comma-separated host names (default: a,b,c)' })
      .option('from-fleet', { type: 'boolean', default: false, describe: "One sandbox host per folder of the fleet's hosts/" })
      .option('install', { type: 'boolean', default: false, describe: 'apt-get install missing Debian packages first' })
      .option('image', { type: 'string', array: true, describe: 'Also build a stand-in for this image on every host (repeatable)' })
      .example('$0 sandbox up --from-fleet', 'One sandbox host per host of the fleet (relink, lothric, tarrey in the demo)')
      .example('$0 sandbox up --hosts a,b --install', 'Two hosts, installing missing Debian packages first') as Argv<UpArgs>,
  handler: async (argv) => {
    const repoRoot = repoRootOf(argv);
    const hosts = hostList(argv, repoRoot);
    const r = await sandboxUp({ repoRoot, hosts, install: argv.install || !!process.env.CI, images: argv.image ?? [], log: say });
    printStatus(await sandboxStatus(repoRoot));
    out(
      r.reused
        ? `sandbox already up with ${hosts.length} hosts; reused`
        : `sandbox up: ${hosts.length} hosts in ${r.seconds.toFixed(1)} s`,
    );
  },
};

const down: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'down',
  describe: 'Stop every sandbox process and remove its namespaces, links, mounts and files',
  builder: (y: Argv<GlobalOptions>) => y.example('$0 sandbox down', 'Remove the sandbox of this repo; the fleet is untouched'),
  handler: async (argv) => {
    const r = await sandboxDown(repoRootOf(argv), say);
    if (r.otherOwner) out(`the running sandbox belongs to ${r.otherOwner}; left it alone (run man8s sandbox down there)`);
    else out(`sandbox down: stopped ${r.stoppedProcesses} processes, removed ${r.removedNetns.length} namespaces`);
  },
};

const status: CommandModule<GlobalOptions, StatusArgs> = {
  command: 'status',
  describe: 'Hosts, addresses, ygg addresses and health of sshd, engine and yggdrasil peering',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
      .example('$0 sandbox status', 'Each host: address, ssh alias, yggdrasil address and peers; exit 1 when not healthy')
      .example('$0 sandbox status --json', 'The same, for scripts') as Argv<StatusArgs>,
  handler: async (argv) => {
    const s = await sandboxStatus(repoRootOf(argv));
    if (argv.json) out(JSON.stringify(s, null, 2));
    else printStatus(s);
    if (s.state !== 'down' && !s.healthy) process.exitCode = 1;
  },
};

const images: CommandModule<GlobalOptions, ImagesArgs> = {
  command: 'images <image..>',
  describe: 'Build, on every host, a stand-in (busybox httpd naming the image) for each image the engine lacks',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .positional('image', { type: 'string', array: true, demandOption: true, describe: 'Image references' })
      .example('$0 sandbox images library/nginx vectorim/element-web', 'Stand-ins for two images the hosts cannot pull') as Argv<ImagesArgs>,
  handler: async (argv) => {
    const built = await sandboxImages(repoRootOf(argv), argv.image.map(String), say);
    const n = Object.values(built).reduce((a, b) => a + b.length, 0);
    out(`sandbox images: ${n} stand-ins built on ${Object.keys(built).length} hosts`);
  },
};

const reset: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'reset',
  describe: 'Remove all containers and wipe /var/lib/man8s and man8s lock/state on every sandbox host',
  builder: (y: Argv<GlobalOptions>) => y.example('$0 sandbox reset', 'Empty hosts again, without restarting them'),
  handler: async (argv) => {
    await sandboxReset(repoRootOf(argv));
    out('sandbox reset: hosts are empty');
  },
};

const prereqs: CommandModule<GlobalOptions, PrereqArgs> = {
  command: 'prereqs',
  describe: 'Check (or with --install, apt-get install) the Debian packages the sandbox needs',
  builder: (y: Argv<GlobalOptions>) =>
    y
      .option('install', { type: 'boolean', default: false, describe: 'apt-get install what is missing' })
      .option('list', { type: 'boolean', default: false, describe: 'Only print the package names' })
      .example('$0 sandbox prereqs', 'Which Debian packages are missing')
      .example('$0 sandbox prereqs --install', 'apt-get install them (as root)') as Argv<PrereqArgs>,
  handler: async (argv) => {
    if (argv.list) {
      out(PACKAGES.join(' '));
      return;
    }
    checkPlatform();
    await ensurePackages(argv.install, say);
    const missing = await missingPackages();
    out(missing.length === 0 ? `sandbox prerequisites present: ${PACKAGES.join(' ')}` : `missing: ${missing.join(' ')}`);
  },
};

export const sandboxCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'sandbox <command>',
  describe: 'Local test hosts in network namespaces: up, down, status, images, reset, prereqs',
  builder: (y) =>
    y
      .command(up)
      .command(down)
      .command(status)
      .command(images)
      .command(reset)
      .command(prereqs)
      .demandCommand(1)
      .example('$0 sandbox up --from-fleet', 'Start one local host per host of the fleet')
      .example('$0 plan --sandbox', 'Then aim any command at them with --sandbox'),
  handler: () => {},
};
