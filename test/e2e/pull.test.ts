/**
 * `man8s pull` against the sandbox, through the real man8s binary: a registry (Debian's docker-registry,
 * distribution v2) runs inside relink's network namespace on 127.0.0.1:5000 — docker accepts plain HTTP
 * for loopback registries, so relink's dockerd pushes and pulls with no daemon config. The registry's tag
 * then moves to a new image while relink's copy of the tag stays on the old one, exactly as when a
 * `latest` is republished upstream. Assertions are on the host (container ids, image ids) and in git.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureSandbox, resetSandboxHosts, type SandboxHandle } from '../support/sandbox.js';
import { makeSandboxFleet, inspect, type E2EFleet } from '../support/e2e-fleet.js';

const HOST = 'relink';
const REGISTRY = '127.0.0.1:5000';
const IMAGE = `${REGISTRY}/app:latest`;
/** Not named man8s*: resetSandboxHosts (run by other suites too) clears /tmp/man8s* on the hosts. */
const DIR = `/tmp/e2e-pull-registry-${process.pid}`;
const REGISTRY_CONFIG = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: ${DIR}/data
http:
  addr: ${REGISTRY}
`;

const CONTAINER = (round: string) => `image: ${IMAGE}
environment:
  ROUND: "${round}"
extra_compose_configs:
  command: ["sleep", "infinity"]
`;

let sb: SandboxHandle;
let fleet: E2EFleet;
let oldId = '';
let newId = '';

const sh = (script: string, input?: string) => sb.mustRun(HOST, ['sh', '-c', script], { timeoutMs: 300_000, ...(input !== undefined ? { input } : {}) });
const imageOf = async (name: string) => (await sb.mustRun(HOST, ['docker', 'inspect', '--format', '{{.Image}}', name])).trim();
const tagId = async () => (await sb.mustRun(HOST, ['docker', 'image', 'inspect', '--format', '{{.Id}}', IMAGE])).trim();

function explain(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The deployed.yaml entry of `name` in HEAD's record, as `key: value` lines. */
function recordOf(name: string): string {
  const text = readFileSync(join(fleet.dir, 'hosts', HOST, 'deployed.yaml'), 'utf8');
  const m = new RegExp(`^  ${name}:\\n((?:    .*\\n)+)`, 'm').exec(text);
  assert.ok(m, `no entry for ${name} in deployed.yaml:\n${text}`);
  return m[1]!;
}

before(async () => {
  sb = await ensureSandbox({ hosts: [HOST] });
  await resetSandboxHosts();
  // The registry, in relink's namespaces only, started detached from the ssh session; its pid recorded.
  await sh(`mkdir -p ${DIR}/data ${DIR}/ctx && cat > ${DIR}/config.yml`, REGISTRY_CONFIG);
  await sh(`setsid nohup docker-registry serve ${DIR}/config.yml >${DIR}/log 2>&1 </dev/null & echo $! > ${DIR}/pid`);
  await sh(
    `i=0; until curl -sf http://${REGISTRY}/v2/ >/dev/null; do i=$((i+1)); [ $i -lt 100 ] || { cat ${DIR}/log >&2; exit 1; }; sleep 0.1; done`,
  );
  // Upstream publishes the first image.
  await sh(`docker tag busybox:latest ${IMAGE} && docker push ${IMAGE} >/dev/null`);
  oldId = await tagId();

  fleet = makeSandboxFleet(sb, [HOST]);
  fleet.write(`hosts/${HOST}/conf/app/container.yaml`, CONTAINER('app'));
  fleet.write(`hosts/${HOST}/conf/other/container.yaml`, CONTAINER('other'));
  fleet.commit('fleet');
});

after(async () => {
  fleet?.cleanup();
  if (!sb) return;
  await resetSandboxHosts(); // first: an image a container still uses cannot be removed
  await sb.run(HOST, ['sh', '-c', `[ -f ${DIR}/pid ] && kill "$(cat ${DIR}/pid)"; rm -rf ${DIR}; docker rmi -f ${IMAGE} >/dev/null 2>&1; docker images --digests --format '{{.Repository}}@{{.Digest}}' ${REGISTRY}/app | xargs -r docker rmi >/dev/null 2>&1; true`]);
  if (newId) await sb.run(HOST, ['docker', 'rmi', '-f', newId]);
  await sb.release();
});

describe('pull', () => {
  test('deploy runs both containers on the image the tag points at', async () => {
    const r = await fleet.man8s(['deploy', HOST, '--yes', '--settle', '1', '--lock-wait', '300']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(await imageOf('app'), oldId);
    assert.equal(await imageOf('other'), oldId);
    assert.match(recordOf('app'), new RegExp(`image_id: ${oldId}`));
  });

  test('upstream moves the tag; the host still has the old one, so plan (no pull) has nothing to do', async () => {
    // A new image FROM the old one, with a new file and label (classic builder: a local FROM needs no network).
    await sh(`printf 'two\\n' > ${DIR}/ctx/version && printf 'FROM ${IMAGE}\\nLABEL e2e.version=2\\nCOPY version /version\\n' > ${DIR}/ctx/Dockerfile`);
    newId = (await sh(`DOCKER_BUILDKIT=0 docker build -q -t ${IMAGE} ${DIR}/ctx`)).trim();
    assert.match(newId, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(newId, oldId);
    await sh(`docker push ${IMAGE} >/dev/null`);
    // The host as it was before the upstream change: its tag on the old image, the new one not present.
    await sb.mustRun(HOST, ['docker', 'tag', oldId, IMAGE]);
    await sb.mustRun(HOST, ['docker', 'rmi', newId]);
    assert.equal(await tagId(), oldId);
    assert.notEqual((await sb.run(HOST, ['docker', 'image', 'inspect', newId])).code, 0, 'the new image must come from the registry');

    const plan = await fleet.man8s(['plan', HOST, '--detailed-exitcode']);
    assert.equal(plan.code, 0, explain(plan));
    assert.doesNotMatch(plan.stdout, /recreate|pulled/, explain(plan));
  });

  test('pull app re-creates app on the new image, leaves other alone, and commits deployed.yaml', async () => {
    const appBefore = (await inspect(sb, HOST, 'app'))!;
    const otherBefore = (await inspect(sb, HOST, 'other'))!;
    const headBefore = fleet.git('rev-parse', 'HEAD').trim();

    const r = await fleet.man8s(['pull', 'app', '--yes', '--settle', '1', '--lock-wait', '300']);
    assert.equal(r.code, 0, explain(r));
    assert.equal(await tagId(), newId, 'the tag on the host now points at the pulled image');

    const appAfter = (await inspect(sb, HOST, 'app'))!;
    assert.notEqual(appAfter.id, appBefore.id, 'app must be a new container');
    assert.equal(appAfter.status, 'running');
    assert.equal(await imageOf('app'), newId);
    assert.equal((await sb.mustRun(HOST, ['docker', 'exec', 'app', 'cat', '/version'])).trim(), 'two');

    // Not named: same container, still on the old image, although its tag moved under it.
    const otherAfter = (await inspect(sb, HOST, 'other'))!;
    assert.deepEqual(otherAfter, otherBefore);
    assert.equal(await imageOf('other'), oldId);

    // The plan shown: app re-created because of the pull; other not even planned.
    assert.match(r.stdout, new RegExp(`-/\\+ recreate app +pulled ${IMAGE.replace(/[.]/g, '\\.')}: new image ${newId.slice(7, 19)} \\(was ${oldId.slice(7, 19)}\\)`), explain(r));
    assert.doesNotMatch(r.stdout, /other/, explain(r));
    // Summary: Host Created Recreated Restarted Started Unchanged Failed Skipped Pruned.
    assert.match(r.stdout, new RegExp(`^${HOST}\\s+0\\s+1\\s+0\\s+0\\s+0\\s+0\\s+0\\s+0\\s*$`, 'm'), explain(r));

    // Recorded like a deploy: one commit with relink's deployed.yaml, app's new image id, other's kept.
    const head = fleet.git('rev-parse', 'HEAD').trim();
    assert.notEqual(head, headBefore, `pull must commit deployed.yaml\n${explain(r)}`);
    assert.deepEqual(fleet.git('show', '--name-only', '--format=', 'HEAD').trim().split('\n'), [`hosts/${HOST}/deployed.yaml`]);
    assert.match(fleet.git('log', '-1', '--format=%B'), /recreated app/);
    assert.match(recordOf('app'), new RegExp(`image_id: ${newId}`));
    assert.match(recordOf('app'), /result: recreated/);
    assert.match(recordOf('other'), new RegExp(`image_id: ${oldId}`));
  });

  test('a second pull finds the image up to date and re-creates nothing', async () => {
    const appBefore = (await inspect(sb, HOST, 'app'))!;
    const headBefore = fleet.git('rev-parse', 'HEAD').trim();
    const r = await fleet.man8s(['pull', 'app', '--yes', '--settle', '1', '--lock-wait', '300']);
    assert.equal(r.code, 0, explain(r));
    assert.deepEqual(await inspect(sb, HOST, 'app'), appBefore);
    assert.match(r.stdout, /unchanged/, explain(r));
    assert.match(r.stdout, new RegExp(`^${HOST}\\s+0\\s+0\\s+0\\s+0\\s+1\\s+0\\s+0\\s+0\\s*$`, 'm'), explain(r));
    assert.equal(fleet.git('rev-parse', 'HEAD').trim(), headBefore, 'nothing new to record');
  });

  test('deploy --pull takes the same path: the unnamed container is re-created now, app is left alone', async () => {
    const appBefore = (await inspect(sb, HOST, 'app'))!;
    const otherBefore = (await inspect(sb, HOST, 'other'))!;
    const r = await fleet.man8s(['deploy', HOST, '--pull', '--yes', '--settle', '1', '--lock-wait', '300']);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, new RegExp(`-/\\+ recreate other +pulled ${IMAGE.replace(/[.]/g, '\\.')}: new image ${newId.slice(7, 19)}`), explain(r));
    assert.deepEqual(await inspect(sb, HOST, 'app'), appBefore);
    assert.notEqual((await inspect(sb, HOST, 'other'))!.id, otherBefore.id);
    assert.equal(await imageOf('other'), newId);
    assert.match(recordOf('other'), new RegExp(`image_id: ${newId}`));
  });

  test('a pull that fails names the image, changes nothing, and releases the lock', async () => {
    fleet.write(`hosts/${HOST}/conf/ghost/container.yaml`, `image: ${REGISTRY}/ghost:1\nextra_compose_configs:\n  command: ["sleep", "infinity"]\n`);
    fleet.commit('ghost');
    const headBefore = fleet.git('rev-parse', 'HEAD').trim();
    const r = await fleet.man8s(['pull', 'ghost', '--yes', '--lock-wait', '300']);
    assert.equal(r.code, 1, explain(r));
    assert.match(r.stdout + r.stderr, new RegExp(`pulling ${REGISTRY.replace(/[.]/g, '\\.')}/ghost:1 failed: .*check the image name`), explain(r));
    assert.equal(await inspect(sb, HOST, 'ghost'), null);
    assert.equal(fleet.git('rev-parse', 'HEAD').trim(), headBefore);
    // The lock was released: the next pull does not wait for it (no --lock-wait).
    const again = await fleet.man8s(['pull', 'app', '--yes', '--settle', '1']);
    assert.equal(again.code, 0, explain(again));
    fleet.remove(`hosts/${HOST}/conf/ghost`);
    fleet.commit('no ghost');
  });

  test('an unknown name is an error (exit 1) naming close names, before any host is touched', async () => {
    const typo = await fleet.man8s(['pull', 'apq', '--yes']);
    assert.equal(typo.code, 1, explain(typo));
    assert.match(typo.stderr, /no container "apq" in the fleet; did you mean relink\/app\?/, explain(typo));
    const nope = await fleet.man8s(['pull', 'nope', '--yes']);
    assert.equal(nope.code, 1, explain(nope));
    assert.match(nope.stderr, /no container "nope" in the fleet.*man8s ls --offline/, explain(nope));
    assert.equal(nope.stdout, '');
  });
});
