/**
 * The demo fleet in hosts/ (relink, lothric, tarrey, from the guide) as shipped: it validates clean, and
 * relink's container addresses, computed from hosts/relink/host.yaml, are the ones the guide's
 * `mbctl list` prints. A change under hosts/ that breaks either fails here, not in a demo.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadCheckedFleet } from '../../src/cli/context.js';
import { formatDiagnostic } from '../../src/fleet/model.js';
import { fleetListing } from '../../src/man8s/listing.js';
import { containerYggaddr } from '../../src/man8s/ygg.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Rows of the guide's `mbctl list` on relink (seed/man8s-ctr-guide.zh.md, section "mbctl list") for the
 * containers the demo fleet has: Container, Image, AutoStart, YggAddr.
 */
const GUIDE_MBCTL_LIST = [
  ['nchat-element', 'vectorim/element-web', 'Yes', '300:7547:78fb:902a:7f53:42ef:2c2b:cee9'],
  ['relink-nginx', 'library/nginx', 'Yes', '300:7547:78fb:902a:c078:fb01:c413:a24c'],
  ['relink-pdns-recursor', 'powerdns/pdns-recursor-54', 'Yes', '300:7547:78fb:902a:874a:2e22:fa0d:d5d7'],
];

test('the demo fleet validates clean (as man8s validate does: loader and Man8S rules)', async () => {
  const { fleet, diagnostics } = await loadCheckedFleet({}, REPO);
  assert.deepEqual(diagnostics.map(formatDiagnostic), []);
  assert.deepEqual([...fleet.hosts.keys()], ['lothric', 'relink', 'tarrey']);
});

test("relink's addresses, from hosts/relink/host.yaml, equal the guide's mbctl list", async () => {
  const { fleet } = await loadCheckedFleet({}, REPO);
  const relink = fleet.hosts.get('relink')!;
  const rows = new Map(fleetListing(fleet, ['relink']).map((r) => [r.name, r]));
  for (const [name, image, autostart, yggaddr] of GUIDE_MBCTL_LIST) {
    const row = rows.get(name!);
    assert.ok(row, `the demo fleet has no ${name} on relink`);
    // What ls --offline prints, and the rule itself on host.yaml's yggaddr: both must give the guide's address.
    assert.equal(row.yggaddr, yggaddr, `${name}: ls --offline`);
    assert.equal(containerYggaddr(relink.settings.yggaddr, name!), yggaddr, `${name}: from ${relink.file}`);
    assert.equal(row.autostart ? 'Yes' : 'No', autostart, `${name}: autostart`);
    // The demo pins a registry and a tag; the repository is the guide's.
    assert.ok(row.image.includes(image!), `${name}: image ${row.image} is not the guide's ${image}`);
  }
});
