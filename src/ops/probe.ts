/**
 * Small one-round-trip probe scripts (doctor, import), framed like observe's output: a magic line, then
 * `@@man8s <name> <rc> <outBytes> <errBytes>` sections. Byte lengths, not delimiters, so any output is safe.
 */
import { UserError } from '../errors.js';
import type { Connection } from '../remote/transport.js';

/** Shell prelude defining `sec NAME CMD…` (runs CMD, prints one framed section). */
export const SECTION_SH = String.raw`
T=$(mktemp -d 2>/dev/null || mktemp -d -t man8s.XXXXXX) || { echo "man8s: mktemp failed" >&2; exit 70; }
trap 'rm -rf "$T"' EXIT
sec() {
  n=$1; shift
  "$@" >"$T/o" 2>"$T/e"; rc=$?
  printf '@@man8s %s %s %s %s\n' "$n" "$rc" "$(wc -c <"$T/o" | tr -d ' ')" "$(wc -c <"$T/e" | tr -d ' ')"
  cat "$T/o" "$T/e"
}
`;

export interface ProbeSection {
  rc: number;
  out: string;
  err: string;
}

/** Pure: framed output → sections by name. */
export function parseFramed(buf: Buffer, magic: string): Map<string, ProbeSection> {
  const head = Buffer.from(`${magic}\n`);
  const start = buf.indexOf(head);
  if (start < 0) throw new Error(`no "${magic}" header in the output`);
  let pos = start + head.length;
  const out = new Map<string, ProbeSection>();
  while (pos < buf.length) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`output truncated at byte ${pos}`);
    const m = /^@@man8s (\S+) (\d+) (\d+) (\d+)$/.exec(buf.subarray(pos, nl).toString('latin1'));
    if (!m) throw new Error(`bad section header at byte ${pos}`);
    const o = Number(m[3]);
    const e = Number(m[4]);
    const body = nl + 1;
    if (body + o + e > buf.length) throw new Error(`output truncated in section ${m[1]}`);
    out.set(m[1]!, {
      rc: Number(m[2]),
      out: buf.subarray(body, body + o).toString('utf8'),
      err: buf.subarray(body + o, body + o + e).toString('utf8'),
    });
    pos = body + o + e;
  }
  return out;
}

/** `key=value` lines. */
export function keyValues(text: string): Record<string, string> {
  const kv: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) kv[line.slice(0, i)] = line.slice(i + 1);
  }
  return kv;
}

/** Runs a probe script (stdin, `sh -s -- args`) and parses its sections; what it is for names the errors. */
export async function runProbe(conn: Connection, script: string, magic: string, args: string[], what: string): Promise<Map<string, ProbeSection>> {
  const r = await conn.runRaw(['sh', '-s', '--', ...args], { stdin: script, timeoutMs: 120_000 });
  try {
    return parseFramed(r.stdout, magic);
  } catch (err) {
    const why = r.stderr.toString('utf8').trim().split('\n').slice(-3).join(' ') || (err as Error).message;
    throw new UserError(`${conn.host}: ${what} failed (${why}); the host needs a POSIX sh and coreutils; run again with --verbose`);
  }
}
