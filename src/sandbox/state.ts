/**
 * The state file (.man8s/sandbox/state.json) records what `up` created, written before each step so
 * that `down` can undo a crashed `up` too. It is the sandbox's private bookkeeping; what other man8s
 * commands read is the overlay (overlay.ts).
 */
import { readFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export interface HostState {
  name: string;
  /** 1-based position; fixes the host's address and link names. */
  index: number;
  netns: string;
  address: string;
  /** Process that holds the host's private mount (and UTS) namespace open. */
  keeperPid?: number;
  sshdPid?: number;
  dockerdPid?: number;
  yggdrasilPid?: number;
  yggaddr?: string;
  /** The host's routed ygg /64, e.g. 300:7547:78fb:902a::/64. */
  yggsubnet?: string;
}

export interface SandboxState {
  version: 1;
  repoRoot: string;
  stateDir: string;
  phase: 'starting' | 'up';
  startedAt: string;
  /** Seconds `up` took, once it finished. */
  upSeconds?: number;
  /** Mount points `up` had to create on the machine's filesystem (removed by `down` when empty). */
  createdMountpoints: string[];
  hosts: HostState[];
}

export function readState(file: string): SandboxState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as SandboxState;
    return s.version === 1 && Array.isArray(s.hosts) ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Atomic write: a crash never leaves a half-written state that `down` cannot read. */
export function writeJsonAtomic(file: string, value: unknown, mode = 0o644): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode });
  renameSync(tmp, file);
}

export function writeState(file: string, state: SandboxState): void {
  writeJsonAtomic(file, state);
}
