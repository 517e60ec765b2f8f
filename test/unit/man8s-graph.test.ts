import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dependencyLevels, findCycles, formatCycle, levelMap } from '../../src/man8s/graph.js';
import { relinkWith } from '../support/fleet-builder.js';

describe('dependencyLevels', () => {
  it('puts containers without requires at level 0 and each other one above its deepest require', () => {
    const host = relinkWith({
      web: { image: 'w', require: ['app', 'cache'] },
      app: { image: 'a', require: ['db'] },
      db: { image: 'd' },
      cache: { image: 'c' },
      lone: { image: 'l' },
    }).hosts.get('relink')!;
    assert.deepEqual(dependencyLevels(host), [['cache', 'db', 'lone'], ['app'], ['web']]);
    assert.equal(levelMap(host).get('web'), 2);
  });
  it('ignores requires of missing or broken containers (reported by checkFleet)', () => {
    const host = relinkWith({ a: { image: 'a', require: ['gone', 'broken'] } }, { broken: ['broken'] }).hosts.get('relink')!;
    assert.deepEqual(dependencyLevels(host), [['a']]);
  });
  it('is empty for a host without containers', () => {
    assert.deepEqual(dependencyLevels(relinkWith({}).hosts.get('relink')!), []);
  });
  it('throws on a cycle', () => {
    const host = relinkWith({ a: { image: 'a', require: ['b'] }, b: { image: 'b', require: ['a'] } }).hosts.get('relink')!;
    assert.throws(() => dependencyLevels(host), /relink: dependency cycle through a/);
  });
});

describe('findCycles', () => {
  it('finds the shortest cycle from the smallest name of each component', () => {
    const host = relinkWith({
      a: { image: 'a', require: ['b'] },
      b: { image: 'b', require: ['c', 'a'] },
      c: { image: 'c', require: ['a'] },
      z: { image: 'z', require: ['a'] },
    }).hosts.get('relink')!;
    assert.deepEqual(findCycles(host).map(formatCycle), ['a → b → a']);
  });
  it('finds nothing in a DAG and handles a long chain without recursion limits', () => {
    const containers: Record<string, Record<string, unknown>> = {};
    for (let i = 0; i < 3000; i++) containers[`c${i}`] = { image: 'x', require: i ? [`c${i - 1}`] : [] };
    const host = relinkWith(containers).hosts.get('relink')!;
    assert.deepEqual(findCycles(host), []);
    assert.equal(dependencyLevels(host).length, 3000);
  });
});
