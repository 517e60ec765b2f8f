/**
 * known_hosts, read and written the way OpenSSH does, so man8s trusts exactly the hosts the user's own
 * ssh trusts and records new ones in a form ssh accepts. Pure functions plus a thin file layer.
 *
 * Not supported: `@cert-authority` lines (ssh2 does not verify host certificates), so a host trusted only
 * through a CA is "unknown" to man8s; the message says so.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export type KnownHostsMatcher =
  | { kind: 'hashed'; salt: Buffer; hash: Buffer }
  | { kind: 'patterns'; patterns: string[] };

export interface KnownHostEntry {
  file: string;
  /** 1-based line number. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  hosts: KnownHostsMatcher;
  keyType: string;
  /** The key blob, base64 as in the file. */
  keyBase64: string;
}

/** Parses one known_hosts file's text. Malformed lines are skipped, as ssh does. */
export function parseKnownHosts(text: string, file = 'known_hosts'): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return;
    }
    const [hostField, keyType, keyBase64] = fields;
    if (!hostField || !keyType || !keyBase64) return;
    let hosts: KnownHostsMatcher;
    if (hostField.startsWith('|1|')) {
      const [, , salt, hash] = hostField.split('|');
      if (!salt || !hash) return;
      hosts = { kind: 'hashed', salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      hosts = { kind: 'patterns', patterns: hostField.split(',').filter(Boolean) };
    }
    out.push({ file, line: i + 1, ...(marker ? { marker } : {}), hosts, keyType, keyBase64 });
  });
  return out;
}

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** The names to look up for a resolved host: HostKeyAlias replaces the host name and port, as in ssh. */
export function lookupNames(h: { hostname: string; port: number; hostKeyAlias?: string }): string[] {
  if (h.hostKeyAlias) return [h.hostKeyAlias.toLowerCase()];
  return [knownHostsName(h.hostname.toLowerCase(), h.port)];
}

/** OpenSSH's match_pattern: `*` and `?` wildcards, case-insensitive on host names. */
function globMatch(name: string, pattern: string): boolean {
  const re = new RegExp(
    '^' + pattern.toLowerCase().replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
  );
  return re.test(name);
}

export function entryMatchesName(entry: KnownHostEntry, name: string): boolean {
  if (entry.hosts.kind === 'hashed') {
    const digest = createHmac('sha1', entry.hosts.salt).update(name).digest();
    return digest.equals(entry.hosts.hash);
  }
  let matched = false;
  for (const p of entry.hosts.patterns) {
    // A matching negated pattern vetoes the whole line (ssh's match_hostname).
    if (p.startsWith('!')) {
      if (globMatch(name, p.slice(1))) return false;
    } else if (globMatch(name, p)) matched = true;
  }
  return matched;
}

/** The key type name inside an ssh wire-format key blob (its first string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:<base64 without padding>`, exactly as `ssh-keygen -lf` and ssh's own messages print it. */
export function fingerprintSha256(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export interface KnownKeyRef {
  file: string;
  line: number;
  keyType: string;
  fingerprint: string;
}

export type HostKeyVerdict =
  | { status: 'trusted'; fingerprint: string; keyType: string; entry: KnownKeyRef }
  | { status: 'unknown'; fingerprint: string; keyType: string }
  | { status: 'changed'; fingerprint: string; keyType: string; expected: KnownKeyRef[] }
  | { status: 'revoked'; fingerprint: string; keyType: string; entry: KnownKeyRef };

function ref(e: KnownHostEntry): KnownKeyRef {
  return { file: e.file, line: e.line, keyType: e.keyType, fingerprint: fingerprintSha256(Buffer.from(e.keyBase64, 'base64')) };
}

/**
 * Decides about a presented host key. A key whose type has no entry while entries of other types exist
 * counts as `changed`: man8s asks the server for the known types first (see preferredHostKeyAlgorithms),
 * so the server presenting another type means the known key is gone, which is what an attacker would do.
 */
export function verifyHostKey(entries: readonly KnownHostEntry[], names: readonly string[], blob: Buffer): HostKeyVerdict {
  const keyType = keyTypeOfBlob(blob);
  const fingerprint = fingerprintSha256(blob);
  const b64 = blob.toString('base64');
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && names.some((n) => entryMatchesName(e, n)));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.keyBase64 === b64);
  if (revoked) return { status: 'revoked', fingerprint, keyType, entry: ref(revoked) };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.keyBase64 === b64);
  if (same) return { status: 'trusted', fingerprint, keyType, entry: ref(same) };
  if (plain.length > 0) return { status: 'changed', fingerprint, keyType, expected: plain.map(ref) };
  return { status: 'unknown', fingerprint, keyType };
}

/** Key types already known for the host, in file order (used to order the host key algorithms). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], names: readonly string[]): string[] {
  const types: string[] = [];
  for (const e of entries) {
    if (e.marker === undefined && names.some((n) => entryMatchesName(e, n)) && !types.includes(e.keyType)) types.push(e.keyType);
  }
  return types;
}

/** Host key algorithms ssh2 should offer: the ones matching known key types first, like OpenSSH. */
export function preferredHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const all = [
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
  ];
  const algosFor = (t: string) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]);
  const first = knownTypes.flatMap(algosFor).filter((a) => all.includes(a));
  return [...new Set([...first, ...all])];
}

/** One known_hosts line for a new key, hashed when the user's ssh hashes (HashKnownHosts yes). */
export function formatKnownHostsLine(name: string, blob: Buffer, hash: boolean, salt: Buffer = randomBytes(20)): string {
  const host = hash ? `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}` : name;
  return `${host} ${keyTypeOfBlob(blob)} ${blob.toString('base64')}`;
}

/** Reads and parses every file that exists; missing files are simply empty, as for ssh. */
export async function readKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const all: KnownHostEntry[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = await readFile(f, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    all.push(...parseKnownHosts(text, f));
  }
  return all;
}

/** Appends one line, creating the file (and ~/.ssh, mode 700) when missing. */
export async function appendKnownHost(file: string, line: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const existing = await readFile(file, 'utf8');
    if (existing.length > 0 && !existing.endsWith('\n')) prefix = '\n';
  } catch {
    // missing file: created by appendFile
  }
  await appendFile(file, `${prefix}${line}\n`, { mode: 0o600 });
}
