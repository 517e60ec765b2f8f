import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml } from '../../src/fleet/yaml.js';

const SOURCE = [
  '# nginx', //                           1
  'image: nginx', //                      2
  'mount:', //                            3
  '  socket:', //                         4
  '    /db_socket:', //                   5
  '      source: pg:/run/postgresql', //  6
  '    /empty:', //                       7
  'port:', //                             8
  '  - [80, 80]', //                      9
  '  - &p [53, 53, true]', //            10
  'again: *p', //                        11
  '',
].join('\n');

test('the locator finds values, keys, list items and aliases', () => {
  const { at, ok, diagnostics } = parseYaml(SOURCE, 'c.yaml');
  assert.equal(ok, true);
  assert.deepEqual(diagnostics, []);
  assert.deepEqual(at(['image']), { line: 2, col: 8 });
  assert.deepEqual(at(['image'], true), { line: 2, col: 1 });
  assert.deepEqual(at(['mount', 'socket', '/db_socket', 'source']), { line: 6, col: 15 });
  assert.deepEqual(at(['mount', 'socket', '/db_socket'], true), { line: 5, col: 5 });
  assert.deepEqual(at(['port', 1, 2]), { line: 10, col: 17 });
  assert.deepEqual(at(['again', 0]), { line: 10, col: 9 });
});

test('the locator points at the key of an empty value', () => {
  const { at } = parseYaml(SOURCE, 'c.yaml');
  assert.deepEqual(at(['mount', 'socket', '/empty']), { line: 7, col: 5 });
});

test('the locator falls back to the nearest existing ancestor', () => {
  const { at } = parseYaml(SOURCE, 'c.yaml');
  assert.deepEqual(at(['mount', 'socket', '/nope', 'owner']), { line: 5, col: 5 });
  assert.deepEqual(at(['port', 7, 0]), { line: 9, col: 3 });
  assert.deepEqual(at(['image', 'deeper']), { line: 2, col: 8 });
  assert.deepEqual(at(['nope'], true), { line: 2, col: 1 });
});

test('an empty file locates everything at 1:1', () => {
  const { at, data, ok } = parseYaml('', 'c.yaml');
  assert.equal(ok, true);
  assert.equal(data, null);
  assert.deepEqual(at(['image']), { line: 1, col: 1 });
});

test('syntax errors and duplicate keys are diagnostics with line:col, and the data is not trusted', () => {
  const bad = parseYaml('image: a\nport:\n  - [80, 80\nenv: 1\n', 'c.yaml');
  assert.equal(bad.ok, false);
  assert.deepEqual(bad.diagnostics, [
    { file: 'c.yaml', line: 4, col: 1, message: 'YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]' },
  ]);
  const dup = parseYaml('image: a\nenvironment:\n  TZ: UTC\n  TZ: CET\n"image": b\n', 'c.yaml');
  assert.equal(dup.ok, false);
  assert.deepEqual(dup.diagnostics.map((d) => `${d.line}:${d.col}: ${d.message}`), ['4:3: duplicate key "TZ"', '5:1: duplicate key "image"']);
});

test('a tab-indented file reports where the tab is', () => {
  const bad = parseYaml('image: a\nmount:\n\tconf: {}\n', 'c.yaml');
  assert.equal(bad.ok, false);
  assert.equal(bad.diagnostics[0]?.line, 3);
  assert.match(bad.diagnostics[0]!.message, /^YAML syntax: /);
});
