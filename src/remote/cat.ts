/**
 * Reads a few files from a host in ONE remote command, for the unified diffs a plan shows (the host's
 * version of each changed config file, the compose file a re-create replaces). Files over `maxBytes` are
 * reported by size only: a plan is for reading, not for shipping large files.
 *
 * Output per path, in order: `F <size>\n<bytes>`, `B <size>\n` (too big) or `M\n` (missing / not a file).
 */
import type { RemoteCommand } from './transport.js';

const CAT_SH = String.raw`
max=$1; shift
for f; do
  if [ -f "$f" ] && [ ! -L "$f" ]; then
    s=$(wc -c <"$f" | tr -d ' ')
    if [ "$s" -le "$max" ]; then printf 'F %s\n' "$s"; cat "$f"; else printf 'B %s\n' "$s"; fi
  else
    printf 'M\n'
  fi
done
`;

export function catFilesCommand(paths: readonly string[], maxBytes = 256 * 1024): RemoteCommand {
  return { argv: ['sh', '-c', CAT_SH, 'man8s-cat', String(maxBytes), ...paths] };
}

export type RemoteFile = { kind: 'file'; content: Buffer } | { kind: 'too-big'; size: number } | { kind: 'missing' };

export function parseCatOutput(out: Buffer, paths: readonly string[]): Map<string, RemoteFile> {
  const files = new Map<string, RemoteFile>();
  let at = 0;
  for (const path of paths) {
    const nl = out.indexOf(0x0a, at);
    if (nl < 0) throw new Error(`cat output ends before ${path}`);
    const header = out.subarray(at, nl).toString('latin1');
    at = nl + 1;
    const m = /^([FBM])(?: (\d+))?$/.exec(header);
    if (!m) throw new Error(`unexpected cat header ${JSON.stringify(header)} for ${path}`);
    if (m[1] === 'M') files.set(path, { kind: 'missing' });
    else if (m[1] === 'B') files.set(path, { kind: 'too-big', size: Number(m[2]) });
    else {
      const size = Number(m[2]);
      files.set(path, { kind: 'file', content: out.subarray(at, at + size) });
      at += size;
    }
  }
  return files;
}
