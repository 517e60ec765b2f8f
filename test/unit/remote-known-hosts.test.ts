import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendKnownHost,
  fingerprintSha256,
  formatKnownHostsLine,
  keyTypeOfBlob,
  knownHostsName,
  knownKeyTypes,
  lookupNames,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  readKnownHosts,
  verifyHostKey,
} from '../../src/remote/known-hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'man8s-kh-'));
function keypair(name: string): { blob: Buffer; line: string; file: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file, '-C', 'c']);
  const line = readFileSync(`${file}.pub`, 'utf8').trim();
  return { blob: Buffer.from(line.split(' ')[1]!, 'base64'), line, file: `${file}.pub` };
}
const A = keypair('a');
const B = keypair('b');
const aB64 = A.blob.toString('base64');
const bB64 = B.blob.toString('base64');

test('fingerprint is exactly what ssh-keygen -lf prints', () => {
  const out = execFileSync('ssh-keygen', ['-lf', A.file], { encoding: 'utf8' });
  assert.equal(fingerprintSha256(A.blob), out.split(' ')[1]);
  assert.match(fingerprintSha256(A.blob), /^SHA256:[A-Za-z0-9+/]{43}$/);
  assert.equal(keyTypeOfBlob(A.blob), 'ssh-ed25519');
});

test('names: port 22 plain, other ports bracketed, HostKeyAlias wins', () => {
  assert.equal(knownHostsName('relink', 22), 'relink');
  assert.equal(knownHostsName('10.0.0.1', 2222), '[10.0.0.1]:2222');
  assert.deepEqual(lookupNames({ hostname: 'Relink', port: 22 }), ['relink']);
  assert.deepEqual(lookupNames({ hostname: 'x', port: 2222, hostKeyAlias: 'alias' }), ['alias']);
});

test('parse: comments, comma lists, markers, hashed entries, junk lines', () => {
  const text = [
    '# comment',
    '',
    `relink,10.0.0.1 ssh-ed25519 ${aB64}`,
    `@revoked * ssh-ed25519 ${bB64}`,
    `@cert-authority *.example ssh-ed25519 ${aB64}`,
    '@bogus x ssh-ed25519 AAAA',
    'only-two-fields ssh-ed25519',
    formatKnownHostsLine('[h]:2222', A.blob, true, Buffer.alloc(20, 7)),
  ].join('\n');
  const entries = parseKnownHosts(text, 'kh');
  assert.equal(entries.length, 4);
  assert.deepEqual(entries[0]!.hosts, { kind: 'patterns', patterns: ['relink', '10.0.0.1'] });
  assert.equal(entries[0]!.line, 3);
  assert.equal(entries[1]!.marker, 'revoked');
  assert.equal(entries[2]!.marker, 'cert-authority');
  assert.equal(entries[3]!.hosts.kind, 'hashed');
});

test('verify: trusted, unknown, changed (with fingerprints), revoked; wildcards and negation', () => {
  const entries = parseKnownHosts(
    [`relink,10.0.0.1 ssh-ed25519 ${aB64}`, `*.lab,!bad.lab ssh-ed25519 ${aB64}`, `[gw]:2222 ssh-ed25519 ${aB64}`].join('\n'),
    '/home/me/.ssh/known_hosts',
  );
  assert.equal(verifyHostKey(entries, ['relink'], A.blob).status, 'trusted');
  assert.equal(verifyHostKey(entries, ['RELINK'.toLowerCase()], A.blob).status, 'trusted');
  assert.equal(verifyHostKey(entries, ['x.lab'], A.blob).status, 'trusted');
  assert.equal(verifyHostKey(entries, ['bad.lab'], A.blob).status, 'unknown');
  assert.equal(verifyHostKey(entries, ['gw'], A.blob).status, 'unknown', 'port 22 name must not match [gw]:2222');
  assert.equal(verifyHostKey(entries, ['[gw]:2222'], A.blob).status, 'trusted');
  const changed = verifyHostKey(entries, ['relink'], B.blob);
  assert.deepEqual(changed, {
    status: 'changed',
    fingerprint: fingerprintSha256(B.blob),
    keyType: 'ssh-ed25519',
    expected: [{ file: '/home/me/.ssh/known_hosts', line: 1, keyType: 'ssh-ed25519', fingerprint: fingerprintSha256(A.blob) }],
  });
  const unknown = verifyHostKey(entries, ['lothric'], B.blob);
  assert.deepEqual(unknown, { status: 'unknown', fingerprint: fingerprintSha256(B.blob), keyType: 'ssh-ed25519' });
  const revoked = parseKnownHosts(`@revoked * ssh-ed25519 ${aB64}\nrelink ssh-ed25519 ${aB64}`);
  assert.equal(verifyHostKey(revoked, ['relink'], A.blob).status, 'revoked');
});

test('a key of another type for a known host counts as changed', () => {
  const rsaLike = Buffer.concat([Buffer.from([0, 0, 0, 7]), Buffer.from('ssh-rsa'), Buffer.from([0, 0, 0, 1, 1])]);
  const entries = parseKnownHosts(`relink ssh-ed25519 ${aB64}`);
  assert.equal(verifyHostKey(entries, ['relink'], rsaLike).status, 'changed');
  assert.deepEqual(knownKeyTypes(entries, ['relink']), ['ssh-ed25519']);
  assert.deepEqual(preferredHostKeyAlgorithms(['ssh-rsa']).slice(0, 3), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.equal(preferredHostKeyAlgorithms([])[0], 'ssh-ed25519');
});

test('hashed lines written by man8s are found by ssh-keygen -F, and ssh-keygen -H lines by man8s', async () => {
  const file = join(dir, 'known_hosts_hashed');
  await appendKnownHost(file, formatKnownHostsLine('[127.0.0.1]:2222', A.blob, true));
  await appendKnownHost(file, formatKnownHostsLine('plainhost', B.blob, false));
  const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.1]:2222', '-f', file], { encoding: 'utf8' });
  assert.match(found, /ssh-ed25519/);
  assert.match(readFileSync(file, 'utf8'), /^\|1\|/);
  const entries = await readKnownHosts([file, join(dir, 'does-not-exist')]);
  assert.equal(verifyHostKey(entries, ['[127.0.0.1]:2222'], A.blob).status, 'trusted');
  assert.equal(verifyHostKey(entries, ['plainhost'], B.blob).status, 'trusted');

  const openssh = join(dir, 'known_hosts_openssh');
  writeFileSync(openssh, `lothric ssh-ed25519 ${aB64}\n`);
  execFileSync('ssh-keygen', ['-H', '-f', openssh], { stdio: 'ignore' });
  assert.match(readFileSync(openssh, 'utf8'), /^\|1\|/);
  assert.equal(verifyHostKey(await readKnownHosts([openssh]), ['lothric'], A.blob).status, 'trusted');
});
