/** Pure parts of the day-2 commands (issue 6): status text, container lookup, ls sync, doctor, import, argv builders. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { containerStatusText, engineTime, humanDuration } from '../../src/ops/container-status.js';
import { closeNames, findContainer, groupByHost } from '../../src/ops/find-container.js';
import { liveRows, liveTableRows, syncOf } from '../../src/ops/live-listing.js';
import { dockerNetworkCreateArgv, dockerNetworkRecreateArgv, formatFindings, judgeDoctor, problemCount, type Finding } from '../../src/ops/doctor.js';
import { applyFix, rewriteYggaddr } from '../../src/ops/setup.js';
import { lifecycleReport } from '../../src/ops/lifecycle.js';
import { remoteError } from '../../src/ops/messages.js';
import { completeNames, readFleetNames } from '../../src/ops/completion.js';
import { parseFramed, type ProbeSection } from '../../src/ops/probe.js';
import { commitImport, decideImport, gitFailureLine, importedHostYaml, parseMbctlConfig, type ImportProbe } from '../../src/ops/import.js';
import { sshCommandArgv } from '../../src/ops/ssh.js';
import { containerExecArgv, containerShellArgv, netShellArgv, passthroughArgv, SHELL_SCRIPT, untilStdinClosesArgv } from '../../src/ops/container-commands.js';
import { deployedVsHead, formatHostStatus, reachableStatus, type ReachableStatus } from '../../src/ops/status.js';
import { openRepo } from '../../src/git/repo.js';
import type { HostSpec } from '../../src/fleet/model.js';
import { HOST_YAML, loadRepo, makeRepo, OTHER_HOST_YAML, writeEntries } from '../support/fleet-fixture.js';
import { pullTreesArgv } from '../../src/remote/rsync.js';
import { engineTarget } from '../../src/remote/engine.js';
import type { ObservedContainer, Observed } from '../../src/remote/observed.js';
import type { ContainerPlan, HostPlan } from '../../src/plan/diff.js';
import { UserError } from '../../src/errors.js';
import { buildFleet, RELINK_YGG } from '../support/fleet-builder.js';

const NOW = Date.parse('2025-06-01T12:00:00Z') / 1000;
const ago = (sec: number): string => new Date((NOW - sec) * 1000).toISOString().replace('Z', '123456Z');

function container(o: Partial<ObservedContainer>): ObservedContainer {
  return { name: 'c', id: 'x', state: 'running', running: true, image: 'busybox', imageId: '', labels: {}, created: '', managed: true, ...o };
}

// ---------------------------------------------------------------- status text

test('humanDuration reads like docker ps', () => {
  assert.equal(humanDuration(0.4), 'Less than a second');
  assert.equal(humanDuration(1), '1 second');
  assert.equal(humanDuration(59), '59 seconds');
  assert.equal(humanDuration(60), 'About a minute');
  assert.equal(humanDuration(119), 'About a minute');
  assert.equal(humanDuration(180), '3 minutes');
  assert.equal(humanDuration(3600), 'About an hour');
  assert.equal(humanDuration(2 * 3600), '2 hours');
  assert.equal(humanDuration(47 * 3600), '47 hours');
  assert.equal(humanDuration(3 * 86400), '3 days');
  assert.equal(humanDuration(20 * 86400), '2 weeks');
  assert.equal(humanDuration(90 * 86400), '3 months');
  assert.equal(humanDuration(3 * 365 * 86400), '3 years');
});

test('engineTime handles nanoseconds and Go zero time', () => {
  assert.equal(engineTime('2025-06-01T11:59:00.123456789Z'), NOW - 60 + 0.123);
  assert.equal(engineTime('0001-01-01T00:00:00Z'), undefined);
  assert.equal(engineTime(undefined), undefined);
  assert.equal(engineTime('garbage'), undefined);
});

test('container status text: Up, health, Paused, Exited with code, Created, Restarting, Dead', () => {
  assert.equal(containerStatusText(container({ startedAt: ago(180) }), NOW), 'Up 3 minutes');
  assert.equal(containerStatusText(container({ startedAt: ago(7200), health: 'healthy' }), NOW), 'Up 2 hours (healthy)');
  assert.equal(containerStatusText(container({ state: 'paused', startedAt: ago(5) }), NOW), 'Up 5 seconds (Paused)');
  assert.equal(
    containerStatusText(container({ state: 'exited', running: false, exitCode: 1, startedAt: ago(9000), finishedAt: ago(7200) }), NOW),
    'Exited (1) 2 hours ago',
  );
  assert.equal(
    containerStatusText(container({ state: 'exited', running: false, exitCode: 0, startedAt: '0001-01-01T00:00:00Z', finishedAt: '0001-01-01T00:00:00Z' }), NOW),
    'Created',
  );
  assert.equal(containerStatusText(container({ state: 'created', running: false }), NOW), 'Created');
  assert.equal(containerStatusText(container({ state: 'restarting', exitCode: 2, finishedAt: ago(4) }), NOW), 'Restarting (2) 4 seconds ago');
  assert.equal(containerStatusText(container({ state: 'dead', running: false }), NOW), 'Dead');
  // nerdctl may not report StartedAt: still "Up".
  assert.equal(containerStatusText(container({}), NOW), 'Up');
});

// ---------------------------------------------------------------- container lookup

const fleet = buildFleet({
  relink: { containers: { 'relink-nginx': { image: 'nginx' }, 'node-exporter': { image: 'ne' }, 'nerchat-pgsql': { image: 'pg' } } },
  lothric: { yggaddr: '200:1111:2222:3333:4444:5555:6666:7777', containers: { 'node-exporter': { image: 'ne' }, 'us-grafana': { image: 'g' } } },
});

test('findContainer: a unique name, host/name, ambiguous and unknown names', () => {
  assert.equal(findContainer(fleet, 'relink-nginx').host.name, 'relink');
  assert.equal(findContainer(fleet, 'lothric/node-exporter').host.name, 'lothric');
  assert.throws(
    () => findContainer(fleet, 'node-exporter'),
    (e: unknown) => e instanceof UserError && e.message === 'container "node-exporter" is on several hosts; say which one: lothric/node-exporter, relink/node-exporter',
  );
  assert.throws(
    () => findContainer(fleet, 'relink-ngnix'),
    (e: unknown) =>
      e instanceof UserError &&
      e.message === 'no container "relink-ngnix" in the fleet; did you mean relink/relink-nginx? (man8s ls --offline lists them all)',
  );
  assert.throws(() => findContainer(fleet, 'zzzzzzzz'), { message: 'no container "zzzzzzzz" in the fleet (man8s ls --offline lists them all)' });
  assert.throws(() => findContainer(fleet, 'relink/us-grafana'), { message: 'no container "us-grafana" on relink; did you mean lothric/us-grafana?' });
  assert.throws(() => findContainer(fleet, 'nowhere/x'), { message: 'no host "nowhere" in the fleet (hosts: lothric, relink)' });
});

test('closeNames prefers substrings, then small edit distances', () => {
  assert.deepEqual(closeNames('grafana', ['lothric/us-grafana', 'relink/relink-nginx']), ['lothric/us-grafana']);
  assert.deepEqual(closeNames('pgsq', ['relink/nerchat-pgsql', 'relink/relink-nginx']), ['relink/nerchat-pgsql']);
});

test('groupByHost: one group per host in fleet order, names deduplicated', () => {
  const groups = groupByHost(fleet, ['relink-nginx', 'lothric/node-exporter', 'relink/relink-nginx', 'nerchat-pgsql']);
  assert.deepEqual(
    groups.map((g) => [g.host.name, g.names]),
    [
      ['lothric', ['node-exporter']],
      ['relink', ['relink-nginx', 'nerchat-pgsql']],
    ],
  );
});

// ---------------------------------------------------------------- ls sync

function cplan(o: Partial<ContainerPlan> & { name: string }): ContainerPlan {
  return {
    level: 0,
    action: 'none',
    reasons: [],
    fileChanges: [],
    drift: false,
    desired: { name: o.name, image: 'img', autostart: true, yggaddr: `300::${o.name.length}` } as ContainerPlan['desired'],
    ...o,
  };
}

test('Sync follows the plan: create → not deployed, recreate → spec drift, restart or file changes → files drift', () => {
  assert.equal(syncOf(cplan({ name: 'a', action: 'create' })), 'not deployed');
  assert.equal(syncOf(cplan({ name: 'a', action: 'recreate' })), 'spec drift');
  assert.equal(syncOf(cplan({ name: 'a', action: 'recreate', observed: container({ managed: false }) })), 'made outside man8s');
  assert.equal(syncOf(cplan({ name: 'a', action: 'restart' })), 'files drift');
  const change = [{ type: 'conf' as const, path: 'x', change: 'changed' as const, kind: 'file' as const }];
  assert.equal(syncOf(cplan({ name: 'a', action: 'none', fileChanges: change })), 'files drift');
  assert.equal(syncOf(cplan({ name: 'a', action: 'start' })), 'in sync');
  assert.equal(syncOf(cplan({ name: 'a', action: 'none' })), 'in sync');
});

test('liveRows: Never for missing containers, Orphan for labelled ones git lacks, sorted by name', () => {
  const plan: HostPlan = {
    host: 'relink',
    containers: [
      cplan({ name: 'web', observed: container({ name: 'web', startedAt: ago(30) }) }),
      cplan({ name: 'db', action: 'create', reasons: ['not on the host'] }),
    ],
    orphanContainers: [container({ name: 'old', image: 'old:1', state: 'exited', running: false, exitCode: 0, startedAt: ago(100), finishedAt: ago(50) })],
    orphanFolders: [],
    errors: [],
    warnings: [],
  };
  const rows = liveRows(plan, { time: NOW, unlabeled: [] as ObservedContainer[] } as Observed);
  assert.deepEqual(
    rows.map((r) => [r.name, r.status, r.sync, r.autostart, r.state]),
    [
      ['db', 'Never', 'not deployed', true, null],
      ['old', 'Orphan', 'not in git', null, 'exited'],
      ['web', 'Up 30 seconds', 'in sync', true, 'running'],
    ],
  );
  assert.deepEqual(rows[1]!.reasons, ['Exited (0) 50 seconds ago, labelled io.man8s.managed but not in git']);
});

test('liveRows: containers made by mbctl show as made outside man8s (in git) or Orphan (not in git); leftover folders as Orphan (no container)', () => {
  const byHand = container({ name: 'by-hand', managed: false, startedAt: ago(600) });
  const mbctlOnly = container({ name: 'mbctl-only', image: 'redis', managed: false, startedAt: ago(120) });
  const labelled = container({ name: 'old', image: 'old:1', startedAt: ago(5) });
  const plan: HostPlan = {
    host: 'relink',
    containers: [cplan({ name: 'by-hand', action: 'recreate', reasons: ['made outside man8s (no io.man8s labels)'], observed: byHand })],
    orphanContainers: [labelled],
    // observe lists an unlabelled container only with a conf folder, so its folders are orphans too: one row, not two.
    orphanFolders: [
      { type: 'conf', name: 'leftover' },
      { type: 'conf', name: 'mbctl-only' },
      { type: 'conf', name: 'old' },
      { type: 'plugin', name: 'leftover' },
    ],
    errors: [],
    warnings: [],
  };
  const rows = liveRows(plan, { time: NOW, unlabeled: [byHand, mbctlOnly] } as Observed);
  assert.deepEqual(
    rows.map((r) => [r.name, r.image, r.status, r.autostart, r.yggaddr, r.sync, r.reasons]),
    [
      ['by-hand', 'img', 'Up 10 minutes', true, '300::7', 'made outside man8s', ['made outside man8s (no io.man8s labels)']],
      ['leftover', '-', 'Orphan (no container)', null, null, 'not in git', ['conf/leftover and plugin/leftover on the host, no container, not in git']],
      ['mbctl-only', 'redis', 'Orphan', null, null, 'not in git', ['Up 2 minutes, made outside man8s (no io.man8s labels), not in git']],
      ['old', 'old:1', 'Orphan', null, null, 'not in git', ['Up 5 seconds, labelled io.man8s.managed but not in git']],
    ],
  );
  assert.deepEqual(liveTableRows(rows)[1], ['relink', 'leftover', '-', 'Orphan (no container)', '-', '-', 'not in git']);
});

test('liveRows: files edited on the host since the last deploy (per deployed.yaml) say a deploy overwrites them', () => {
  const change = [{ type: 'conf' as const, path: 'etc/app.conf', change: 'changed' as const, kind: 'file' as const }];
  const plan: HostPlan = {
    host: 'relink',
    containers: [cplan({ name: 'web', action: 'restart', reasons: ['files changed: conf/etc/app.conf'], fileChanges: change, drift: true, observed: container({ name: 'web' }) })],
    orphanContainers: [],
    orphanFolders: [],
    errors: [],
    warnings: [],
  };
  const [row] = liveRows(plan, { time: NOW, unlabeled: [] as ObservedContainer[] } as Observed);
  assert.equal(row!.sync, 'files drift');
  assert.deepEqual(row!.reasons, [
    'files changed: conf/etc/app.conf',
    'conf/plugin files were edited on the host since man8s deployed them; a deploy overwrites those edits',
  ]);
});

// ---------------------------------------------------------------- doctor

const sec = (out: string, rc = 0, err = ''): ProbeSection => ({ rc, out, err });
const SUBNET = '300:7547:78fb:902a::/64';

function sections(over: Record<string, ProbeSection> = {}): Map<string, ProbeSection> {
  return new Map(
    Object.entries({
      tools: sec('rsync=1\nnsenter=1\nyggdrasilctl=1\nuid=0\n'),
      engine: sec('present=1\nversion=24.0.7\ncompose=docker-compose-v2\ncompose_version=2.21.0\n'),
      ygg: sec(JSON.stringify({ address: RELINK_YGG })),
      'net.withygg': sec(JSON.stringify([{ EnableIPv6: true, IPAM: { Config: [{ Subnet: '172.18.0.0/16' }, { Subnet: SUBNET, Gateway: '300:7547:78fb:902a::1' }] }, Containers: {} }])),
      'net.noygg': sec('[{}]'),
      storage: sec('conf=1\ndata=1\nlog=1\ncache=1\nplugin=1\nsocket=1\n'),
      ...over,
    }),
  );
}

const dockerHost = buildFleet({ relink: { settings: { engine: 'docker' } } }).hosts.get('relink')!;
const nerdHost = buildFleet({ relink: {} }).hosts.get('relink')!;
const failing = (fs: Finding[]): Finding[] => fs.filter((f) => !f.ok);

test('doctor: a healthy docker host has no problems', () => {
  const fs = judgeDoctor(dockerHost, sections());
  assert.deepEqual(failing(fs), []);
  assert.deepEqual(problemCount(fs), { errors: 0, warnings: 0 });
  assert.match(formatFindings('relink', 'root@h:22', fs), /relink: ready for Man8S\n$/);
});

test('doctor: missing network and folders come with the exact commands setup runs', () => {
  const fs = failing(judgeDoctor(dockerHost, sections({ 'net.noygg': sec('', 1, 'Error: No such network: man8br'), storage: sec('conf=1\ndata=0\nlog=1\ncache=1\nplugin=1\nsocket=0\nextra=junk\n') })));
  assert.deepEqual(
    fs.map((f) => [f.check, f.severity, f.message, f.fixArgv]),
    [
      ['network man8br', 'error', 'network man8br is missing', [['docker', 'network', 'create', '-o', 'com.docker.network.bridge.name=man8br', 'man8br']]],
      ['storage', 'error', 'missing under /var/lib/man8s: data, socket', [['mkdir', '-p', '--', '/var/lib/man8s/data', '/var/lib/man8s/socket']]],
      ['storage', 'warning', '/var/lib/man8s holds more than the six type folders: junk', undefined],
    ],
  );
  assert.equal(fs[0]!.fix, "docker network create -o 'com.docker.network.bridge.name=man8br' man8br");
});

test('doctor: wrong yggaddr names the fix in host.yaml, and the ygg network is judged by the real address', () => {
  const real = '201:aaaa:bbbb:cccc:1:2:3:4';
  const net = sec(JSON.stringify([{ EnableIPv6: true, IPAM: { Config: [{ Subnet: '301:aaaa:bbbb:cccc::/64', Gateway: '301:aaaa:bbbb:cccc::1' }] }, Containers: {} }]));
  const fs = failing(judgeDoctor(dockerHost, sections({ ygg: sec(JSON.stringify({ address: real })), 'net.withygg': net })));
  assert.equal(fs.length, 1);
  assert.equal(
    fs[0]!.message,
    `the host's yggdrasil address is ${real} but hosts/relink/host.yaml says yggaddr ${RELINK_YGG}; every container address would be wrong`,
  );
  assert.equal(fs[0]!.fix, `set yggaddr: ${real} in hosts/relink/host.yaml (or give the host back the yggdrasil key that had ${RELINK_YGG})`);
  assert.equal(fs[0]!.fixArgv, undefined);
});

test('doctor: a ygg network with the wrong subnet is recreated only when no container uses it', () => {
  const wrong = (containers: Record<string, { Name: string }>) =>
    sec(JSON.stringify([{ EnableIPv6: true, IPAM: { Config: [{ Subnet: 'fd00::/64', Gateway: 'fd00::1' }] }, Containers: containers }]));
  const free = failing(judgeDoctor(dockerHost, sections({ 'net.withygg': wrong({}) })))[0]!;
  assert.equal(free.message, `network man8yggbr has IPv6 subnet fd00::/64 gateway fd00::1, not ${SUBNET} gateway 300:7547:78fb:902a::1`);
  assert.deepEqual(free.fixArgv, [['docker', 'network', 'rm', 'man8yggbr'], dockerNetworkCreateArgv('withygg', 'man8yggbr', RELINK_YGG)]);
  const used = failing(judgeDoctor(dockerHost, sections({ 'net.withygg': wrong({ abc: { Name: 'web' } }) })))[0]!;
  assert.equal(used.fixArgv, undefined);
  assert.match(used.message, /containers use it: web$/);
  assert.match(used.fix!, /^stop those containers, then docker network rm man8yggbr && docker network create --ipv6 --subnet 300:7547:78fb:902a::\/64 --gateway 300:7547:78fb:902a::1 /);
});

test('doctor: packages and daemons are fixes for a person; nerdctl networks come from yggoverlay', () => {
  const fs = failing(
    judgeDoctor(
      nerdHost,
      sections({
        tools: sec('rsync=0\nnsenter=0\nyggdrasilctl=1\n'),
        engine: sec('present=1\nversion=1.7.0\ncompose=nerdctl\ncompose_version=1.7.0\n'),
        ygg: sec('', 1, 'dial unix /var/run/yggdrasil.sock: connect: no such file'),
        'net.withygg': sec('', 1, 'no such network'),
        'net.noygg': sec('[{}]'),
      }),
    ),
  );
  assert.deepEqual(
    fs.map((f) => [f.check, f.severity, f.fix, f.fixArgv]),
    [
      ['rsync', 'error', 'install rsync on the host (Debian/Ubuntu: apt-get install rsync)', undefined],
      ['yggdrasil', 'error', 'start it: systemctl enable --now yggdrasil', undefined],
      ['network man8yggbr', 'error', "install yggoverlay (Man8S's CNI plugin; its package ships the man8yggbr and man8br configs in /etc/cni/net.d)", undefined],
      ['nsenter', 'warning', 'install nsenter on the host (Debian/Ubuntu: apt-get install util-linux)', undefined],
    ],
  );
  const none = failing(judgeDoctor(dockerHost, sections({ engine: sec('present=0\n') })));
  assert.equal(none[0]!.message, 'docker is not installed');
  // No engine: networks cannot be checked, and are not reported as missing on top.
  assert.deepEqual(none.map((f) => f.check), ['engine']);
  const down = failing(judgeDoctor(dockerHost, sections({ engine: sec('present=1\nerror=Cannot connect to the Docker daemon\nversion=\n') })));
  assert.equal(down[0]!.fix, 'start the daemon: systemctl enable --now docker');
});

test('parseFramed splits sections by byte length, so any content is safe', () => {
  const body = 'a\n@@man8s fake 0 0 0\nü';
  const buf = Buffer.concat([Buffer.from('noise\nmagic 1\n'), Buffer.from(`@@man8s one 3 ${Buffer.byteLength(body)} 2\n`), Buffer.from(body), Buffer.from('e!')]);
  const s = parseFramed(buf, 'magic 1');
  assert.deepEqual(s.get('one'), { rc: 3, out: body, err: 'e!' });
  assert.equal(s.size, 1);
  assert.throws(() => parseFramed(Buffer.from('x'), 'magic 1'), /no "magic 1" header/);
});

// ---------------------------------------------------------------- import

test('parseMbctlConfig keeps the keys man8s shares and warns about the rest', () => {
  const { settings, warnings } = parseMbctlConfig(
    `yggaddr: ${RELINK_YGG}\nstorage_path: /srv/man8s\nnetwork: {withygg: yggnet, foo: 1}\nnerdconfig: {snapshotter: overlayfs}\ncolor: blue\n`,
    'relink:/etc/mbctl/config.yaml',
  );
  assert.deepEqual(settings, { yggaddr: RELINK_YGG, storage_path: '/srv/man8s', network: { withygg: 'yggnet' }, nerdconfig: { snapshotter: 'overlayfs' } });
  assert.deepEqual(warnings, [
    'relink:/etc/mbctl/config.yaml: network.foo is not a setting man8s knows; left out of host.yaml',
    'relink:/etc/mbctl/config.yaml: color is not a setting man8s knows; left out of host.yaml',
  ]);
  assert.throws(() => parseMbctlConfig('yggaddr: [', 'f'), { message: /^f: not valid YAML \(.*\); fix it on the host, then import again$/ });
  assert.throws(() => parseMbctlConfig('- a\n', 'f'), { message: 'f: expected a map of settings (yggaddr: …)' });
});

function probe(o: Partial<ImportProbe> = {}): ImportProbe {
  return { mbctl: { found: true, settings: { yggaddr: RELINK_YGG }, warnings: [] }, engines: { nerdctl: true, docker: false }, ...o };
}

test('decideImport: mbctl yggaddr first, the host yggdrasil as fallback, engine by what is installed', () => {
  const d = decideImport({ host: 'relink', ssh: 'root@relink.example.org', configPath: '/etc/mbctl/config.yaml', probe: probe() });
  assert.deepEqual(d, { host: 'relink', ssh: 'root@relink.example.org', yggaddr: RELINK_YGG, engine: 'nerdctl', settings: {}, notes: [] });

  const fallback = decideImport({
    host: 'relink',
    configPath: '/etc/mbctl/config.yaml',
    probe: probe({ mbctl: { found: false, settings: {}, warnings: [] }, engines: { nerdctl: false, docker: true }, yggAddress: RELINK_YGG }),
  });
  assert.equal(fallback.engine, 'docker');
  assert.equal(fallback.ssh, undefined);
  assert.deepEqual(fallback.notes, ['/etc/mbctl/config.yaml not found on the host: settings are man8s\'s defaults', "yggaddr taken from the host's yggdrasil (getSelf)"]);

  const differ = decideImport({ host: 'relink', configPath: 'c', probe: probe({ yggAddress: '201:1:2:3:4:5:6:7' }) });
  assert.equal(differ.yggaddr, RELINK_YGG);
  assert.match(differ.notes[0]!, /differs from the host's yggdrasil address 201:1:2:3:4:5:6:7; host.yaml keeps mbctl's/);

  assert.throws(
    () => decideImport({ host: 'relink', configPath: 'c', probe: probe({ mbctl: { found: true, settings: {}, warnings: [] } }) }),
    { message: 'relink: no yggaddr: c has none and yggdrasilctl getSelf did not answer; start yggdrasil on the host, or write yggaddr into c' },
  );
});

test('importedHostYaml writes only what differs from the defaults', () => {
  const text = importedHostYaml(
    {
      host: 'relink',
      ssh: 'root@relink.example.org',
      yggaddr: RELINK_YGG,
      engine: 'nerdctl',
      settings: { storage_path: '/var/lib/man8s', network: { withygg: 'man8yggbr', noygg: 'plainbr' }, nerdconfig: { snapshotter: 'overlayfs' }, local_domain: 'man8s.local' },
      notes: [],
    },
    'root@relink.example.org:/etc/mbctl/config.yaml',
  );
  assert.equal(
    text,
    '# Imported by man8s import from root@relink.example.org:/etc/mbctl/config.yaml.\n' +
      `ssh: root@relink.example.org\nyggaddr: ${RELINK_YGG}\nengine: nerdctl\nnetwork:\n  noygg: plainbr\nnerdconfig:\n  snapshotter: overlayfs\n`,
  );
});

test('pullTreesArgv: conf and plugin only, from the host into the local folder, links and exec bit kept', () => {
  const argv = pullTreesArgv({ host: { alias: 'relink', port: 22, user: 'root' }, storagePath: '/var/lib/man8s/', localDir: '/fleet/hosts/relink' });
  assert.deepEqual(argv.slice(0, 7), ['rsync', '--recursive', '--links', '--times', '--executability', '--itemize-changes', '--stats']);
  assert.deepEqual(argv.slice(-5), ['--filter=+ /conf/***', '--filter=+ /plugin/***', '--filter=- *', 'relink:/var/lib/man8s/', '/fleet/hosts/relink/']);
  assert.ok(!argv.includes('--delete'));
  assert.ok(pullTreesArgv({ host: { alias: 'h', port: 22, user: 'root' }, storagePath: '/s', localDir: '/l', dryRun: true }).includes('--dry-run'));
});

// ---------------------------------------------------------------- argv builders

test('ssh argv: -F with the fleet ssh_config, user@host:port split, the remote command as one quoted word', () => {
  assert.deepEqual(sshCommandArgv({ ssh: 'relink' }), ['ssh', 'relink']);
  assert.deepEqual(sshCommandArgv({ ssh: 'admin@relink.example.org:2222', ssh_config: '/fleet/ssh_config' }, ['echo', 'a b', "it's"]), [
    'ssh',
    '-F',
    '/fleet/ssh_config',
    '-l',
    'admin',
    '-p',
    '2222',
    'relink.example.org',
    '--',
    "echo 'a b' 'it'\\''s'",
  ]);
});

test('container argv: shell prefers bash, exec keeps stdin, netshell passes the name as an argument', () => {
  const nerd = engineTarget({ engine: 'nerdctl', nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' } });
  const docker = engineTarget({ engine: 'docker', nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' } });
  assert.deepEqual(containerShellArgv(nerd, 'web', true), ['nerdctl', '--namespace', 'man8s.io', '--snapshotter', 'btrfs', 'exec', '-i', '-t', 'web', 'sh', '-c', SHELL_SCRIPT]);
  assert.deepEqual(containerExecArgv(docker, 'web', ['ls', '-la'], false), ['docker', 'exec', '-i', 'web', 'ls', '-la']);
  const net = netShellArgv(nerd, "we'b");
  assert.deepEqual(net.slice(3), ['man8s-netshell', "we'b", 'nerdctl', '--namespace', 'man8s.io', '--snapshotter', 'btrfs']);
  assert.ok(!net[2]!.includes("we'b"));
  assert.deepEqual(passthroughArgv(nerd, ['ps', '-a']), ['nerdctl', '--namespace', 'man8s.io', '--snapshotter', 'btrfs', 'ps', '-a']);
  assert.deepEqual(passthroughArgv(docker, ['ps']), ['docker', 'ps']);
});

// ---------------------------------------------------------------- status

test('status of a host: yggdrasil match, containers up/total, orphans, deployed vs HEAD', () => {
  const f = buildFleet({ relink: { containers: { web: { image: 'a' }, db: { image: 'b' } } } });
  const host = f.hosts.get('relink')!;
  const observed = {
    engine: { kind: 'nerdctl', present: true, version: '1.7.0', compose: 'nerdctl', composeVersion: '1.7.0' },
    ygg: { present: true, address: RELINK_YGG },
    lock: { status: 'held', reason: 'session-alive', holder: { who: 'ann@laptop', host: 'relink', pid: 7, startedAt: '2025-06-01T11:00:00Z', ttl: 3600, token: 't' } },
    containers: [container({ name: 'web' }), container({ name: 'old' })],
    unlabeled: [container({ name: 'db', running: false, state: 'exited', managed: false })],
    warnings: [],
  } as unknown as Observed;
  const s = reachableStatus(host, 'root@relink:22', observed, { commit: 'a'.repeat(40), deployedAt: '2025-05-01', head: 'b'.repeat(40), changesSince: 2 });
  assert.deepEqual(s.containers, { up: 1, total: 2, orphans: 1 });
  assert.equal(s.yggdrasil.matches, true);
  assert.equal(
    formatHostStatus(s),
    [
      'relink  reachable (root@relink:22)',
      '  engine      nerdctl 1.7.0, compose nerdctl 1.7.0',
      `  yggdrasil   ${RELINK_YGG} (= host.yaml)`,
      '  deployed    aaaaaaaaaaaa at 2025-05-01; behind HEAD bbbbbbbbbbbb: 2 commits change this host since',
      '  lock        held (session-alive) by ann@laptop (pid 7, since 2025-06-01T11:00:00Z)',
      '  containers  1/2 up, 1 orphan (not in git)',
      '',
    ].join('\n'),
  );
  assert.equal(formatHostStatus({ host: 'ghost', reachable: false, error: 'cannot connect' }), 'ghost  unreachable: cannot connect\n');
});

test('status counts containers made by mbctl that git lacks as orphans, as ls lists them', () => {
  const f = buildFleet({ relink: { containers: { web: { image: 'a' } } } });
  const observed = {
    engine: { kind: 'nerdctl', present: true },
    ygg: { present: true, address: RELINK_YGG },
    lock: { status: 'free' },
    containers: [container({ name: 'web' })],
    unlabeled: [container({ name: 'mbctl-made', managed: false }), container({ name: 'web2', managed: false, running: false, state: 'exited' })],
    warnings: [],
  } as unknown as Observed;
  const s = reachableStatus(f.hosts.get('relink')!, 'root@relink:22', observed, { commit: null, deployedAt: null, head: null, changesSince: null });
  assert.deepEqual(s.containers, { up: 1, total: 1, orphans: 2 });
  assert.match(formatHostStatus(s), /^ {2}containers {2}1\/1 up, 2 orphans \(not in git\)$/m);
});

// ---------------------------------------------------------------- deployed vs HEAD

async function gitIn(dir: string, ...args: string[]): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd: dir, encoding: 'utf8' }).trim();
}

test('deployedVsHead counts the commits since the deployed one that change this host, not others and not deployed.yaml', async (t) => {
  const dir = makeRepo(t, { 'hosts/relink/host.yaml': HOST_YAML, 'hosts/relink/conf/web/container.yaml': 'image: a\n', 'hosts/lothric/host.yaml': OTHER_HOST_YAML });
  await gitIn(dir, 'init', '-q');
  const commit = async (path: string, text: string, message: string): Promise<string> => {
    writeEntries(dir, { [path]: text });
    await gitIn(dir, 'add', '-A');
    await gitIn(dir, 'commit', '-q', '-m', message);
    return gitIn(dir, 'rev-parse', 'HEAD');
  };
  await gitIn(dir, 'add', '-A');
  await gitIn(dir, 'commit', '-q', '-m', 'fleet');
  const deployedAt = await gitIn(dir, 'rev-parse', 'HEAD');
  const repo = await openRepo(dir);
  const host = loadRepo(dir).fleet.hosts.get('relink')!;
  const record = { commit: deployedAt, deployed_at: '2025-06-01T10:00:00Z', deployed_by: 't', containers: {} };

  assert.deepEqual(await deployedVsHead(repo, host, record, deployedAt), { commit: deployedAt, deployedAt: '2025-06-01T10:00:00Z', head: deployedAt, changesSince: 0 });
  // The write-back commit of deployed.yaml and a change to another host do not make relink behind.
  await commit('hosts/relink/deployed.yaml', 'commit: x\n', 'record');
  let head = await commit('hosts/lothric/conf/db/container.yaml', 'image: pg\n', 'lothric only');
  assert.equal((await deployedVsHead(repo, host, record, head)).changesSince, 0);
  await commit('hosts/relink/conf/web/container.yaml', 'image: b\n', 'relink web');
  head = await commit('hosts/relink/conf/web/etc/app.conf', 'v=1\n', 'relink conf');
  const behind = await deployedVsHead(repo, host, record, head);
  assert.equal(behind.changesSince, 2);
  assert.match(formatHostStatus({ ...statusOf(host), deployed: behind }), new RegExp(`deployed {4}${deployedAt.slice(0, 12)} at 2025-06-01T10:00:00Z; behind HEAD ${head.slice(0, 12)}: 2 commits change this host since`));
  assert.match(formatHostStatus({ ...statusOf(host), deployed: { ...behind, changesSince: 1 } }), /: 1 commit changes this host since\n/);
  // A commit this clone does not have (a shallow CI checkout, a rewritten history): unknown, not 0.
  assert.equal((await deployedVsHead(repo, host, { ...record, commit: 'f'.repeat(40) }, head)).changesSince, null);
  assert.deepEqual(await deployedVsHead(repo, host, null, head), { commit: null, deployedAt: null, head, changesSince: null });
});

function statusOf(host: HostSpec): ReachableStatus {
  const observed = { engine: { kind: 'nerdctl', present: true }, ygg: { present: true, address: RELINK_YGG }, lock: { status: 'free' }, containers: [], unlabeled: [], warnings: [] } as unknown as Observed;
  return reachableStatus(host, 'root@relink:22', observed, { commit: null, deployedAt: null, head: null, changesSince: null });
}

// ---------------------------------------------------------------- start/stop/restart

test('lifecycle: every name reported, done on one list and failures (engine or host) on the other, in the order given', () => {
  const report = lifecycleReport(
    'start',
    [
      { host: 'lothric', names: ['us-grafana'] },
      { host: 'relink', names: ['web', 'never'] },
    ],
    [
      { host: 'relink', ok: true, value: [{ name: 'never', ok: false, error: remoteError('Error response from daemon: No such container: never\nError: failed to start containers: never\n', 1) }, { name: 'web', ok: true }] },
      { host: 'lothric', ok: false, error: 'lothric: cannot connect to root@lothric:22 (ECONNREFUSED)' },
    ],
  );
  assert.deepEqual(report, {
    done: ['relink/web: started'],
    failed: [
      'lothric/us-grafana: not started: cannot connect to root@lothric:22 (ECONNREFUSED)',
      'relink/never: not started: Error response from daemon: No such container: never; Error: failed to start containers: never',
    ],
  });
  assert.equal(remoteError('  \n', 125), 'exit 125');
});

// ---------------------------------------------------------------- doctor: root, yggaddr, undo

test('doctor: a non-root ssh user is an error whose fix is to log in as root', () => {
  const fs = failing(judgeDoctor(dockerHost, sections({ tools: sec('rsync=1\nnsenter=1\nyggdrasilctl=1\nuid=1000\nuser=ann\n') })));
  assert.deepEqual(
    fs.map((f) => [f.check, f.severity, f.message, f.fix, f.fixArgv]),
    [
      [
        'ssh user',
        'error',
        'man8s logs in as ann (uid 1000), not root; deploys need root on the host (the engine, mkdir/chown of mount folders, rsync into /var/lib/man8s, nsenter)',
        'log in as root: set ssh: root@relink in hosts/relink/host.yaml, or User root for that host in your ssh config',
        undefined,
      ],
    ],
  );
  assert.deepEqual(failing(judgeDoctor(dockerHost, sections({ tools: sec('rsync=1\nnsenter=1\nyggdrasilctl=1\nuid=0\nuser=root\n') }))), []);
});

test('doctor: a wrong yggaddr carries the address setup writes into host.yaml; doctor says setup does it', () => {
  const real = '201:aaaa:bbbb:cccc:1:2:3:4';
  const [f] = failing(judgeDoctor(nerdHost, sections({ ygg: sec(JSON.stringify({ address: real })), engine: sec('present=1\nversion=1.7.0\ncompose=nerdctl\n'), 'net.withygg': sec('[{}]') })));
  assert.equal(f!.setYggaddr, real);
  assert.match(formatFindings('relink', 'root@h:22', [f!], { setupHint: true }), /fix: set yggaddr: 201:aaaa:bbbb:cccc:1:2:3:4 in hosts\/relink\/host\.yaml \(or .*\) \(man8s setup relink writes it into host\.yaml\)\n/);
  // An address that is not a node address is nothing to write.
  const [odd] = failing(judgeDoctor(nerdHost, sections({ ygg: sec(JSON.stringify({ address: '301:1:2:3::1' })), engine: sec('present=1\nversion=1.7.0\ncompose=nerdctl\n'), 'net.withygg': sec('[{}]') })));
  assert.equal(odd!.setYggaddr, undefined);
});

test('doctor: recreating a ygg network comes with the command that puts the old one back', () => {
  const old = { EnableIPv6: true, IPAM: { Config: [{ Subnet: '172.20.0.0/16', Gateway: '172.20.0.1' }, { Subnet: 'fd00::/64', Gateway: 'fd00::1' }] }, Containers: {}, Options: { 'com.docker.network.bridge.name': 'man8yggbr' } };
  const [f] = failing(judgeDoctor(dockerHost, sections({ 'net.withygg': sec(JSON.stringify([old])) })));
  assert.deepEqual(f!.undoArgv, [
    ['docker', 'network', 'create', '--ipv6', '--subnet', '172.20.0.0/16', '--gateway', '172.20.0.1', '--subnet', 'fd00::/64', '--gateway', 'fd00::1', '-o', 'com.docker.network.bridge.name=man8yggbr', 'man8yggbr'],
    null,
  ]);
  assert.deepEqual(dockerNetworkRecreateArgv('n', { IPAM: { Config: [{ Subnet: '10.0.0.0/8' }, { Subnet: 'fd01::/64', Gateway: 'fd01::1' }] } }), ['docker', 'network', 'create', '--subnet', '10.0.0.0/8', '--subnet', 'fd01::/64', 'n']);
  // Unreadable inspect output: no automated fix, since nothing could put the network back.
  const [unread] = failing(judgeDoctor(dockerHost, sections({ 'net.withygg': sec('not json') })));
  assert.equal(unread!.fixArgv, undefined);
});

test('setup: a fix whose later step fails has its earlier steps undone, newest first', async () => {
  const ran: string[] = [];
  const run = async (argv: string[]) => {
    ran.push(argv.join(' '));
    return argv.includes('create') && !argv.includes('--ipv6-old') ? { code: 1, stdout: '', stderr: 'Error response from daemon: Pool overlaps\n' } : { code: 0, stdout: '', stderr: '' };
  };
  const fix: Finding = { check: 'network man8yggbr', ok: false, severity: 'error', message: 'm', fixArgv: [['docker', 'network', 'rm', 'man8yggbr'], ['docker', 'network', 'create', 'man8yggbr']], undoArgv: [['docker', 'network', 'create', '--ipv6-old', 'man8yggbr'], null] };
  const runs = await applyFix(run, fix);
  assert.deepEqual(ran, ['docker network rm man8yggbr', 'docker network create man8yggbr', 'docker network create --ipv6-old man8yggbr']);
  assert.deepEqual(
    runs.map((r) => [r.command, r.ok, r.undo ?? false, r.error]),
    [
      ['docker network rm man8yggbr', true, false, undefined],
      ['docker network create man8yggbr', false, false, 'Error response from daemon: Pool overlaps'],
      ['docker network create --ipv6-old man8yggbr', true, true, undefined],
    ],
  );
  const ok = await applyFix(async () => ({ code: 0, stdout: '', stderr: '' }), { ...fix, undoArgv: undefined });
  assert.deepEqual(ok.map((r) => r.ok), [true, true]);
});

test('setup: yggaddr is rewritten in place, comments, quotes and layout kept', () => {
  const text = '# relink: the Matrix host\nssh: root@relink.example.org   # via the bastion\nyggaddr: 200:7547:78fb:902a:9a09:9bff:f966:89a7  # from yggdrasilctl getSelf\ntags: [demo, edge]\n';
  assert.equal(
    rewriteYggaddr(text, '201:aaaa:bbbb:cccc:1:2:3:4', 'hosts/relink/host.yaml'),
    '# relink: the Matrix host\nssh: root@relink.example.org   # via the bastion\nyggaddr: 201:aaaa:bbbb:cccc:1:2:3:4  # from yggdrasilctl getSelf\ntags: [demo, edge]\n',
  );
  assert.equal(rewriteYggaddr("yggaddr: '200::1'\n", '201::2', 'f'), "yggaddr: '201::2'\n");
  assert.equal(rewriteYggaddr('engine: docker\nyggaddr: "200::1"\n', '201::2', 'f'), 'engine: docker\nyggaddr: "201::2"\n');
  assert.throws(() => rewriteYggaddr('yggaddr: |\n  200::1\n', '201::2', 'f'), { message: 'f: no one-line yggaddr: value to rewrite; write yggaddr: 201::2 there yourself' });
  assert.throws(() => rewriteYggaddr('yggaddr: [\n', '201::2', 'f'), /^UserError: f: not valid YAML/);
});

// ---------------------------------------------------------------- import commit

test('import: a commit git refuses (no identity) is one line that keeps the files and says how to commit', async (t) => {
  const dir = makeRepo(t, { 'hosts/relink/host.yaml': HOST_YAML });
  await gitIn(dir, 'init', '-q');
  await gitIn(dir, 'config', 'user.useConfigOnly', 'true');
  const saved = { ...process.env };
  t.after(() => {
    process.env = saved;
  });
  // No identity anywhere: an empty home (no ~/.gitconfig), none in the environment, no guessing.
  process.env.HOME = dir;
  process.env.XDG_CONFIG_HOME = dir;
  for (const k of ['GIT_AUTHOR_NAME', 'GIT_AUTHOR_EMAIL', 'GIT_COMMITTER_NAME', 'GIT_COMMITTER_EMAIL', 'EMAIL']) delete process.env[k];
  await assert.rejects(
    commitImport(dir, join(dir, 'hosts/relink'), 'man8s import relink from relink', 'hosts/relink'),
    (e: unknown) =>
      e instanceof UserError &&
      e.message ===
        'imported into hosts/relink but could not commit it: git has no identity here: set git config user.name and user.email; then commit it yourself: git add hosts/relink && git commit -m "man8s import relink from relink"',
  );
  assert.equal(readFileSync(join(dir, 'hosts/relink/host.yaml'), 'utf8'), HOST_YAML);
  assert.equal(gitFailureLine('hint: x\nfatal: pathspec did not match\n'), 'fatal: pathspec did not match');
});

// ---------------------------------------------------------------- completion

test('completion: host and container names where a command takes them, nothing where it does not', () => {
  const names = new Map([
    ['lothric', ['node-exporter', 'us-grafana']],
    ['relink', ['node-exporter', 'relink-nginx']],
  ]);
  const words = (...w: string[]) => ['man8s', ...w];
  assert.deepEqual(completeNames(words('status', ''), '', names, false), ['lothric', 'relink']);
  assert.deepEqual(completeNames(words('deploy', 'relink', 'lo'), 'lo', names, false), ['lothric', 'relink']);
  assert.deepEqual(completeNames(words('logs', ''), '', names, false), ['lothric/node-exporter', 'relink/node-exporter', 'relink-nginx', 'us-grafana']);
  assert.deepEqual(completeNames(words('stop', 'relink/'), 'relink/', names, false), ['lothric/node-exporter', 'relink/node-exporter', 'relink/relink-nginx', 'lothric/us-grafana']);
  assert.deepEqual(completeNames(words('render', 'relink', ''), '', names, false), ['node-exporter', 'relink-nginx']);
  assert.deepEqual(completeNames(words('migrate', 'us-grafana', ''), '', names, false), ['lothric', 'relink']);
  assert.deepEqual(completeNames(words('migrate', ''), '', names, false), ['node-exporter', 'relink-nginx', 'us-grafana']);
  assert.deepEqual(completeNames(words('ssh', ''), '', names, true), ['lothric:host', 'relink:host']);
  assert.deepEqual(completeNames(words('logs', 'r'), 'r', names, true)!.slice(-2), ['relink-nginx:container on relink', 'us-grafana:container on lothric']);
  // Options, option values, free arguments, commands without names, no fleet: yargs answers.
  assert.equal(completeNames(words('logs', '--ta'), '--ta', names, false), null);
  assert.equal(completeNames(words('render', 'relink'), '', names, false), null);
  assert.equal(completeNames(words('ssh', 'relink', ''), '', names, false), null);
  assert.equal(completeNames(words('validate', ''), '', names, false), null);
  assert.equal(completeNames(['man8s', ''], '', names, false), null);
  assert.equal(completeNames(words('status', ''), '', new Map(), false), null);
});

test('completion: names come from the folders (hosts with host.yaml, conf/ folders), the fleet root as the loader finds it', (t) => {
  const dir = makeRepo(t, {
    'man8s.yaml': 'fleet: infra\n',
    'infra/relink/host.yaml': HOST_YAML,
    'infra/relink/conf/web/container.yaml': 'image: a\n',
    'infra/relink/conf/.hidden/x': 'x',
    'infra/relink/plugin/web/p': 'p',
    'infra/notes/README.md': 'not a host',
    'infra/.git-crypt/x': 'x',
    'other/lothric/host.yaml': OTHER_HOST_YAML,
  });
  assert.deepEqual([...readFleetNames(dir)], [['relink', ['web']]]);
  assert.deepEqual([...readFleetNames(dir, 'other')], [['lothric', []]]);
  assert.deepEqual([...readFleetNames(join(dir, 'infra'))], [], 'no man8s.yaml here and no hosts/ below: no names, no error');
  writeEntries(dir, { 'man8s.yaml': 'fleet: [\n' });
  assert.deepEqual([...readFleetNames(dir)], [], 'a broken man8s.yaml is validate\'s business');
});

test('untilStdinClosesArgv: the command runs until it ends (its exit code kept) or until stdin closes', async () => {
  const argv = untilStdinClosesArgv(['sh', '-c', 'echo "$1"; exit 7', 'x', "it's"]);
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3), ['man8s-follow', 'sh', '-c', 'echo "$1"; exit 7', 'x', "it's"]);
  const { spawn } = await import('node:child_process');
  const run = (a: string[], closeAfterMs?: number) =>
    new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
      const started = Date.now();
      const child = spawn(a[0]!, a.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      if (closeAfterMs !== undefined) setTimeout(() => child.stdin.end(), closeAfterMs);
      child.on('close', (code) => resolve({ code, out, ms: Date.now() - started }));
    });
  // stdin held open: the command's own end and exit code.
  const ended = await run(argv, 5000);
  assert.deepEqual([ended.code, ended.out], [7, "it's\n"]);
  assert.ok(ended.ms < 4000, `it waited for stdin: ${ended.ms} ms`);
  // A command that would run for minutes stops when stdin closes.
  const stopped = await run(untilStdinClosesArgv(['sleep', '300']), 200);
  assert.notEqual(stopped.code, 0);
  assert.ok(stopped.ms < 4000, `still running ${stopped.ms} ms after stdin closed`);
});
