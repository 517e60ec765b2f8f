/** `man8s render` and `man8s ls --offline`, run as the real CLI against a small fleet in a temp folder. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { containerYggaddr } from '../../src/man8s/ygg.js';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const cli = join(projectRoot, 'src/cli.ts');
const ALPHA = '200:7547:78fb:902a:9a09:9bff:f966:89a7';
const BETA = '201:1111:2222:3333::1';

let dir = '';
let fleetRoot = '';

function write(path: string, text: string): void {
  const full = join(fleetRoot, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, text);
}

function man8s(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', cli, '--fleet', fleetRoot, ...args],
      { cwd: projectRoot, env: { ...process.env, NO_COLOR: '1' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'man8s-cmd-'));
  fleetRoot = join(dir, 'hosts');
  write('alpha/host.yaml', `yggaddr: ${ALPHA}\n`);
  write('alpha/conf/db/container.yaml', 'image: postgres:18\nmount:\n  socket:\n    /run/pg: {owner: [999, 999]}\n');
  write(
    'alpha/conf/web/container.yaml',
    'image: nginx\nrequire: [db]\nport: [[80, 80], [53, 53, true]]\ndns: resolver\nmount:\n  socket:\n    /pg:\n      source: db:/run/pg\n',
  );
  write('beta/host.yaml', `yggaddr: ${BETA}\nengine: docker\n`);
  write('beta/conf/resolver/container.yaml', 'image: pdns\nautostart: false\n');
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('man8s render', () => {
  it('prints one container’s compose file', async () => {
    const { code, stdout } = await man8s('render', 'alpha', 'web');
    assert.equal(code, 0);
    const compose = parse(stdout);
    assert.deepEqual(Object.keys(compose.services), ['web']);
    const web = compose.services.web;
    assert.deepEqual(web.ports, ['80:80', '[::]:80:80', '53:53/udp', '[::]:53:53/udp']);
    assert.equal(web.dns, containerYggaddr(BETA, 'resolver'));
    assert.deepEqual(web.volumes, ['/var/lib/man8s/socket/db/run/pg:/pg']);
    assert.equal(web.labels['io.man8s.managed'], 'true');
  });

  it('prints every container of a host as multi-document YAML, in dependency order', async () => {
    const { code, stdout } = await man8s('render', 'alpha');
    assert.equal(code, 0);
    const docs = parseAllDocuments(stdout).map((d) => (d as { toJS(): { services: object } }).toJS());
    assert.deepEqual(docs.map((d) => Object.keys(d.services)[0]), ['db', 'web']);
  });

  it('renders for another engine with --engine', async () => {
    const { stdout } = await man8s('render', 'alpha', 'web', '--engine', 'docker');
    const web = parse(stdout).services.web;
    assert.deepEqual(web.networks, { man8yggbr: { ipv6_address: containerYggaddr(ALPHA, 'web') } });
    assert.deepEqual(web.ports, ['80:80', '53:53/udp']);
  });

  it('names what exists for an unknown host or container', async () => {
    const host = await man8s('render', 'gamma');
    assert.equal(host.code, 1);
    assert.equal(host.stderr, 'man8s: unknown host "gamma"; the fleet has: alpha, beta\n');
    const name = await man8s('render', 'alpha', 'resolver');
    assert.equal(name.code, 1);
    assert.equal(name.stderr, 'man8s: no container "resolver" on alpha (it is on beta); alpha has: db, web\n');
  });

  it('has an example in --help', async () => {
    const { code, stdout } = await man8s('render', '--help');
    assert.equal(code, 0);
    assert.match(stdout, /Examples:\n\s+man8s render relink relink-nginx/);
  });
});

describe('man8s ls --offline', () => {
  it('prints the table from git alone', async () => {
    const { code, stdout } = await man8s('ls', '--offline');
    assert.equal(code, 0);
    assert.equal(
      stdout,
      [
        'Host   Container  Image        AutoStart  YggAddr                                 Requires',
        `alpha  db         postgres:18  Yes        ${containerYggaddr(ALPHA, 'db').padEnd(40)}-`,
        `alpha  web        nginx        Yes        ${containerYggaddr(ALPHA, 'web').padEnd(40)}db`,
        `beta   resolver   pdns         No         ${containerYggaddr(BETA, 'resolver').padEnd(40)}-`,
        '',
      ].join('\n'),
    );
  });

  it('prints JSON for the given hosts with --json', async () => {
    const { code, stdout } = await man8s('ls', '--offline', 'beta', '--json');
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), [
      { host: 'beta', name: 'resolver', image: 'pdns', autostart: false, yggaddr: containerYggaddr(BETA, 'resolver'), require: [], engine: 'docker' },
    ]);
  });

  it('refuses an unknown host', async () => {
    const { code, stderr } = await man8s('ls', '--offline', 'gamma');
    assert.equal(code, 1);
    assert.equal(stderr, 'man8s: unknown host "gamma"; the fleet has: alpha, beta\n');
  });

  it('live ls names each host it cannot reach, with the reason, and exits 1', async () => {
    // The fixture's hosts have no ssh destination but their names, which resolve nowhere here.
    write('alpha/host.yaml', `yggaddr: ${ALPHA}\nssh: root@127.0.0.1:1\n`);
    const { code, stdout, stderr } = await man8s('ls');
    assert.equal(code, 1);
    assert.match(stdout + stderr, /alpha: unreachable: cannot connect to root@127\.0\.0\.1:1 \(ECONNREFUSED\)/);
  });
});

describe('commands on an invalid fleet', () => {
  it('refuse to render and list every problem', async () => {
    write('alpha/conf/bad/container.yaml', 'image: x\nrequire: [ghost]\n');
    try {
      const { code, stderr } = await man8s('render', 'alpha', 'web');
      assert.equal(code, 1);
      assert.match(stderr, /man8s: the fleet has 1 problem; fix it first:\n.*hosts\/alpha\/conf\/bad\/container\.yaml:2:11: require: no container "ghost" on alpha\n/);
    } finally {
      rmSync(join(fleetRoot, 'alpha/conf/bad'), { recursive: true });
    }
  });
});
