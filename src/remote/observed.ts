/**
 * What a host really has, as one observe round trip found it (src/remote/observe.ts). Plain data,
 * JSON-serialisable (records, not Maps) so `plan --json` can print it as is.
 */
import type { Engine, MountType, SyncedType, TreeEntry } from '../fleet/model.js';
import type { ComposeFlavor } from './engine.js';
import type { LockResponse } from './lock.js';

export interface ObservedContainer {
  name: string;
  id: string;
  /** created, running, paused, restarting, removing, exited, dead (engine's State.Status). */
  state: string;
  running: boolean;
  exitCode?: number;
  startedAt?: string;
  finishedAt?: string;
  /** Health status when the image has a healthcheck (starting, healthy, unhealthy). */
  health?: string;
  /** The image reference the container was created from. */
  image: string;
  /** The image id the container runs (docker: sha256:…; nerdctl reports the reference here, see imageIds). */
  imageId: string;
  labels: Record<string, string>;
  created: string;
  /** Carries io.man8s.managed=true. */
  managed: boolean;
}

export interface ObservedEngine {
  kind: Engine;
  /** The engine CLI exists and answered. */
  present: boolean;
  version?: string;
  compose?: ComposeFlavor;
  composeVersion?: string;
  /** Why the engine could not be queried (stderr), when it could not. */
  error?: string;
}

export interface Observed {
  /** The host's own hostname (uname -n), for messages. */
  hostname: string;
  /** Host clock, epoch seconds, when observed. */
  time: number;
  storage: {
    path: string;
    exists: boolean;
    /** Which of the six type folders exist. */
    folders: Record<MountType, boolean>;
    /** Anything else directly under storage_path (MAN8S-SPEC §1 says there should be nothing). */
    extras: string[];
  };
  /**
   * conf and plugin trees per container folder name: entries relative to `<type>/<name>/` (the folder
   * itself is not listed), sorted by path. Files have sha256 and size; symlinks their target.
   */
  trees: Record<SyncedType, Record<string, TreeEntry[]>>;
  /** Entries directly under conf/ or plugin/ that are not folders (not a container). */
  strayTreeEntries: string[];
  engine: ObservedEngine;
  /** Containers labelled io.man8s.managed=true. */
  containers: ObservedContainer[];
  /** Containers named like a conf folder but without the label (made by hand or by mbctl). */
  unlabeled: ObservedContainer[];
  /** Image reference → id on the host now, for every image a Man8S container uses. */
  imageIds: Record<string, string>;
  ygg: { present: boolean; address?: string; error?: string };
  lock: LockResponse;
  /** Free and total bytes of the filesystem holding storage_path. */
  disk?: { availableBytes: number; totalBytes: number };
  /** sha256 of each container's current compose file under the state folder, by container name. */
  composeFiles: Record<string, string>;
  /**
   * The files-hash each container was last (re)started with by man8s (paths.startedFiles), by name.
   * Absent for containers man8s has not started since it began recording this.
   */
  startedFiles?: Record<string, string>;
  /** Problems found while observing that are not fatal (unparsable section, engine error…). */
  warnings: string[];
}
