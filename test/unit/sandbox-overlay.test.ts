import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Fleet, HostSpec } from '../../src/fleet/model.js';
import { applySandboxOverlay, readSandboxOverlay, type SandboxOverlay } from '../../src/sandbox/overlay.js';
import { checkHostNames, hostAddress, hostNetns, sshAlias } from '../../src/sandbox/layout.js';
import { subnetGateway } from '../../src/sandbox/docker.js';
import { UserError } from '../../src/errors.js';

function host(name: string): HostSpec {
  return {
    name,
    dir: `/fleet/hosts/${name}`,
    file: `hosts/${name}/host.yaml`,
    at: () => ({ line: 1, col: 1 }),
    settings: {
      ssh: name,
      yggaddr: '200:7547:78fb:902a:9a09:9bff:f966:89a7',
      engine: 'nerdctl',
      storage_path: '/srv/man8s',
      network: { withygg: 'man8yggbr', noygg: 'man8br' },
      nerdconfig: { namespace: 'man8s.io', snapshotter: 'btrfs' },
      local_domain: 'man8s.local',
      config_file: 'container.yaml',
      tags: ['prod'],
    },
    containers: new Map(),
    broken: new Set(),
  };
}

const fleet: Fleet = { repoRoot: '/fleet', root: '/fleet/hosts', hosts: new Map([['relink', host('relink')], ['lothric', host('lothric')]]) };

function overlay(names: string[]): SandboxOverlay {
  const common = { sshConfig: '/r/.man8s/sandbox/ssh_config', identity: '/r/.man8s/sandbox/id_ed25519', knownHosts: '/r/.man8s/sandbox/known_hosts' };
  return {
    version: 1,
    ...common,
    hosts: Object.fromEntries(
      names.map((n, i) => [
        n,
        {
          ...common,
          ssh: sshAlias(n),
          user: 'root',
          address: hostAddress(i + 1),
          port: 22,
          yggaddr: `201:${i + 1}::1`,
          yggsubnet: `301:${i + 1}::/64`,
          engine: 'docker' as const,
          storagePath: '/var/lib/man8s',
        },
      ]),
    ),
  };
}

test('the overlay replaces ssh, yggaddr, engine and storage_path, and leaves the rest and the input alone', () => {
  const out = applySandboxOverlay(fleet, overlay(['relink', 'lothric', 'tarrey']));
  const s = out.hosts.get('relink')!.settings;
  assert.equal(s.ssh, 'man8s-sandbox-relink');
  assert.equal(s.yggaddr, '201:1::1');
  assert.equal(s.engine, 'docker');
  assert.equal(s.storage_path, '/var/lib/man8s');
  assert.deepEqual(s.tags, ['prod']);
  assert.deepEqual([...out.hosts.keys()], ['relink', 'lothric']);
  assert.equal(fleet.hosts.get('relink')!.settings.ssh, 'relink');
});

test('a fleet host missing from the sandbox says how to start a matching one', () => {
  assert.throws(
    () => applySandboxOverlay(fleet, overlay(['relink'])),
    (e: unknown) =>
      e instanceof UserError &&
      e.message ===
        '--sandbox: host lothric not in the running sandbox (it has relink); run `man8s sandbox down` then `man8s sandbox up --from-fleet`',
  );
});

test('reading the overlay: missing and malformed files are user errors with the fix', () => {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-overlay-'));
  try {
    assert.throws(() => readSandboxOverlay(dir), /no sandbox is running .*sandbox\.json not found.*man8s sandbox up --from-fleet/);
    const file = join(dir, 'sb.json');
    writeFileSync(file, '{"version": 2}');
    process.env.MAN8S_SANDBOX_OVERLAY = file;
    assert.throws(() => readSandboxOverlay(dir), /not a version 1 sandbox overlay/);
    writeFileSync(file, JSON.stringify(overlay(['relink'])));
    assert.equal(readSandboxOverlay(dir).hosts.relink!.ssh, 'man8s-sandbox-relink');
  } finally {
    delete process.env.MAN8S_SANDBOX_OVERLAY;
    rmSync(dir, { recursive: true, force: true });
  }
});

test('host names, namespaces and gateways', () => {
  assert.equal(hostNetns('relink'), 'man8s-sbx-h-relink');
  assert.equal(hostAddress(3), '10.213.0.13');
  assert.equal(subnetGateway('300:7547:78fb:902a::/64'), '300:7547:78fb:902a::1');
  assert.doesNotThrow(() => checkHostNames(['relink', 'a-1']));
  assert.throws(() => checkHostNames([]), /no hosts given/);
  assert.throws(() => checkHostNames(['Relink']), /host name "Relink" is not usable/);
  assert.throws(() => checkHostNames(['a', 'a']), /host "a" is listed twice/);
});
