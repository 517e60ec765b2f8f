/**
 * `man8s doctor` / `man8s setup`: the host's Man8S prerequisites, checked in ONE remote command (a probe
 * script, like observe) and judged by a pure function, so every finding and its fix is unit-tested.
 * Each finding says what is wrong and the exact fix; setup runs the fixes that are safe to automate and
 * can be undone (create the Man8S networks and storage folders; write the host's real yggdrasil address
 * into host.yaml) and names the rest (installing packages, starting daemons, logging in as root), which
 * need a person.
 */
import { MOUNT_TYPES } from '../fleet/model.js';
import type { HostSpec } from '../fleet/model.js';
import { bridgeAddress, canonicalYggaddr, formatIPv6, parseIPv6, subnetText, yggaddrProblem } from '../man8s/ygg.js';
import { parseYggSelf } from '../remote/observe.js';
import { quoteArgv } from '../remote/quote.js';
import { ENGINE_SH } from '../remote/engine-probe.js';
import type { Connection } from '../remote/transport.js';
import { keyValues, runProbe, SECTION_SH, type ProbeSection } from './probe.js';

export const DOCTOR_MAGIC = 'man8s-doctor 1';

export const DOCTOR_SCRIPT = String.raw`
ENGINE=$1; NS=$2; SNAP=$3; SP=$4; WITHYGG=$5; NOYGG=$6
${SECTION_SH}
${ENGINE_SH}
tools() {
  for t in rsync nsenter yggdrasilctl; do
    if command -v "$t" >/dev/null 2>&1; then echo "$t=1"; else echo "$t=0"; fi
  done
  echo "uid=$(id -u)"
  echo "user=$(id -un 2>/dev/null)"
}
ygg() {
  command -v yggdrasilctl >/dev/null 2>&1 || return 3
  to=; command -v timeout >/dev/null 2>&1 && to="timeout 5"
  $to yggdrasilctl -json getSelf
}
net() {
  if [ "$ENGINE" = nerdctl ]; then command -v nerdctl >/dev/null 2>&1 || return 3
  else command -v docker >/dev/null 2>&1 || return 3; fi
  e network inspect "$1"
}
storage() {
  for t in conf data log cache plugin socket; do
    if [ -d "$SP/$t" ]; then echo "$t=1"; else echo "$t=0"; fi
  done
  [ -d "$SP" ] && find "$SP" -mindepth 1 -maxdepth 1 -printf 'extra=%P\n' | grep -v -E '^extra=(conf|data|log|cache|plugin|socket)$'
  return 0
}
printf '%s\n' '${DOCTOR_MAGIC}'
sec tools tools
sec engine engine
sec ygg ygg
sec net.withygg net "$WITHYGG"
sec net.noygg net "$NOYGG"
sec storage storage
exit 0
`;

export interface Finding {
  /** What was checked: engine, compose, rsync, yggdrasil, network man8yggbr, storage… */
  check: string;
  ok: boolean;
  /** error: Man8S will not work (doctor exits 1); warning: worth knowing, not blocking. */
  severity: 'error' | 'warning';
  /** What is there, or what is wrong. */
  message: string;
  /** The exact fix, for a person. */
  fix?: string;
  /** Commands setup runs to fix it, in order (only fixes that are safe to automate). */
  fixArgv?: string[][];
  /**
   * undoArgv[i] puts back what fixArgv[i] changed (null: nothing to put back), run newest first when a
   * later step fails, so a half-done fix never leaves the host worse than setup found it.
   */
  undoArgv?: Array<string[] | null>;
  /** The host's real yggdrasil address: setup writes it as yggaddr into host.yaml (the repo side is wrong). */
  setYggaddr?: string;
}

export function doctorArgs(host: HostSpec): string[] {
  const s = host.settings;
  return [s.engine, s.nerdconfig.namespace, s.nerdconfig.snapshotter, s.storage_path, s.network.withygg, s.network.noygg];
}

const ok = (check: string, message: string): Finding => ({ check, ok: true, severity: 'error', message });
/** A failing finding; `more` adds setup's part (fix steps, their undo, the address to write) or makes it a warning. */
const bad = (
  check: string,
  message: string,
  fix: string,
  { severity = 'error', ...more }: Partial<Pick<Finding, 'severity' | 'fixArgv' | 'undoArgv' | 'setYggaddr'>> = {},
): Finding => ({ check, ok: false, severity, message, fix, ...more });

/** `ssh:` without its user part, for the fix that says to log in as root. */
function sshHostPart(ssh: string): string {
  return ssh.includes('@') ? ssh.slice(ssh.lastIndexOf('@') + 1) : ssh;
}

/** docker bridge names are at most 15 characters (IFNAMSIZ); longer network names get docker's own br-… name. */
function bridgeNameOption(name: string): string[] {
  return name.length <= 15 ? ['-o', `${BRIDGE_NAME_OPTION}=${name}`] : [];
}

/**
 * Docker only (nerdctl's come from the yggoverlay CNI configs): the ygg network carries the host's /64 as
 * its IPv6 subnet with the bridge at ::1 (MAN8S-SPEC §5, engine docker); the plain one is a bridge.
 */
export function dockerNetworkCreateArgv(kind: 'withygg' | 'noygg', name: string, hostYggaddr: string): string[] {
  if (kind === 'noygg') return ['docker', 'network', 'create', ...bridgeNameOption(name), name];
  return ['docker', 'network', 'create', '--ipv6', '--subnet', subnetText(hostYggaddr), '--gateway', bridgeAddress(hostYggaddr), ...bridgeNameOption(name), name];
}

interface DockerNetwork {
  EnableIPv6?: boolean;
  IPAM?: { Config?: Array<{ Subnet?: string; Gateway?: string }> | null };
  Containers?: Record<string, { Name?: string }> | null;
  Options?: Record<string, string> | null;
}

const BRIDGE_NAME_OPTION = 'com.docker.network.bridge.name';

/** The `docker network create` that makes `net` again as it is now: the undo of removing it. */
export function dockerNetworkRecreateArgv(name: string, net: DockerNetwork): string[] {
  const configs = (net.IPAM?.Config ?? []).filter((c) => c.Subnet);
  // docker pairs --gateway with --subnet by position, so gateways go in only when every subnet has one.
  const gateways = configs.every((c) => c.Gateway);
  const bridge = net.Options?.[BRIDGE_NAME_OPTION];
  return [
    'docker',
    'network',
    'create',
    ...(net.EnableIPv6 ? ['--ipv6'] : []),
    ...configs.flatMap((c) => ['--subnet', c.Subnet!, ...(gateways ? ['--gateway', c.Gateway!] : [])]),
    ...(bridge ? ['-o', `${BRIDGE_NAME_OPTION}=${bridge}`] : []),
    name,
  ];
}

function sameAddress(a: string | undefined, b: string): boolean {
  if (!a) return false;
  const [addrA, lenA] = a.split('/');
  const [addrB, lenB] = b.split('/');
  const pa = parseIPv6(addrA ?? '');
  const pb = parseIPv6(addrB ?? '');
  return !!pa && !!pb && formatIPv6(pa) === formatIPv6(pb) && lenA === lenB;
}

function packageFix(what: string, debian: string): string {
  return `install ${what} on the host (Debian/Ubuntu: apt-get install ${debian})`;
}

/** Pure: the probe's sections → findings, in a fixed order. */
export function judgeDoctor(host: HostSpec, sections: Map<string, ProbeSection>): Finding[] {
  const s = host.settings;
  const sec = (n: string): ProbeSection => sections.get(n) ?? { rc: 255, out: '', err: `section ${n} missing` };
  const findings: Finding[] = [];
  const tools = keyValues(sec('tools').out);

  // Root: the engine, mkdir/chown/chmod of mount folders, rsync into storage_path and nsenter all need it.
  if (tools.uid !== undefined && tools.uid !== '0') {
    const who = tools.user ? `${tools.user} (uid ${tools.uid})` : `uid ${tools.uid}`;
    findings.push(
      bad(
        'ssh user',
        `man8s logs in as ${who}, not root; deploys need root on the host (the engine, mkdir/chown of mount folders, rsync into ${s.storage_path}, nsenter)`,
        `log in as root: set ssh: root@${sshHostPart(s.ssh)} in ${host.file}, or User root for that host in your ssh config`,
      ),
    );
  }

  // Engine and compose.
  const ek = keyValues(sec('engine').out);
  const engineWorks = ek.present === '1' && !ek.error;
  if (ek.present !== '1') {
    findings.push(
      bad(
        'engine',
        `${s.engine} is not installed`,
        s.engine === 'docker'
          ? `${packageFix('Docker', 'docker.io')}, or set engine: nerdctl in ${host.file}`
          : `install containerd, nerdctl and the CNI plugins (the nerdctl-full release bundles them: https://github.com/containerd/nerdctl/releases), or set engine: docker in ${host.file}`,
      ),
    );
  } else if (ek.error) {
    findings.push(
      bad(
        'engine',
        `${s.engine} is installed but does not answer: ${ek.error.trim()}`,
        s.engine === 'docker' ? 'start the daemon: systemctl enable --now docker' : 'start containerd: systemctl enable --now containerd',
      ),
    );
  } else {
    findings.push(ok('engine', `${s.engine} ${ek.version ?? ''}`.trim() + (s.engine === 'nerdctl' ? ` (namespace ${s.nerdconfig.namespace})` : '')));
  }
  if (ek.present === '1') {
    if (ek.compose) findings.push(ok('compose', `${ek.compose} ${ek.compose_version ?? ''}`.trim()));
    else
      findings.push(
        bad(
          'compose',
          s.engine === 'docker' ? 'neither `docker compose` nor `docker-compose` works' : '`nerdctl compose` does not work',
          s.engine === 'docker' ? packageFix('compose', 'docker-compose (or docker-compose-plugin from Docker\'s repository)') : 'upgrade nerdctl (compose is built into nerdctl)',
        ),
      );
  }

  // rsync: conf/plugin sync and migration need it on the host.
  findings.push(tools.rsync === '1' ? ok('rsync', 'installed') : bad('rsync', 'rsync is not installed', packageFix('rsync', 'rsync')));

  // Yggdrasil: running, and at the address git computes every container address from.
  const expected = canonicalYggaddr(s.yggaddr);
  let actual: string | undefined;
  const yg = sec('ygg');
  if (yg.rc === 3 || tools.yggdrasilctl === '0') {
    findings.push(bad('yggdrasil', 'yggdrasil is not installed (no yggdrasilctl)', `${packageFix('yggdrasil', 'yggdrasil')}; see https://yggdrasil-network.github.io/installation.html`));
  } else {
    const addr = yg.rc === 0 ? parseYggSelf(yg.out) : undefined;
    if (!addr) {
      const why = (yg.err || yg.out).trim().split('\n').slice(-2).join(' ') || `yggdrasilctl exited ${yg.rc}`;
      findings.push(bad('yggdrasil', `yggdrasil is not running or its admin socket does not answer (${why})`, 'start it: systemctl enable --now yggdrasil'));
    } else {
      actual = yggaddrProblem(addr) ? addr : canonicalYggaddr(addr);
      if (actual === expected) findings.push(ok('yggdrasil', `running, address ${actual} (= ${host.file})`));
      else
        findings.push(
          bad(
            'yggdrasil',
            `the host's yggdrasil address is ${actual} but ${host.file} says yggaddr ${expected}; every container address would be wrong`,
            `set yggaddr: ${actual} in ${host.file} (or give the host back the yggdrasil key that had ${expected})`,
            // The address derives from the host's private key; git follows the host, not the other way round.
            yggaddrProblem(actual) ? {} : { setYggaddr: actual },
          ),
        );
    }
  }

  // Networks. The ygg subnet is the one the host really routes (its yggdrasil address), when known.
  const subnetSource = actual && !yggaddrProblem(actual) ? actual : expected;
  for (const kind of ['withygg', 'noygg'] as const) {
    const name = s.network[kind];
    const check = `network ${name}`;
    const n = sec(`net.${kind}`);
    if (!engineWorks) continue; // the engine finding already says why nothing can be checked
    if (n.rc !== 0) {
      if (s.engine === 'docker') {
        const argv = dockerNetworkCreateArgv(kind, name, subnetSource);
        findings.push(bad(check, `network ${name} is missing`, quoteArgv(argv), { fixArgv: [argv] }));
      } else {
        findings.push(
          bad(
            check,
            `CNI network ${name} is missing`,
            'install yggoverlay (Man8S\'s CNI plugin; its package ships the man8yggbr and man8br configs in /etc/cni/net.d)',
          ),
        );
      }
      continue;
    }
    if (s.engine !== 'docker' || kind === 'noygg') {
      findings.push(ok(check, 'present'));
      continue;
    }
    let net: DockerNetwork | undefined;
    try {
      net = (JSON.parse(n.out) as DockerNetwork[])[0];
    } catch {
      net = undefined;
    }
    const want = subnetText(subnetSource);
    const gw = bridgeAddress(subnetSource);
    const v6 = (net?.IPAM?.Config ?? []).find((c) => c.Subnet?.includes(':'));
    if (net?.EnableIPv6 && sameAddress(v6?.Subnet, want) && sameAddress(v6?.Gateway, gw)) {
      findings.push(ok(check, `present, IPv6 ${want} gateway ${gw}`));
      continue;
    }
    const has = v6?.Subnet ? `IPv6 subnet ${v6.Subnet}${v6.Gateway ? ` gateway ${v6.Gateway}` : ''}` : 'no IPv6 subnet';
    const users = Object.values(net?.Containers ?? {}).map((c) => c.Name ?? '?');
    const rm = ['docker', 'network', 'rm', name];
    const create = dockerNetworkCreateArgv(kind, name, subnetSource);
    const fix = `${quoteArgv(rm)} && ${quoteArgv(create)}`;
    // Removing a network is undone by creating it again as it was, so setup does it only when it knows how it was.
    findings.push(
      users.length === 0 && net
        ? bad(check, `network ${name} has ${has}, not ${want} gateway ${gw}`, fix, { fixArgv: [rm, create], undoArgv: [dockerNetworkRecreateArgv(name, net), null] })
        : users.length === 0
          ? bad(check, `network ${name} is present but docker network inspect printed nothing man8s can read`, `check it (docker network inspect ${name}); if it lacks ${want}: ${fix}`)
          : bad(check, `network ${name} has ${has}, not ${want} gateway ${gw}; containers use it: ${users.join(', ')}`, `stop those containers, then ${fix}, then man8s deploy ${host.name}`),
    );
  }

  // Storage: the six type folders (MAN8S-SPEC §1), and nothing else.
  const st = keyValues(sec('storage').out);
  const missing = MOUNT_TYPES.filter((t) => st[t] !== '1');
  if (missing.length === 0) findings.push(ok('storage', `${s.storage_path}/{${MOUNT_TYPES.join(',')}} present`));
  else {
    const argv = ['mkdir', '-p', '--', ...missing.map((t) => `${s.storage_path}/${t}`)];
    findings.push(bad('storage', `missing under ${s.storage_path}: ${missing.join(', ')}`, quoteArgv(argv), { fixArgv: [argv] }));
  }
  const extras = sec('storage')
    .out.split('\n')
    .filter((l) => l.startsWith('extra='))
    .map((l) => l.slice('extra='.length));
  if (extras.length > 0) {
    findings.push(
      bad('storage', `${s.storage_path} holds more than the six type folders: ${extras.join(', ')}`, `move ${extras.join(', ')} out of ${s.storage_path} (Man8S keeps only ${MOUNT_TYPES.join(' ')} there)`, { severity: 'warning' }),
    );
  }

  // nsenter: only `man8s shell --network` needs it.
  if (tools.nsenter !== '1') findings.push(bad('nsenter', 'nsenter is not installed (man8s shell --network needs it)', packageFix('nsenter', 'util-linux'), { severity: 'warning' }));
  return findings;
}

export function problemCount(findings: Finding[]): { errors: number; warnings: number } {
  return {
    errors: findings.filter((f) => !f.ok && f.severity === 'error').length,
    warnings: findings.filter((f) => !f.ok && f.severity === 'warning').length,
  };
}

export async function runDoctor(conn: Connection, host: HostSpec): Promise<Finding[]> {
  const sections = await runProbe(conn, DOCTOR_SCRIPT, DOCTOR_MAGIC, doctorArgs(host), 'checking the host');
  return judgeDoctor(host, sections);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Pure: the doctor report of one host. */
export function formatFindings(hostName: string, destination: string, findings: Finding[], opts: { setupHint?: boolean } = {}): string {
  const lines = [`${hostName} (${destination})`];
  for (const f of findings) {
    const tag = f.ok ? 'ok  ' : f.severity === 'error' ? 'FAIL' : 'warn';
    lines.push(`  ${tag}  ${f.check}: ${f.message}`);
    const hint = !opts.setupHint ? '' : f.fixArgv ? ` (man8s setup ${hostName} does this)` : f.setYggaddr ? ` (man8s setup ${hostName} writes it into host.yaml)` : '';
    if (!f.ok && f.fix) lines.push(`        fix: ${f.fix}${hint}`);
  }
  const { errors, warnings } = problemCount(findings);
  lines.push(errors + warnings === 0 ? `${hostName}: ready for Man8S` : `${hostName}: ${plural(errors, 'problem')}, ${plural(warnings, 'warning')}`);
  return `${lines.join('\n')}\n`;
}
