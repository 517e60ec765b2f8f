/**
 * Where man8s keeps its own files on a host.
 *
 * MAN8S-SPEC §1: storage_path holds exactly the six type folders and nothing else, so man8s's state
 * (rendered compose files, the previous versions kept for rollback, rsync backups) lives in a sibling
 * folder, `<storage_path>-state` (`/var/lib/man8s-state` by default):
 * - a sibling of storage_path is on the same filesystem (often the same btrfs), so rsync's --backup-dir
 *   keeps previous file versions by rename, not by copy;
 * - it is state man8s writes and reads back, which is what /var/lib is for (FHS), unlike /etc;
 * - it survives reboots, unlike /run (the lock lives in /run on purpose: a reboot ends every holder).
 */
import { posix } from 'node:path';

export const LOCK_DIR = '/run/lock/man8s';

/** File name, beside a container's compose.yaml, of the files-hash it was last started with (observe reads it). */
export const STARTED_FILES = 'started-files-hash';

export interface HostPaths {
  storage: string;
  state: string;
  /** Compose file of one container: `<state>/compose/<name>/compose.yaml`. */
  compose(name: string): string;
  /** The previous compose file, kept for rollback. */
  composePrevious(name: string): string;
  /**
   * The files-hash the container was last (re)started with, written by the command that started it:
   * files synced by a deploy that stopped before the restart differ from it, so the next plan restarts.
   */
  startedFiles(name: string): string;
  /** Root of rsync backup folders, one per deploy. */
  backups: string;
  backup(deployId: string): string;
  lock: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Container names become path components and rsync filter patterns: refuse anything else early. */
export function assertSafeName(name: string, what = 'container name'): void {
  if (!NAME.test(name) || name === '.' || name === '..') throw new Error(`unsafe ${what}: ${JSON.stringify(name)}`);
}

export function hostPaths(storagePath: string): HostPaths {
  const storage = posix.normalize(storagePath).replace(/\/+$/, '') || '/';
  if (!storage.startsWith('/') || storage === '/') throw new Error(`storage_path must be an absolute folder, got ${storagePath}`);
  const state = `${storage}-state`;
  return {
    storage,
    state,
    compose: (name) => (assertSafeName(name), `${state}/compose/${name}/compose.yaml`),
    composePrevious: (name) => (assertSafeName(name), `${state}/compose/${name}/compose.previous.yaml`),
    startedFiles: (name) => (assertSafeName(name), `${state}/compose/${name}/${STARTED_FILES}`),
    backups: `${state}/backup`,
    backup: (id) => (assertSafeName(id, 'backup id'), `${state}/backup/${id}`),
    lock: LOCK_DIR,
  };
}
