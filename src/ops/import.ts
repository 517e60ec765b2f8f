/**
 * `man8s import <host>`: bring a host managed by hand with mbctl into the fleet repo. Its settings come
 * from /etc/mbctl/config.yaml (MAN8S-SPEC §1 keys), its engine from what is installed, its conf/ and
 * plugin/ trees by rsync (the guide's pull-back); the result is hosts/<host>/ with a host.yaml, which
 * is validated like any fleet change before it is committed.
 */
import { parse } from 'yaml';
import { Document } from 'yaml';
import type { Engine } from '../fleet/model.js';
import { HOST_DEFAULTS } from '../fleet/defaults.js';
import { UserError } from '../errors.js';
import { canonicalYggaddr, yggaddrProblem } from '../man8s/ygg.js';
import { parseYggSelf } from '../remote/observe.js';
import type { Connection } from '../remote/transport.js';
import { commitFiles, openRepo } from '../git/repo.js';
import { keyValues, runProbe, SECTION_SH } from './probe.js';

export const MBCTL_CONFIG = '/etc/mbctl/config.yaml';
export const IMPORT_MAGIC = 'man8s-import 1';

export const IMPORT_SCRIPT = String.raw`
CONFIG=$1
${SECTION_SH}
engines() {
  for t in nerdctl docker; do
    if command -v "$t" >/dev/null 2>&1; then echo "$t=1"; else echo "$t=0"; fi
  done
}
ygg() {
  command -v yggdrasilctl >/dev/null 2>&1 || return 3
  to=; command -v timeout >/dev/null 2>&1 && to="timeout 5"
  $to yggdrasilctl -json getSelf
}
printf '%s\n' '${IMPORT_MAGIC}'
sec mbctl cat -- "$CONFIG"
sec engines engines
sec ygg ygg
exit 0
`;

/** The host.yaml keys mbctl's config shares with man8s (MAN8S-SPEC §1). */
export interface MbctlSettings {
  yggaddr?: string;
  storage_path?: string;
  network?: { withygg?: string; noygg?: string };
  nerdconfig?: { namespace?: string; snapshotter?: string };
  local_domain?: string;
  config_file?: string;
}

const KNOWN: Record<string, readonly string[] | null> = {
  yggaddr: null,
  storage_path: null,
  local_domain: null,
  config_file: null,
  network: ['withygg', 'noygg'],
  nerdconfig: ['namespace', 'snapshotter'],
};

/** Pure: mbctl's config.yaml → the settings man8s keeps, plus warnings for keys it does not know. */
export function parseMbctlConfig(text: string, where: string): { settings: MbctlSettings; warnings: string[] } {
  let data: unknown;
  try {
    data = parse(text);
  } catch (err) {
    throw new UserError(`${where}: not valid YAML (${(err as Error).message.split('\n')[0]}); fix it on the host, then import again`);
  }
  if (data === null || data === undefined) data = {};
  if (typeof data !== 'object' || Array.isArray(data)) throw new UserError(`${where}: expected a map of settings (yggaddr: …)`);
  const settings: Record<string, unknown> = {};
  const warnings: string[] = [];
  for (const [key, value] of Object.entries(data as Record<string, unknown>)) {
    const sub = KNOWN[key];
    if (sub === undefined) {
      warnings.push(`${where}: ${key} is not a setting man8s knows; left out of host.yaml`);
      continue;
    }
    if (sub === null) {
      if (typeof value !== 'string' && typeof value !== 'number') throw new UserError(`${where}: ${key} must be text`);
      settings[key] = String(value);
      continue;
    }
    if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${where}: ${key} must be a map (${sub.join(', ')})`);
    const inner: Record<string, string> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (!sub.includes(k)) warnings.push(`${where}: ${key}.${k} is not a setting man8s knows; left out of host.yaml`);
      else inner[k] = String(v);
    }
    settings[key] = inner;
  }
  return { settings: settings as MbctlSettings, warnings };
}

export interface ImportProbe {
  mbctl: { found: boolean; settings: MbctlSettings; warnings: string[] };
  engines: { nerdctl: boolean; docker: boolean };
  yggAddress?: string;
}

export async function probeForImport(conn: Connection, configPath: string): Promise<ImportProbe> {
  const s = await runProbe(conn, IMPORT_SCRIPT, IMPORT_MAGIC, [configPath], 'reading the host for import');
  const m = s.get('mbctl');
  const found = m?.rc === 0;
  const parsed = found ? parseMbctlConfig(m!.out, `${conn.host}:${configPath}`) : { settings: {}, warnings: [] };
  const eng = keyValues(s.get('engines')?.out ?? '');
  const ygg = s.get('ygg');
  const yggAddress = ygg?.rc === 0 ? parseYggSelf(ygg.out) : undefined;
  return {
    mbctl: { found, ...parsed },
    engines: { nerdctl: eng.nerdctl === '1', docker: eng.docker === '1' },
    ...(yggAddress ? { yggAddress } : {}),
  };
}

export interface ImportedHost {
  host: string;
  /** host.yaml `ssh`, only when it is not the host's name. */
  ssh?: string;
  yggaddr: string;
  engine: Engine;
  settings: MbctlSettings;
  notes: string[];
}

/**
 * Pure: what host.yaml says. yggaddr from mbctl's config (what the running containers were addressed
 * by), else from the host's yggdrasil; engine: nerdctl when installed (the Man8S standard), else docker.
 */
export function decideImport(o: { host: string; ssh?: string; configPath: string; probe: ImportProbe; engine?: Engine }): ImportedHost {
  const { probe } = o;
  const notes = [...probe.mbctl.warnings];
  if (!probe.mbctl.found) notes.push(`${o.configPath} not found on the host: settings are man8s's defaults`);
  let yggaddr = probe.mbctl.settings.yggaddr;
  if (yggaddr && probe.yggAddress && !yggaddrProblem(yggaddr) && !yggaddrProblem(probe.yggAddress) && canonicalYggaddr(yggaddr) !== canonicalYggaddr(probe.yggAddress)) {
    notes.push(`mbctl's yggaddr ${yggaddr} differs from the host's yggdrasil address ${probe.yggAddress}; host.yaml keeps mbctl's (man8s doctor ${o.host} will flag it)`);
  }
  if (!yggaddr && probe.yggAddress) {
    yggaddr = probe.yggAddress;
    notes.push(`yggaddr taken from the host's yggdrasil (getSelf)`);
  }
  if (!yggaddr) {
    throw new UserError(
      `${o.host}: no yggaddr: ${o.configPath} has none and yggdrasilctl getSelf did not answer; start yggdrasil on the host, or write yggaddr into ${o.configPath}`,
    );
  }
  const problem = yggaddrProblem(yggaddr);
  if (problem) throw new UserError(`${o.host}: yggaddr ${yggaddr} from the host: ${problem}`);
  const engine: Engine = o.engine ?? (probe.engines.nerdctl ? 'nerdctl' : probe.engines.docker ? 'docker' : 'nerdctl');
  if (!o.engine && !probe.engines.nerdctl && !probe.engines.docker) notes.push('neither nerdctl nor docker is installed; engine: nerdctl assumed (man8s doctor shows what is missing)');
  const { yggaddr: _y, ...rest } = probe.mbctl.settings;
  return { host: o.host, ...(o.ssh && o.ssh !== o.host ? { ssh: o.ssh } : {}), yggaddr: canonicalYggaddr(yggaddr), engine, settings: rest, notes };
}

/** Pure: host.yaml text, with only the settings that differ from man8s's defaults. */
export function importedHostYaml(h: ImportedHost, from: string): string {
  const data: Record<string, unknown> = {};
  if (h.ssh) data.ssh = h.ssh;
  data.yggaddr = h.yggaddr;
  data.engine = h.engine;
  const s = h.settings;
  if (s.storage_path && s.storage_path !== HOST_DEFAULTS.storage_path) data.storage_path = s.storage_path;
  const net = Object.fromEntries(Object.entries(s.network ?? {}).filter(([k, v]) => HOST_DEFAULTS.network[k as 'withygg' | 'noygg'] !== v));
  if (Object.keys(net).length) data.network = net;
  const nerd = Object.fromEntries(Object.entries(s.nerdconfig ?? {}).filter(([k, v]) => HOST_DEFAULTS.nerdconfig[k as 'namespace' | 'snapshotter'] !== v));
  if (Object.keys(nerd).length) data.nerdconfig = nerd;
  if (s.local_domain && s.local_domain !== HOST_DEFAULTS.local_domain) data.local_domain = s.local_domain;
  if (s.config_file && s.config_file !== HOST_DEFAULTS.config_file) data.config_file = s.config_file;
  const doc = new Document(data);
  return `# Imported by man8s import from ${from}.\n${doc.toString({ lineWidth: 0 })}`;
}

/** Pure: git's complaint as one line, with the fix when it is the usual one (no identity configured). */
export function gitFailureLine(message: string): string {
  if (/Please tell me who you are|unable to auto-detect email|user\.useConfigOnly|no name was given/i.test(message)) {
    return 'git has no identity here: set git config user.name and user.email';
  }
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /^(fatal|error):/.test(l)) ?? lines[0] ?? 'git failed';
}

/**
 * Commits the imported host folder, the last step of import. The files are written and valid by then, so
 * a git failure (no identity, a hook saying no) is one line that keeps them and says how to finish by hand.
 */
export async function commitImport(repoRoot: string, hostDir: string, message: string, shown: string): Promise<string | null> {
  const repo = await openRepo(repoRoot);
  try {
    return await commitFiles(repo, [hostDir], message);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(
      `imported into ${shown} but could not commit it: ${gitFailureLine((err as Error).message)}; then commit it yourself: git add ${shown} && git commit -m ${JSON.stringify(message)}`,
    );
  }
}
