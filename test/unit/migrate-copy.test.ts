/** The argv a direct copy runs on the source host, the reach check before it, and its refusal message. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { directCopyArgv, directCopyCommand, directReachError, reachTargetArgv } from '../../src/migrate/copy.js';
import { quoteArgv } from '../../src/remote/quote.js';

const target = { alias: '10.0.0.2', port: 2222, user: 'root', userKnownHostsFiles: ['/var/lib/man8s-state/migrate/app.known_hosts'], globalKnownHostsFiles: ['/dev/null'], connectTimeout: 15 };

describe('direct copy', () => {
  it('runs rsync in its own process group, records the group id, and waits for it', () => {
    const rsync = directCopyArgv({ fromRoot: '/var/lib/man8s', toRoot: '/var/lib/man8s', rels: ['data/app'] }, target);
    const argv = directCopyCommand('/var/lib/man8s-state/migrate/app.rsync.pid', rsync);
    assert.deepEqual(argv.slice(0, 6), [
      'setsid',
      '--wait',
      'sh',
      '-c',
      'p=$1; shift; mkdir -p "$(dirname "$p")"; echo $$ >"$p"; exec "$@"',
      'man8s-copy',
    ]);
    assert.equal(argv[6], '/var/lib/man8s-state/migrate/app.rsync.pid');
    assert.deepEqual(argv.slice(7), rsync);
    // The rsync argv goes through the one quoting function untouched: the -e value stays one word.
    assert.match(quoteArgv(argv), / -e 'ssh -p 2222 -l root -o UserKnownHostsFile=\/var\/lib\/man8s-state\/migrate\/app.known_hosts /);
  });

  it('proves the reach with the very ssh options of the copy: pinned key, no prompts', () => {
    assert.deepEqual(reachTargetArgv(target), [
      'ssh',
      '-p',
      '2222',
      '-l',
      'root',
      '-o',
      'UserKnownHostsFile=/var/lib/man8s-state/migrate/app.known_hosts',
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'ConnectTimeout=15',
      '-o',
      'ServerAliveInterval=15',
      '-o',
      'ServerAliveCountMax=3',
      '10.0.0.2',
      'true',
    ]);
  });

  it('refuses a source that cannot reach the target: ssh\'s last word and both ways out', () => {
    const stderr = "Warning: Permanently added '10.0.0.2' (ED25519) to the list of known hosts.\nroot@10.0.0.2: Permission denied (publickey).\n";
    const err = directReachError('relink', 'lothric', target, { code: 255, stderr });
    assert.equal(
      err.message,
      'relink cannot ssh to lothric (root@10.0.0.2 port 2222) for the direct copy: root@10.0.0.2: Permission denied (publickey).; ' +
        "give relink's root a key that lothric accepts (its authorized_keys), or copy through this machine with --via-local",
    );
    assert.match(directReachError('relink', 'lothric', target, { code: 255, stderr: '' }).message, /for the direct copy: ssh exit 255;/);
  });
});
