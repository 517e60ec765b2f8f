/**
 * Proves the sandbox is real: ssh with host-key checking, a container on man8yggbr at its computed
 * ygg address, reached from another host over yggdrasil, and a bind mount from /var/lib/man8s.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { containerYggaddr, subnetText } from '../../src/man8s/ygg.js';
import { run } from '../../src/sandbox/exec.js';
import { E2E_HOSTS, ensureSandbox, resetSandboxHosts, type SandboxHandle } from '../support/sandbox.js';

let sb: SandboxHandle;
const NAME = 'smoke-web';

before(async () => {
  sb = await ensureSandbox({ hosts: E2E_HOSTS });
  await resetSandboxHosts();
});

after(async () => {
  if (!sb) return;
  await resetSandboxHosts();
  await sb.release();
});

test('every host answers ssh as itself, with host-key checking on', async () => {
  for (const host of E2E_HOSTS) {
    assert.equal((await sb.mustRun(host, ['hostname'])).trim(), host);
    // The engine behind `docker` over ssh is the host's own Debian dockerd.
    assert.match(await sb.mustRun(host, ['docker', 'version', '--format', '{{.Server.Version}}']), /^20\./);
  }
  // Same connection with an empty known_hosts is refused: the key check is real, not skipped.
  const alias = sb.overlay.hosts[E2E_HOSTS[0]!]!.ssh;
  const r = await run(['ssh', '-F', sb.sshConfig, '-o', 'UserKnownHostsFile=/dev/null', alias, 'true']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /Host key verification failed/);
});

test('a container on man8yggbr is reached from another host at its computed ygg address', async () => {
  const [a, b] = [E2E_HOSTS[0]!, E2E_HOSTS[1]!];
  const hostA = sb.overlay.hosts[a]!;
  // The network's subnet is the /64 the Man8S rules derive from the host's yggaddr.
  assert.equal(subnetText(hostA.yggaddr), hostA.yggsubnet);
  const addr = containerYggaddr(hostA.yggaddr, NAME);
  const www = `/var/lib/man8s/data/${NAME}/www`;
  await sb.mustRun(a, ['mkdir', '-p', www]);
  await sb.mustRun(a, [
    'docker', 'run', '-d', '--name', NAME, '--hostname', NAME,
    '--network', 'man8yggbr', '--ip6', addr,
    '-v', `${www}:/www`,
    'docker.io/library/busybox:latest',
    'sh', '-c', `echo "hello from ${NAME} on ${a}" > /www/index.html && echo written-inside > /www/proof.txt && exec httpd -f -p 80 -h /www`,
  ]);
  const inspect = await sb.mustRun(a, ['docker', 'inspect', '-f', '{{.NetworkSettings.Networks.man8yggbr.GlobalIPv6Address}}', NAME]);
  assert.equal(inspect.trim(), addr);

  // B routes the address into its yggdrasil TUN: the page can only arrive over yggdrasil.
  assert.match(await sb.mustRun(b, ['ip', '-6', 'route', 'get', addr]), /dev ygg0/);
  let page = '';
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const r = await sb.run(b, ['curl', '-sS', '-g', '--max-time', '5', `http://[${addr}]/`]);
    if (r.code === 0) {
      page = r.stdout;
      break;
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.equal(page.trim(), `hello from ${NAME} on ${a}`);
});

test('a file written in the container through a bind mount from /var/lib/man8s is on the host', async () => {
  const a = E2E_HOSTS[0]!;
  const proof = `/var/lib/man8s/data/${NAME}/www/proof.txt`;
  assert.equal((await sb.mustRun(a, ['cat', proof])).trim(), 'written-inside');
  // …and only on that host: each host has its own /var/lib/man8s.
  const other = await sb.run(E2E_HOSTS[1]!, ['cat', proof]);
  assert.notEqual(other.code, 0);
});
