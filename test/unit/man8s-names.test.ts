import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyDns, resolveContainerRef } from '../../src/man8s/names.js';
import { buildFleet } from '../support/fleet-builder.js';

const fleet = buildFleet({
  relink: { containers: { web: { image: 'w' }, exporter: { image: 'e' } }, broken: ['half'] },
  lothric: { yggaddr: '201::1', containers: { exporter: { image: 'e' }, grafana: { image: 'g' }, dup: { image: 'd' } } },
  tarrey: { yggaddr: '202::1', containers: { exporter: { image: 'e' }, dup: { image: 'd' } } },
});

describe('resolveContainerRef', () => {
  it('prefers the same host', () => {
    assert.deepEqual(resolveContainerRef(fleet, 'relink', 'exporter', 'dns'), { ok: true, ref: { host: 'relink', name: 'exporter' } });
  });
  it('falls back to the one other host that has the name', () => {
    assert.deepEqual(resolveContainerRef(fleet, 'relink', 'grafana', 'dns'), { ok: true, ref: { host: 'lothric', name: 'grafana' } });
  });
  it('counts broken containers as existing', () => {
    assert.deepEqual(resolveContainerRef(fleet, 'tarrey', 'half', 'dns'), { ok: true, ref: { host: 'relink', name: 'half' } });
  });
  it('takes host/name literally', () => {
    assert.deepEqual(resolveContainerRef(fleet, 'relink', 'tarrey/exporter', 'local_access'), {
      ok: true,
      ref: { host: 'tarrey', name: 'exporter' },
    });
  });
  it('refuses ambiguous, unknown and misplaced names with a message saying what to write', () => {
    assert.deepEqual(resolveContainerRef(fleet, 'relink', 'dup', 'dns'), {
      ok: false,
      message: 'dns: "dup" is not on relink but on several other hosts (lothric, tarrey); write lothric/dup or tarrey/dup',
    });
    assert.deepEqual(resolveContainerRef(fleet, 'lothric', 'nothing', 'local_access'), {
      ok: false,
      message: 'local_access: no container "nothing" on lothric or any other host',
    });
    assert.deepEqual(resolveContainerRef(fleet, 'relink', 'relink/grafana', 'dns'), {
      ok: false,
      message: 'dns: no container "grafana" on host relink',
    });
    assert.deepEqual(resolveContainerRef(fleet, 'relink', 'mars/grafana', 'dns'), {
      ok: false,
      message: 'dns: no host "mars" in the fleet (hosts: lothric, relink, tarrey)',
    });
  });
});

describe('classifyDns', () => {
  it('tells host, IP literals and container names apart', () => {
    assert.deepEqual(classifyDns('host'), { kind: 'host' });
    assert.deepEqual(classifyDns('9.9.9.9'), { kind: 'ip', address: '9.9.9.9' });
    assert.deepEqual(classifyDns('2620:fe::fe'), { kind: 'ip', address: '2620:fe::fe' });
    assert.deepEqual(classifyDns('relink-pdns-recursor'), { kind: 'container', written: 'relink-pdns-recursor' });
    assert.deepEqual(classifyDns('lothric/resolver'), { kind: 'container', written: 'lothric/resolver' });
  });
});
