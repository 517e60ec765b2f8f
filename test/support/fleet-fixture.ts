import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadFleetSync } from '../../src/fleet/load.js';
import type { LoadResult } from '../../src/fleet/load.js';
import { formatDiagnostic } from '../../src/fleet/model.js';

/** One path of a fixture: file content, a symlink, an empty folder, or a file with a mode. */
export type FixtureEntry = string | { symlink: string } | { dir: true } | { content: string; mode: number };

/** A valid host.yaml: the guide's relink address. */
export const HOST_YAML = 'yggaddr: 200:7547:78fb:902a:9a09:9bff:f966:89a7\n';
export const OTHER_HOST_YAML = 'yggaddr: 200:1111:2222:3333:4444:5555:6666:7777\n';

/**
 * Writes a fixture repo into a fresh temp dir (outside any git repo, so the dir is the repo root) and
 * removes it when the test ends. Keys are paths relative to the repo root, e.g. `hosts/relink/host.yaml`.
 */
export function makeRepo(t: TestContext, files: Record<string, FixtureEntry>): string {
  const dir = mkdtempSync(join(tmpdir(), 'man8s-fixture-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeEntries(dir, files);
  return dir;
}

export function writeEntries(dir: string, files: Record<string, FixtureEntry>): void {
  for (const [path, entry] of Object.entries(files)) {
    const abs = join(dir, path);
    if (typeof entry === 'object' && 'dir' in entry) {
      mkdirSync(abs, { recursive: true });
      continue;
    }
    mkdirSync(dirname(abs), { recursive: true });
    if (typeof entry === 'string') writeFileSync(abs, entry);
    else if ('symlink' in entry) symlinkSync(entry.symlink, abs);
    else {
      writeFileSync(abs, entry.content);
      chmodSync(abs, entry.mode);
    }
  }
}

/** Loads a fixture repo as `man8s` run from its root would (paths in messages relative to it). */
export function loadRepo(dir: string, fleet?: string): LoadResult {
  return loadFleetSync({ cwd: dir, fleet });
}

/** The loader's diagnostics of a fixture as `file:line:col: message` lines. */
export function diagnosticsOf(t: TestContext, files: Record<string, FixtureEntry>): string[] {
  return loadRepo(makeRepo(t, files)).diagnostics.map(formatDiagnostic);
}

export const APP_FILE = 'hosts/relink/conf/app/container.yaml';
export const HOST_FILE = 'hosts/relink/host.yaml';

/** Diagnostics of a one-host fleet whose only container, `app`, has this container.yaml. */
export function containerDiagnostics(t: TestContext, containerYaml: string, extra: Record<string, FixtureEntry> = {}): string[] {
  return diagnosticsOf(t, { [HOST_FILE]: HOST_YAML, [APP_FILE]: containerYaml, ...extra });
}

/** Diagnostics of a one-host fleet with this host.yaml (and no containers). */
export function hostDiagnostics(t: TestContext, hostYaml: string, extra: Record<string, FixtureEntry> = {}): string[] {
  return diagnosticsOf(t, { [HOST_FILE]: hostYaml, ...extra });
}
